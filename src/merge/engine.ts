/**
 * The merge executor: opens the inputs, plans, then streams tensor by tensor into a sharded
 * safetensors folder (or a GGUF file through formats/convert). At most `threads + 2` output
 * tensors are in flight (their inputs plus one result each), so memory does not grow with model
 * size. The output folder appears complete or not at all.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeDirAtomic } from "../core/atomic.js";
import { ConfigError, InputFileError } from "../core/errors.js";
import { f32ToBf16, f32ToF16 } from "../core/half.js";
import type { ChunkResult, StoredDType } from "./chunked.js";
import { silentProgress, type Progress } from "../core/progress.js";
import { elementCount } from "../core/tensor.js";
import { convertHfToGguf } from "../formats/convert/hf-to-gguf.js";
import { TOKENIZER_FILES } from "../formats/hf/config.js";
import type { MergeConfig, ModelRef } from "../formats/mergekit-config.js";
import { parseMergeConfig } from "./config.js";
import { writeSafetensorsSharded } from "../formats/safetensors/index.js";
import { closeModels, openModels, refuseOutputOverInputs, type OpenedModel } from "./inputs.js";
import { MethodError } from "./methods/types.js";
import { planMerge, tensorSeed, type MergePlan, type TensorTask } from "./plan.js";
import { workerPool, type MethodRunner } from "./pool.js";
import { BufferPool } from "../core/buffer-pool.js";
import { permutation, permuteEmbeddings, readTokenizerJson, unionTokenizerJson, unionVocab, vocabSize, type Vocab } from "./tokenizer.js";
import { copyFileIfPresent } from "../core/files.js";
import { readOptionalJsonObject } from "../core/json-file.js";

export interface MergeOptions {
  /** The YAML config: its text, or an already parsed config. */
  config: string | MergeConfig;
  /** Name of the config file for messages; relative model paths resolve against `baseDir`. */
  configName?: string;
  baseDir?: string;
  outDir: string;
  seed?: number;
  threads?: number;
  /** Start a new shard past this many bytes (default 5e9, mergekit's default). */
  maxShardBytes?: number;
  outFormat?: "hf" | "gguf";
  /**
   * Merge every tensor as whole float32 arrays, never in chunks on stored bytes (same output, more
   * memory): the reference the chunked path is tested and benchmarked against.
   */
  inMemory?: boolean;
  /** Validate and plan only; read no tensor data and write nothing. */
  dryRun?: boolean;
  /** Where a GGUF output's intermediate Hugging Face folder goes (default: the system temp folder). */
  scratchDir?: string;
  progress?: Progress;
}

export interface MergeReport {
  method: string;
  outDir: string;
  tensors: number;
  layers: number;
  outputBytes: number;
  inputBytesRead: number;
  seconds: number;
  files: string[];
  warnings: string[];
  dryRun: boolean;
}

interface TokenizerPlan {
  vocab: Vocab;
  rows: number;
  perModel: Map<string, Vocab>;
  /** tokenizer.json to write (union), or the folder to copy the tokenizer from. */
  json?: Record<string, unknown>;
  copyFrom: string;
}

export function modelRefs(config: MergeConfig): ModelRef[] {
  const refs: ModelRef[] = [];
  if (config.baseModel) refs.push(config.baseModel);
  for (const m of config.models ?? []) refs.push(m.model);
  for (const s of config.slices ?? []) {
    if (s.baseModel) refs.push(s.baseModel);
    for (const src of s.sources) refs.push(src.model);
  }
  if (config.tokenizerSource && typeof config.tokenizerSource === "object") refs.push(config.tokenizerSource);
  return refs;
}

export async function runMerge(options: MergeOptions): Promise<MergeReport> {
  const started = Date.now();
  const progress = options.progress ?? silentProgress;
  const warnings: string[] = [];
  let config: MergeConfig;
  if (typeof options.config === "string") {
    const parsed = parseMergeConfig(options.config, options.configName);
    config = parsed.config;
    warnings.push(...parsed.warnings);
  } else config = options.config;
  const baseDir = options.baseDir ?? process.cwd();
  await refuseOutputOverInputs(options.outDir, modelRefs(config), baseDir);
  const models = await openModels(modelRefs(config), baseDir);
  try {
    const listings = new Map([...models].map(([k, m]) => [k, { tensors: m.source.list() }]));
    const tokenizer = config.tokenizerSource ? await planTokenizer(config, models) : undefined;
    const { plan, problems } = planMerge(config, listings, tokenizer?.rows);
    if (!plan) throw new ConfigError(problems, options.configName);
    warnings.push(...plan.warnings);
    const outputBytes = plan.tasks.reduce((s, t) => s + elementCount(t.shape) * (t.dtype === "F32" ? 4 : 2), 0);
    const report: MergeReport = {
      method: plan.method.name, outDir: options.outDir, tensors: plan.tasks.length, layers: plan.layers,
      outputBytes, inputBytesRead: 0, seconds: 0, files: [], warnings, dryRun: Boolean(options.dryRun),
    };
    if (options.dryRun) {
      report.seconds = (Date.now() - started) / 1000;
      return report;
    }
    const runner = workerPool(options.threads ?? 1);
    try {
      const write = async (dir: string) => {
        const counters = { read: 0 };
        const produce = streamTasks(plan, models, tokenizer, options.seed ?? 0, options.threads ?? 1, runner, counters, progress, Boolean(options.inMemory), new BufferPool());
        const result = await writeSafetensorsSharded(dir, plan.tasks.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })), produce, {
          maxShardBytes: options.maxShardBytes ?? 5e9,
          metadata: { format: "pt", "cogen.merge_method": plan.method.name },
        });
        report.inputBytesRead = counters.read;
        await writeSidecars(dir, config, plan, models, tokenizer);
        return result.files.map((f) => path.basename(f));
      };
      report.files = await writeDirAtomic(options.outDir, async (tmp) => {
        if (options.outFormat !== "gguf") return [...(await write(tmp)), "config.json", "README.md"];
        const hfDir = await fs.mkdtemp(path.join(options.scratchDir ?? os.tmpdir(), "cogen-merge-hf-"));
        try {
          await write(hfDir);
          await convertHfToGguf(hfDir, path.join(tmp, "model.gguf"), { name: path.basename(options.outDir) });
          await fs.copyFile(path.join(hfDir, "README.md"), path.join(tmp, "README.md"));
          return ["model.gguf", "README.md"];
        } finally {
          await fs.rm(hfDir, { recursive: true, force: true });
        }
      });
    } finally {
      await runner.close();
    }
    report.seconds = (Date.now() - started) / 1000;
    return report;
  } finally {
    await closeModels(models);
  }
}

/**
 * Tasks started beyond one per thread: their reads overlap the current task's compute and the
 * writer. Peak memory is bounded by `threads + LOOKAHEAD` tasks' tensors.
 */
const LOOKAHEAD = 2;

function streamTasks(
  plan: MergePlan,
  models: Map<string, OpenedModel>,
  tokenizer: TokenizerPlan | undefined,
  seed: number,
  threads: number,
  runner: MethodRunner,
  counters: { read: number },
  progress: Progress,
  inMemory: boolean,
  buffers: BufferPool,
) {
  const window = Math.max(1, threads) + LOOKAHEAD;
  const inFlight = new Map<number, Promise<TaskBytes>>();
  const total = plan.tasks.reduce((s, t) => s + (t.inputs.length + (t.base ? 1 : 0)) * elementCount(t.shape), 0);
  progress.start(`merge (${plan.method.name})`, total, "weights");
  const start = (i: number) => {
    if (i >= plan.tasks.length || inFlight.has(i)) return;
    const p = computeTask(plan, plan.tasks[i], models, tokenizer, seed, runner, counters, inMemory, buffers).then((done) => {
      progress.tick((plan.tasks[i].inputs.length + (plan.tasks[i].base ? 1 : 0)) * elementCount(plan.tasks[i].shape));
      return done;
    });
    // Read ahead: a failure surfaces when this task is awaited; until then it must not count
    // as an unhandled rejection.
    p.catch(() => undefined);
    inFlight.set(i, p);
  };
  let written: Uint8Array | undefined;
  return async (_info: unknown, index: number): Promise<Uint8Array> => {
    // The writer asks for a tensor only after writing the one before: its buffer is free again.
    if (written) buffers.give(written);
    written = undefined;
    for (let j = index; j < index + window; j++) start(j);
    const result = await inFlight.get(index)!;
    inFlight.delete(index);
    if (result.pooled) written = result.bytes;
    if (index === plan.tasks.length - 1) progress.done();
    return result.bytes;
  };
}

/** A task's output bytes; `pooled` when they are a buffer from the pool, to give back once written. */
interface TaskBytes {
  bytes: Uint8Array;
  pooled: boolean;
}

async function readChecked(model: OpenedModel, tensor: string, counters: { read: number }): Promise<Float32Array> {
  const info = model.source.info(tensor)!;
  let data = await model.source.readF32(tensor);
  counters.read += info.byteLength;
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== data[i]) throw new InputFileError(model.source.path, `tensor ${tensor} contains NaN (at element ${i})`);
  }
  if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) data = data.slice();
  return data;
}

async function computeTask(
  plan: MergePlan,
  task: TensorTask,
  models: Map<string, OpenedModel>,
  tokenizer: TokenizerPlan | undefined,
  seed: number,
  runner: MethodRunner,
  counters: { read: number },
  inMemory: boolean,
  buffers: BufferPool,
): Promise<TaskBytes> {
  const all = [...task.inputs, ...(task.base ? [task.base] : [])];
  const chunkable = !inMemory && (plan.method.elementwise || plan.method.taskVector) && !(task.embed && tokenizer) &&
    all.every((inp) => {
      const info = models.get(inp.model)!.source.info(inp.tensor)!;
      return CHUNK_DTYPES.has(info.dtype) && elementCount(info.shape) === elementCount(task.shape);
    });
  if (chunkable) return { bytes: await computeInChunks(plan, task, all, models, seed, runner, counters, buffers), pooled: true };
  let data = await Promise.all(all.map((inp) => readChecked(models.get(inp.model)!, inp.tensor, counters)));
  const n = elementCount(task.shape);
  if (task.embed && task.shape.length === 2) {
    const hidden = task.shape[1];
    if (tokenizer) {
      const perms = all.map((inp) => {
        const rows = models.get(inp.model)!.source.info(inp.tensor)!.shape[0];
        return permutation(tokenizer.vocab, tokenizer.perModel.get(inp.model)!, rows);
      });
      data = permuteEmbeddings(data, perms, hidden, task.shape[0], task.base ? all.length - 1 : undefined);
    } else {
      data = data.map((d) => (d.length === n ? d : d.slice(0, n)));
    }
  }
  let out: Float32Array;
  try {
    out = await runner.run({
      method: plan.method.name,
      tensors: data.slice(0, task.inputs.length),
      ...(task.base ? { base: data[task.inputs.length] } : {}),
      modelParams: task.modelParams,
      global: task.global,
      shape: task.shape,
      seed: tensorSeed(seed, task.name),
    });
  } catch (e) {
    if (e instanceof MethodError) throw new ConfigError([`${task.name}: ${e.message}`]);
    throw e;
  }
  if (task.dtype === "F32") return { bytes: new Uint8Array(out.buffer, out.byteOffset, out.byteLength), pooled: false };
  const half = task.dtype === "BF16" ? f32ToBf16(out) : f32ToF16(out);
  return { bytes: new Uint8Array(half.buffer, half.byteOffset, half.byteLength), pooled: false };
}

async function planTokenizer(config: MergeConfig, models: Map<string, OpenedModel>): Promise<TokenizerPlan> {
  const perModel = new Map<string, Vocab>();
  const jsons = new Map<string, Record<string, unknown>>();
  const problems: string[] = [];
  for (const [key, m] of models) {
    try {
      const { json, vocab } = await readTokenizerJson(m.dir);
      perModel.set(key, vocab);
      jsons.set(key, json);
    } catch (e) {
      if (!InputFileError.isInstance(e)) throw e;
      problems.push(e.message);
    }
  }
  if (problems.length) throw new ConfigError(problems, "tokenizer_source");
  const source = config.tokenizerSource!;
  const firstKey = config.baseModel?.text ?? [...models.keys()][0];
  if (source === "union") {
    const others = [...perModel.entries()].filter(([k]) => k !== firstKey).map(([, v]) => v);
    const { vocab, added } = unionVocab(perModel.get(firstKey)!, others);
    return { vocab, rows: vocabSize(vocab), perModel, json: unionTokenizerJson(jsons.get(firstKey)!, vocab, added), copyFrom: models.get(firstKey)!.dir };
  }
  const key = source === "base" ? firstKey : source.text;
  const vocab = perModel.get(key)!;
  return { vocab, rows: vocabSize(vocab), perModel, copyFrom: models.get(key)!.dir };
}

const CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

async function writeSidecars(dir: string, config: MergeConfig, plan: MergePlan, models: Map<string, OpenedModel>, tokenizer: TokenizerPlan | undefined): Promise<void> {
  const reference = models.get(plan.reference)!;
  const cfg: Record<string, unknown> = structuredClone(reference.configJson ?? {});
  if (plan.layers > 0) cfg.num_hidden_layers = plan.layers;
  const embed = plan.tasks.find((t) => t.embed && t.shape.length === 2);
  if (embed) cfg.vocab_size = embed.shape[0];
  const outDtype = config.outDtype ?? config.dtype;
  if (outDtype) cfg.torch_dtype = outDtype;
  await fs.writeFile(path.join(dir, "config.json"), JSON.stringify(cfg, null, 2) + "\n");
  const from = tokenizer?.copyFrom ?? reference.dir;
  // A tokenizer file absent in the source is not copied; any other copy failure fails the merge.
  for (const name of TOKENIZER_FILES) await copyFileIfPresent(path.join(from, name), path.join(dir, name));
  if (tokenizer?.json) await fs.writeFile(path.join(dir, "tokenizer.json"), JSON.stringify(tokenizer.json));
  if (config.chatTemplate) {
    const file = path.join(dir, "tokenizer_config.json");
    const tc = (await readOptionalJsonObject(file)) ?? {};
    tc.chat_template = config.chatTemplate === "chatml" ? CHATML : config.chatTemplate;
    await fs.writeFile(file, JSON.stringify(tc, null, 2) + "\n");
  }
  const readme = [
    "---", "library_name: transformers", "tags: [merge, cogen]", "---", "",
    "# Merged model", "",
    `Made with \`cogen merge\` using the **${plan.method.name}** method (${plan.method.summary}).`, "",
    "## Models", "", ...[...models.keys()].map((k) => `- ${k}`), "",
    "## Configuration", "", "```yaml", config.text.trimEnd(), "```", "",
  ].join("\n");
  await fs.writeFile(path.join(dir, "README.md"), readme);
}

const CHUNK_DTYPES = new Set(["F32", "F16", "BF16"]);

/**
 * Elementwise and task-vector methods on stored bytes (chunked.ts, task-vector-chunks.ts): holds only the inputs' stored bytes and the
 * output's, never float32 copies of whole tensors. Runs in a worker when there are threads.
 */
async function computeInChunks(
  plan: MergePlan,
  task: TensorTask,
  all: { model: string; tensor: string }[],
  models: Map<string, OpenedModel>,
  seed: number,
  runner: MethodRunner,
  counters: { read: number },
  buffers: BufferPool,
): Promise<Uint8Array> {
  const raws = await Promise.all(all.map(async (inp) => {
    const source = models.get(inp.model)!.source;
    const info = source.info(inp.tensor)!;
    const into = buffers.take(info.byteLength);
    let raw = await source.readRaw(inp.tensor, into);
    const pooled = raw.buffer === into.buffer;
    if (!pooled) {
      // The source made its own array (a LoRA-merged weight): ours goes back unused, and a view
      // into a larger buffer is copied so that moving it to a worker moves nothing else.
      buffers.give(into);
      if (raw.byteOffset !== 0 || raw.byteLength !== raw.buffer.byteLength) raw = raw.slice();
    }
    counters.read += info.byteLength;
    return { raw, dtype: info.dtype as StoredDType, pooled };
  }));
  const elements = elementCount(task.shape);
  let result: ChunkResult;
  try {
    const done = await runner.runChunks({
      method: plan.method.name, modelParams: task.modelParams, global: task.global, shape: task.shape, seed: tensorSeed(seed, task.name),
      raws: raws.map((r) => r.raw), dtypes: raws.map((r) => r.dtype), hasBase: Boolean(task.base), outDtype: task.dtype, elements,
      out: buffers.take(elements * (task.dtype === "F32" ? 4 : 2)),
    });
    result = done.result;
    // The runner hands back the inputs' arrays in order (a worker's are new objects, same buffers' size).
    done.raws.forEach((raw, m) => raws[m].pooled && buffers.give(raw));
  } catch (e) {
    if (e instanceof MethodError) throw new ConfigError([`${task.name}: ${e.message}`]);
    throw e;
  }
  if ("out" in result) return result.out;
  if ("nanInput" in result) {
    const inp = all[result.nanInput];
    throw new InputFileError(models.get(inp.model)!.source.path, `tensor ${inp.tensor} contains NaN or infinity (at element ${result.element})`);
  }
  throw new ConfigError([`${task.name}: ${plan.method.name} produced a non-finite value at element ${result.nanOutput}`]);
}
