/**
 * `cogen moe`: assemble same-base experts into one Mixtral-style mixture of experts, as
 * mergekit-moe does. Each expert keeps its whole feed-forward network (w1/w2/w3 = gate/down/up);
 * attention, norms and embeddings come from the base (mergekit-moe) or are the experts' mean
 * (Branch-Train-MiX); the routers are initialised from prompts (gates.ts). Everything is checked
 * before any tensor data is read; tensors are streamed one at a time (one read ahead); the output
 * folder appears complete or not at all.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeDirAtomic } from "../../core/atomic.js";
import { CogenError, ConfigError, InputFileError } from "../../core/errors.js";
import { f32ToBf16, f32ToF16 } from "../../core/half.js";
import { silentProgress, type Progress } from "../../core/progress.js";
import { Rng } from "../../core/rng.js";
import { BufferPool } from "../../core/buffer-pool.js";
import { prefetchInOrder } from "../../core/prefetch.js";
import { elementCount, type TensorSource } from "../../core/tensor.js";
import { convertHfToGguf } from "../../formats/convert/hf-to-gguf.js";
import { llamaConfigToJson, TOKENIZER_FILES, type LlamaConfig } from "../../formats/hf/config.js";
import { hfExpertName, type ExpertPart } from "../../formats/hf/llama-tensors.js";
import type { ModelRef, OutDType } from "../../formats/mergekit-config.js";
import { parseMoeConfig, type MoeConfig, type NonExpertSource } from "../../formats/moe-config.js";
import { LLAMA_CPP_MAX_EXPERTS } from "../../formats/gguf/llama-check.js";
import { decodeToF32, writeSafetensorsSharded } from "../../formats/safetensors/index.js";
import { closeModels, openModels, refuseOutputOverInputs, type OpenedModel } from "../../merge/inputs.js";
import { tensorSeed } from "../../merge/plan.js";
import { readBpeTokenizer } from "../../zoo/train/tokenize.js";
import { llamaTensorShapes } from "../../zoo/random-llama.js";
import { initialGates, type ExpertPromptTokens } from "./gates.js";
import { checkMoeInputs, nonExpertModules } from "./plan.js";
import { copyFileIfPresent } from "../../core/files.js";
import { readOptionalJsonObject } from "../../core/json-file.js";

export interface MoeBuildOptions {
  /** The mergekit-moe YAML: its text, or an already parsed config. */
  config: string | MoeConfig;
  /** Name of the config file for messages; relative model paths resolve against `baseDir`. */
  configName?: string;
  baseDir?: string;
  outDir: string;
  /** hf (default): a MixtralForCausalLM folder; gguf: OUT_DIR/model.gguf for llama.cpp. */
  outFormat?: "hf" | "gguf";
  /** Overrides the config's `cogen_non_expert`. */
  nonExpert?: NonExpertSource;
  /** Seed for random gates and expert noise. */
  seed?: number;
  maxShardBytes?: number;
  /**
   * Threads for the hidden-state gates' forward pass (default 1, the calling thread). More split
   * the prompts over worker threads: the same gates sooner, for a worker's memory each.
   */
  threads?: number;
  /** Check the config and every input; read no tensor data and write nothing. */
  dryRun?: boolean;
  progress?: Progress;
}

export interface MoeBuildReport {
  outDir: string;
  experts: number;
  expertsPerToken: number;
  gateMode: string;
  nonExpert: NonExpertSource;
  layers: number;
  tensors: number;
  outputBytes: number;
  inputBytesRead: number;
  /** Time spent initialising the routers (the base's forward pass for `hidden`). */
  gateSeconds: number;
  /** The process's CPU time over the same span (the forward pass is compute; the rest is I/O). */
  gateCpuSeconds: number;
  seconds: number;
  files: string[];
  warnings: string[];
  dryRun: boolean;
}

type OutTensorDType = "F32" | "F16" | "BF16";
const OUT_DTYPES: Record<OutDType, OutTensorDType> = { float32: "F32", float16: "F16", bfloat16: "BF16" };

/**
 * One output tensor: its name, shape, type and how to compute it. A tensor copied unchanged from
 * an input is read into `into` when given (a reused buffer) and that view returned.
 */
interface OutputTensor {
  name: string;
  shape: number[];
  dtype: OutTensorDType;
  compute: (into?: Uint8Array) => Promise<Uint8Array>;
}

/** Output tensors read ahead of the one being written (reads overlap the writes). */
const READ_AHEAD = 2;

/** The models a mixture reads: its base and every expert. */
export function moeModelRefs(config: MoeConfig): ModelRef[] {
  return [config.baseModel, ...config.experts.map((e) => e.model)];
}

export async function buildMoe(options: MoeBuildOptions): Promise<MoeBuildReport> {
  const started = Date.now();
  const progress = options.progress ?? silentProgress;
  const parsed = typeof options.config === "string" ? parseMoeConfig(options.config, options.configName) : options.config;
  const config: MoeConfig = { ...parsed, nonExpert: options.nonExpert ?? parsed.nonExpert };
  const baseDir = options.baseDir ?? process.cwd();
  const seed = options.seed ?? 0;
  const refs = moeModelRefs(config);
  await refuseOutputOverInputs(options.outDir, refs, baseDir);
  const models = await openModels(refs, baseDir);
  try {
    const problems: string[] = [];
    const warnings: string[] = [];
    const baseConfig = checkMoeInputs(config, models, baseDir, problems);
    if (options.outFormat === "gguf" && config.experts.length > LLAMA_CPP_MAX_EXPERTS) {
      problems.push(`${config.experts.length} experts: llama.cpp runs at most ${LLAMA_CPP_MAX_EXPERTS}`);
    }
    const base = models.get(config.baseModel.text)!;
    const prompts = baseConfig ? await tokenizePrompts(config, base, baseConfig, problems) : [];
    if (problems.length || !baseConfig) throw new ConfigError(problems, options.configName);
    if (config.nonExpert === "base") {
      for (const [i, e] of config.experts.entries()) {
        const touched = nonExpertModules(models.get(e.model.text)!.ref.lora ? await adapterConfig(baseDir, e.model.lora!) : undefined);
        if (touched.length) warnings.push(`experts[${i}] ${e.model.text}: its adapter also changes ${touched.join(", ")}; with non-expert weights from the base these changes are dropped (use cogen_non_expert: average to keep their mean)`);
      }
    }

    const outDtype = chooseDtype(config, base, baseConfig);
    const counters = { read: 0 };
    // The routers are computed after the dry-run exit; the plan reads them when their tensors are written.
    const routers: { gates?: Float32Array[] } = {};
    const tensors = planOutput(config, models, baseConfig, outDtype, seed, counters, () => routers.gates!);
    const outputBytes = tensors.reduce((s, t) => s + elementCount(t.shape) * (t.dtype === "F32" ? 4 : 2), 0);
    const report: MoeBuildReport = {
      outDir: options.outDir, experts: config.experts.length, expertsPerToken: config.expertsPerToken, gateMode: config.gateMode,
      nonExpert: config.nonExpert, layers: baseConfig.numLayers, tensors: tensors.length, outputBytes, inputBytesRead: 0,
      gateSeconds: 0, gateCpuSeconds: 0, seconds: 0, files: [], warnings, dryRun: Boolean(options.dryRun),
    };
    if (options.dryRun) {
      report.seconds = (Date.now() - started) / 1000;
      return report;
    }

    const gateStarted = Date.now();
    const gateCpu = process.cpuUsage();
    progress.start(`gates (${config.gateMode})`, 1, "step");
    const gates = await initialGates(config.gateMode, baseConfig, base.source, prompts, seed, options.threads ?? 1);
    routers.gates = gates;
    progress.done();
    report.gateSeconds = (Date.now() - gateStarted) / 1000;
    const cpu = process.cpuUsage(gateCpu);
    report.gateCpuSeconds = (cpu.user + cpu.system) / 1e6;
    warnings.push(...similarGates(gates, config.experts.length, baseConfig.hiddenSize));

    const moeConfig: LlamaConfig = {
      ...baseConfig, architecture: "MixtralForCausalLM", moe: { experts: config.experts.length, expertsPerToken: config.expertsPerToken },
      tieWordEmbeddings: !tensors.some((t) => t.name === "lm_head.weight"),
    };
    const write = async (dir: string): Promise<string[]> => {
      const result = await writeSafetensorsSharded(dir, tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })), streamTensors(tensors, progress), {
        maxShardBytes: options.maxShardBytes ?? 5e9,
        metadata: { format: "pt", "cogen.moe_gate_mode": config.gateMode },
      });
      await writeSidecars(dir, config, moeConfig, outDtype, base);
      return [...result.files.map((f) => path.basename(f)), "config.json", "README.md"];
    };
    report.files = await writeDirAtomic(options.outDir, async (tmp) => {
      if (options.outFormat !== "gguf") return write(tmp);
      // The GGUF is converted from the folder's config and tokenizer files and the tensors as
      // computed (outputSource), so no safetensors copy is written and read back.
      const hfDir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-moe-hf-"));
      try {
        await writeSidecars(hfDir, config, moeConfig, outDtype, base);
        const weights = outputSource(hfDir, tensors);
        await convertHfToGguf(hfDir, path.join(tmp, "model.gguf"), { name: path.basename(options.outDir), progress, weights });
        await fs.copyFile(path.join(hfDir, "README.md"), path.join(tmp, "README.md"));
        return ["model.gguf", "README.md"];
      } finally {
        await fs.rm(hfDir, { recursive: true, force: true });
      }
    });
    report.inputBytesRead = counters.read;
    report.seconds = (Date.now() - started) / 1000;
    return report;
  } finally {
    await closeModels(models);
  }
}

/** Each expert's prompts as the base tokenizer's ids, BOS first; too-long prompts are problems. */
async function tokenizePrompts(config: MoeConfig, base: OpenedModel, baseConfig: LlamaConfig, problems: string[]): Promise<ExpertPromptTokens[]> {
  if (config.gateMode === "random" || config.gateMode === "uniform_random") return config.experts.map(() => ({ positive: [], negative: [] }));
  let encode: (text: string) => number[];
  let bos: number | undefined;
  try {
    const tokenizer = await readBpeTokenizer(base.dir);
    encode = (text) => tokenizer.encode(text);
    bos = tokenizer.vocab.bosId ?? baseConfig.bosTokenId;
  } catch (e) {
    if (!(e instanceof CogenError)) throw e;
    problems.push(`gate_mode ${config.gateMode} tokenizes the prompts with the base model's tokenizer, which cogen cannot read: ${e.message}`);
    return [];
  }
  const limit = baseConfig.maxPositions;
  return config.experts.map((expert, i) => {
    const tokens = (list: string[], key: string) => list.map((text, j) => {
      const ids = [...(bos !== undefined ? [bos] : []), ...encode(text)];
      if (ids.length > limit) problems.push(`experts[${i}].${key}[${j}]: ${ids.length} tokens (BOS included), longer than the base model's context of ${limit} (max_position_embeddings)`);
      return ids;
    });
    return { positive: tokens(expert.positivePrompts, "positive_prompts"), negative: tokens(expert.negativePrompts, "negative_prompts") };
  });
}

async function adapterConfig(baseDir: string, loraPath: string): Promise<Record<string, unknown> | undefined> {
  // openModels has read this file already; reading it again can only fail if it changed since.
  return readOptionalJsonObject(path.join(path.resolve(baseDir, loraPath), "adapter_config.json"));
}

/** mergekit-moe's rule: the config's dtype, else the base's torch_dtype, else its stored type. */
function chooseDtype(config: MoeConfig, base: OpenedModel, baseConfig: LlamaConfig): OutTensorDType {
  if (config.dtype) return OUT_DTYPES[config.dtype];
  const torch = baseConfig.raw.torch_dtype;
  if (torch === "float32" || torch === "float16" || torch === "bfloat16") return OUT_DTYPES[torch];
  const stored = base.source.info("model.embed_tokens.weight")?.dtype;
  return stored === "F16" || stored === "BF16" ? stored : "F32";
}

function planOutput(
  config: MoeConfig,
  models: ReadonlyMap<string, OpenedModel>,
  baseConfig: LlamaConfig,
  dtype: OutTensorDType,
  seed: number,
  counters: { read: number },
  gates: () => Float32Array[],
): OutputTensor[] {
  const base = models.get(config.baseModel.text)!;
  const experts = config.experts.map((e) => models.get(e.model.text)!);
  const read = async (model: OpenedModel, name: string): Promise<Float32Array> => {
    const data = await model.source.readF32(name);
    counters.read += model.source.info(name)!.byteLength;
    for (let i = 0; i < data.length; i++) if (data[i] !== data[i]) throw new InputFileError(model.source.path, `tensor ${name} contains NaN (at element ${i})`);
    return data;
  };
  const copy = async (model: OpenedModel, name: string, into?: Uint8Array): Promise<Uint8Array> => {
    const info = model.source.info(name)!;
    if (info.dtype === dtype) {
      counters.read += info.byteLength;
      return model.source.readRaw(name, into);
    }
    return encode(await read(model, name), dtype);
  };
  const average = async (name: string): Promise<Uint8Array> => {
    const sum = await read(experts[0], name);
    const acc = sum.byteOffset === 0 && sum.byteLength === sum.buffer.byteLength ? sum : sum.slice();
    for (const m of experts.slice(1)) {
      const next = await read(m, name);
      for (let i = 0; i < acc.length; i++) acc[i] += next[i];
    }
    for (let i = 0; i < acc.length; i++) acc[i] /= experts.length;
    return encode(acc, dtype);
  };

  const out: OutputTensor[] = [];
  const tied = !base.source.info("lm_head.weight");
  const parts: [ExpertPart, string][] = [["gate", "gate_proj"], ["up", "up_proj"], ["down", "down_proj"]];
  for (const { name, shape } of llamaTensorShapes({ ...baseConfig, tieWordEmbeddings: tied })) {
    const mlp = /^model\.layers\.(\d+)\.mlp\.(gate|up|down)_proj\.weight$/.exec(name);
    if (!mlp) {
      out.push({ name, shape, dtype, compute: (into) => (config.nonExpert === "average" ? average(name) : copy(base, name, into)) });
      if (name.endsWith("post_attention_layernorm.weight")) {
        const layer = Number(/^model\.layers\.(\d+)\./.exec(name)![1]);
        out.push({ name: `model.layers.${layer}.block_sparse_moe.gate.weight`, shape: [experts.length, baseConfig.hiddenSize], dtype, compute: async () => encode(gates()[layer], dtype) });
      }
      continue;
    }
    if (mlp[2] !== "gate") continue; // all three parts are placed with the gate projection
    const layer = Number(mlp[1]);
    for (const [e, model] of experts.entries()) {
      for (const [part, hfPart] of parts) {
        const input = `model.layers.${layer}.mlp.${hfPart}.weight`;
        const expert = config.experts[e];
        const outName = hfExpertName(layer, e, part);
        const shapeOf = hfPart === "down_proj" ? [baseConfig.hiddenSize, baseConfig.intermediateSize] : [baseConfig.intermediateSize, baseConfig.hiddenSize];
        const scaled = expert.noiseScale !== undefined || (part === "down" && expert.residualScale !== undefined);
        out.push({
          name: outName, shape: shapeOf, dtype,
          compute: async (into) => {
            if (!scaled) return copy(model, input, into);
            const data = (await read(model, input)).slice();
            if (expert.noiseScale) {
              const rng = new Rng(tensorSeed(seed, outName));
              for (let i = 0; i < data.length; i++) data[i] += expert.noiseScale * rng.normal();
            }
            if (part === "down" && expert.residualScale !== undefined) for (let i = 0; i < data.length; i++) data[i] *= expert.residualScale;
            return encode(data, dtype);
          },
        });
      }
    }
  }
  return out;
}

function encode(data: Float32Array, dtype: OutTensorDType): Uint8Array {
  const typed = dtype === "F32" ? data : dtype === "BF16" ? f32ToBf16(data) : f32ToF16(data);
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}

/**
 * The writer asks for tensors in order; the next ones are read while the current one is written,
 * into buffers reused once their tensor is written.
 */
function streamTensors(tensors: OutputTensor[], progress: Progress) {
  const total = tensors.reduce((s, t) => s + elementCount(t.shape), 0);
  progress.start("moe", total, "weights");
  const pool = new BufferPool();
  const next = prefetchInOrder(tensors.length, READ_AHEAD, async (i) => {
    const into = pool.take(byteLength(tensors[i]));
    const bytes = await tensors[i].compute(into);
    const pooled = bytes.buffer === into.buffer;
    if (!pooled) pool.give(into);
    return { bytes, pooled };
  });
  let written: Uint8Array | undefined;
  return async (_info: unknown, index: number): Promise<Uint8Array> => {
    // The writer asks for a tensor only after writing the one before: its buffer is free again.
    if (written) pool.give(written);
    written = undefined;
    const { bytes, pooled } = await next(index);
    if (pooled) written = bytes;
    progress.tick(elementCount(tensors[index].shape));
    if (index === tensors.length - 1) progress.done();
    return bytes;
  };
}

function byteLength(t: OutputTensor): number {
  return elementCount(t.shape) * (t.dtype === "F32" ? 4 : 2);
}

/**
 * The output tensors as a source that lists and reads them as the written folder's safetensors
 * would, for converting to GGUF without a temporary safetensors copy. Each is computed when read.
 */
function outputSource(dir: string, tensors: OutputTensor[]): TensorSource {
  const infos = new Map(tensors.map((t) => [t.name, { info: { name: t.name, dtype: t.dtype, shape: [...t.shape], byteLength: byteLength(t) }, tensor: t }]));
  const entry = (name: string) => {
    const e = infos.get(name);
    if (!e) throw new Error(`${dir}: no output tensor named ${name}`);
    return e;
  };
  return {
    path: dir,
    list: () => [...infos.values()].map((e) => ({ ...e.info, shape: [...e.info.shape] })),
    info: (name) => {
      const e = infos.get(name);
      return e && { ...e.info, shape: [...e.info.shape] };
    },
    readRaw: (name, into) => entry(name).tensor.compute(into),
    readF32: async (name) => decodeToF32(entry(name).info.dtype, await entry(name).tensor.compute()),
    close: async () => undefined,
  };
}

/** Pairs of experts whose gate rows point the same way at some layer: their prompts do not tell them apart. */
function similarGates(gates: Float32Array[], experts: number, dim: number): string[] {
  const pairs = new Set<string>();
  for (const g of gates) {
    for (let a = 0; a < experts; a++) {
      for (let b = a + 1; b < experts; b++) {
        let dot = 0, na = 0, nb = 0;
        for (let i = 0; i < dim; i++) {
          dot += g[a * dim + i] * g[b * dim + i];
          na += g[a * dim + i] ** 2;
          nb += g[b * dim + i] ** 2;
        }
        if (dot / Math.sqrt(na * nb) > 0.999) pairs.add(`${a} and ${b}`);
      }
    }
  }
  return [...pairs].map((p) => `experts ${p} have almost the same gate rows (cosine > 0.999) at some layer: their prompts route alike, one of them will rarely be chosen`);
}

async function writeSidecars(dir: string, config: MoeConfig, moeConfig: LlamaConfig, dtype: OutTensorDType, base: OpenedModel): Promise<void> {
  const json: Record<string, unknown> = {
    ...llamaConfigToJson(moeConfig),
    router_aux_loss_coef: 0.001,
    output_router_logits: false,
    sliding_window: null,
    torch_dtype: { F32: "float32", F16: "float16", BF16: "bfloat16" }[dtype],
  };
  await fs.writeFile(path.join(dir, "config.json"), JSON.stringify(json, null, 2) + "\n");
  // A tokenizer file absent in the base is not copied; any other copy failure fails the build.
  for (const name of TOKENIZER_FILES) await copyFileIfPresent(path.join(base.dir, name), path.join(dir, name));
  const readme = [
    "---", "library_name: transformers", "tags: [moe, mixtral, cogen]", "---", "",
    "# Mixture of experts", "",
    `Made with \`cogen moe\`: ${config.experts.length} experts, ${config.expertsPerToken} used per token, gates from \`${config.gateMode}\`, ` +
    `attention, norms and embeddings ${config.nonExpert === "base" ? "from the base model" : "averaged over the experts"}.`, "",
    "## Models", "", `- base: ${config.baseModel.text}`, ...config.experts.map((e, i) => `- expert ${i}: ${e.model.text}`), "",
    "## Configuration", "", "```yaml", config.text.trimEnd(), "```", "",
  ].join("\n");
  await fs.writeFile(path.join(dir, "README.md"), readme);
}
