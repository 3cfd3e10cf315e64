/**
 * `cogen adapt lora`: a LoRA expert from a user's own text with cogen's trainer (zoo/train), the
 * way the zoo's experts are made (zoo/build/train-job.ts), plus what a user needs around it: a
 * base in HF or GGUF form, a hash split of the data, a cost estimate checked before training,
 * early stopping on held-out bits per byte, checkpoints and resume, and every export with a
 * model card and a models-file entry.
 *
 * Training runs in rounds of `evalEvery` steps through one checkpoint folder (the trainer resumes
 * bit-exactly, so rounds change nothing but add evaluations). After each round the held-out bits
 * per byte decide: a better round's checkpoint is copied to `checkpoint-best/`; `patience` rounds
 * without improvement stop the run. The exported model is the best round's.
 *
 * OUT_DIR after a run:
 *   adapter/        PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors)
 *   adapter.gguf    llama.cpp runtime LoRA adapter
 *   hf/             the base with the adapter merged (Hugging Face, F32)
 *   model.gguf      the same for llama.cpp (F32)
 *   README.md       model card; card.json the same facts as JSON
 *   models.yaml     a models file with the expert, for `cogen eval` and `cogen serve`
 *   checkpoint/, checkpoint-best/, adapt-state.json   for --resume
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../core/atomic.js";
import { formatBytes } from "../core/bytes.js";
import { ConfigError, InputFileError } from "../core/errors.js";
import { exists } from "../core/files.js";
import { silentProgress, type Progress } from "../core/progress.js";
import { convertGgufToHf } from "../formats/convert/gguf-to-hf.js";
import { convertHfToGguf } from "../formats/convert/hf-to-gguf.js";
import { readLlamaConfig, type LlamaConfig } from "../formats/hf/config.js";
import { evaluateBitsPerByte } from "../zoo/train/evaluate.js";
import { exportHf, exportLora } from "../zoo/train/export.js";
import { exportLoraGguf } from "../zoo/train/lora-gguf.js";
import { disposeTrainModel, type TrainModel } from "../zoo/train/model.js";
import { readBpeTokenizer, type BpeTokenizer } from "../zoo/train/tokenize.js";
import { trainLanguageModel, type TrainOptions } from "../zoo/train/train.js";
import { readUserData, splitUserData } from "./data.js";
import { estimateLoraRun, type LoraEstimate } from "./estimate.js";

export interface AdaptLoraOptions {
  /** A llama-family Hugging Face folder or GGUF file whose tokenizer the trainer reads. */
  base: string;
  /** A .txt file, a folder of .txt/.jsonl files, or a .jsonl file with `text`. */
  data: string;
  outDir: string;
  /** Defaults are the zoo experts' (zoo/build/plan.ts): rank 16, 200 steps, lr 4e-3, batch 16 × 64 tokens. */
  rank?: number;
  alpha?: number;
  steps?: number;
  lr?: number;
  batchSize?: number;
  seqLen?: number;
  seed?: number;
  /** Steps between held-out evaluations (default 25). */
  evalEvery?: number;
  /** Evaluations without improvement before stopping (default 2). */
  patience?: number;
  heldOutPerMille?: number;
  maxMemoryBytes?: number;
  maxMinutes?: number;
  /** Continue from OUT_DIR's checkpoint (otherwise an old one is removed). */
  resume?: boolean;
  /** The expert's id in models.yaml and the GGUF name (default: OUT_DIR's name). */
  id?: string;
  /** Stop (checkpointed, nothing exported) once this many steps are done, as an interruption would. */
  stopAtStep?: number;
  progress?: Progress;
}

export interface HeldOutPoint {
  step: number;
  bitsPerByte: number;
}

export interface AdaptLoraReport {
  id: string;
  outDir: string;
  base: string;
  data: { sha256: string; bytes: number; files: number; trainDocuments: number; heldOutDocuments: number; trainTokens: number; heldOutTokens: number };
  estimate: LoraEstimate;
  settings: Required<Pick<AdaptLoraOptions, "rank" | "alpha" | "steps" | "lr" | "batchSize" | "seqLen" | "seed" | "evalEvery" | "patience">>;
  /** Held-out bits per byte at step 0 (the base) and after every round. */
  history: HeldOutPoint[];
  stepsRun: number;
  bestStep: number;
  stoppedEarly: boolean;
  heldOutBpbBefore: number;
  heldOutBpbAfter: number;
  /** False when stopAtStep interrupted the run (nothing exported yet). */
  complete: boolean;
  files: string[];
}

interface AdaptState {
  history: HeldOutPoint[];
  bestStep: number;
  stopped: boolean;
}

const STATE_FILE = "adapt-state.json";

export async function adaptLora(options: AdaptLoraOptions): Promise<AdaptLoraReport> {
  const settings = {
    rank: options.rank ?? 16, steps: options.steps ?? 200, lr: options.lr ?? 4e-3, batchSize: options.batchSize ?? 16,
    seqLen: options.seqLen ?? 64, seed: options.seed ?? 0, evalEvery: options.evalEvery ?? 25, patience: options.patience ?? 2,
    alpha: options.alpha ?? options.rank ?? 16,
  };
  const problems: string[] = [];
  for (const key of ["rank", "steps", "batchSize", "seqLen", "evalEvery", "patience"] as const) {
    if (!(Number.isSafeInteger(settings[key]) && settings[key] > 0)) problems.push(`${key} must be a positive integer (got ${settings[key]})`);
  }
  if (!(settings.lr > 0)) problems.push(`lr must be positive (got ${settings.lr})`);
  if (!(settings.alpha > 0)) problems.push(`alpha must be positive (got ${settings.alpha})`);
  if (!Number.isSafeInteger(settings.seed)) problems.push(`seed must be an integer (got ${settings.seed})`);
  if (problems.length) throw new ConfigError(problems, "adapt lora");

  const outDir = path.resolve(options.outDir);
  const id = options.id ?? path.basename(outDir);
  const progress = options.progress ?? silentProgress;
  const data = await readUserData(options.data);
  const split = splitUserData(data, { seed: settings.seed, heldOutPerMille: options.heldOutPerMille });

  await fs.mkdir(outDir, { recursive: true });
  const baseHf = await baseFolder(options.base, outDir);
  const config = await readLlamaConfig(baseHf);
  const tokenizer = await readTokenizer(baseHf, options.base);
  const trainTokens = tokenizer.encode(split.train).length;
  const heldOutTokens = tokenizer.encode(split.heldOut).length;
  if (trainTokens < settings.seqLen + 1) {
    throw new InputFileError(options.data, `its training side is ${trainTokens} tokens, shorter than one context of ${settings.seqLen + 1}; give more text or a smaller --seq-len`);
  }
  if (heldOutTokens < 2) throw new InputFileError(options.data, `its held-out side is ${heldOutTokens} token(s); give more documents`);

  const estimate = estimateLoraRun(config, { ...settings, evalTokens: heldOutTokens, evaluations: 1 + Math.ceil(settings.steps / settings.evalEvery) });
  const over: string[] = [];
  if (options.maxMemoryBytes !== undefined && estimate.memoryBytes > options.maxMemoryBytes) over.push(`memory ≈ ${formatBytes(estimate.memoryBytes)} > --max-memory ${formatBytes(options.maxMemoryBytes)}`);
  if (options.maxMinutes !== undefined && estimate.seconds / 60 > options.maxMinutes) over.push(`time ≈ ${(estimate.seconds / 60).toFixed(1)} min > --max-minutes ${options.maxMinutes}`);
  if (over.length) {
    throw new ConfigError([...over, `estimate for ${settings.steps} steps of ${settings.batchSize}×${settings.seqLen} tokens, rank ${settings.rank}, on a base of ${estimate.baseParameters} parameters: fewer steps, a smaller batch or rank, or a higher limit`], "adapt lora");
  }

  const checkpointDir = path.join(outDir, "checkpoint");
  const bestDir = path.join(outDir, "checkpoint-best");
  const stateFile = path.join(outDir, STATE_FILE);
  const train: Omit<TrainOptions, "stopAtStep"> = {
    init: baseHf, tokenizer, trainText: split.train, lora: { rank: settings.rank, alpha: settings.alpha },
    steps: settings.steps, batchSize: settings.batchSize, seqLen: settings.seqLen, lr: settings.lr, seed: settings.seed, checkpointDir,
  };
  const heldOutBpb = async (model: TrainModel) => (await evaluateBitsPerByte(model, tokenizer, split.heldOut, { seqLen: settings.seqLen })).bitsPerByte;

  let state: AdaptState | undefined;
  if (options.resume && (await exists(stateFile))) state = JSON.parse(await fs.readFile(stateFile, "utf8")) as AdaptState;
  if (!state) {
    await fs.rm(checkpointDir, { recursive: true, force: true });
    await fs.rm(bestDir, { recursive: true, force: true });
    const base = await trainLanguageModel({ ...train, checkpointDir: undefined, stopAtStep: 0 });
    try {
      state = { history: [{ step: 0, bitsPerByte: await heldOutBpb(base.model) }], bestStep: 0, stopped: false };
    } finally {
      disposeTrainModel(base.model);
    }
    await writeFileAtomic(stateFile, JSON.stringify(state, null, 2) + "\n");
  }

  const bestOf = (s: AdaptState) => s.history.find((p) => p.step === s.bestStep)!.bitsPerByte;
  let step = state.history[state.history.length - 1].step;
  const limit = Math.min(settings.steps, options.stopAtStep ?? settings.steps);
  let last: TrainModel | undefined;
  progress.start("adapt lora", Math.max(0, limit - step), "steps");
  const rounds: Progress = { start() {}, tick: (n, info) => progress.tick(n, info), done() {} };
  try {
    while (!state.stopped && step < limit) {
      const end = Math.min(limit, step + settings.evalEvery);
      const result = await trainLanguageModel({ ...train, stopAtStep: end, progress: rounds });
      if (last) disposeTrainModel(last);
      last = result.model;
      step = end;
      const bpb = await heldOutBpb(result.model);
      state.history.push({ step, bitsPerByte: bpb });
      if (bpb < bestOf(state)) {
        state.bestStep = step;
        await fs.rm(bestDir, { recursive: true, force: true });
        await fs.cp(checkpointDir, bestDir, { recursive: true });
      } else {
        const sinceBest = state.history.filter((p) => p.step > state!.bestStep).length;
        if (sinceBest >= settings.patience) state.stopped = true;
      }
      await writeFileAtomic(stateFile, JSON.stringify(state, null, 2) + "\n");
      progress.tick(0, `held-out ${bpb.toFixed(3)} bpb (best ${bestOf(state).toFixed(3)} at step ${state.bestStep})`);
    }
    progress.done(`${step} steps, held-out ${bestOf(state).toFixed(3)} bpb (base ${state.history[0].bitsPerByte.toFixed(3)})`);
    const finished = state.stopped || step >= settings.steps;
    const report: AdaptLoraReport = {
      id, outDir, base: options.base,
      data: { sha256: data.sha256, bytes: data.bytes, files: data.files.length, trainDocuments: split.trainDocuments, heldOutDocuments: split.heldOutDocuments, trainTokens, heldOutTokens },
      estimate, settings, history: state.history, stepsRun: step, bestStep: state.bestStep, stoppedEarly: state.stopped,
      heldOutBpbBefore: state.history[0].bitsPerByte, heldOutBpbAfter: bestOf(state), complete: finished, files: [],
    };
    if (!finished) return report;

    // The best round's model: the last one in memory, or reloaded from its checkpoint copy.
    let best = last && state.bestStep === step ? last : undefined;
    if (!best) {
      const reloaded = await trainLanguageModel({ ...train, checkpointDir: state.bestStep > 0 ? bestDir : undefined, stopAtStep: state.bestStep });
      best = reloaded.model;
      if (last) disposeTrainModel(last);
      last = best;
    }
    report.files = await exportAll(best, baseHf, outDir, id, settings.seqLen, tokenizer);
    await writeCard(report, config);
    report.files.push("README.md", "card.json");
    return report;
  } finally {
    if (last) disposeTrainModel(last);
  }
}

/** The base as an HF folder: itself, or (GGUF) converted once into OUT_DIR/base-hf. */
async function baseFolder(base: string, outDir: string): Promise<string> {
  if (!(await exists(base))) throw new InputFileError(base, "no such file or folder (give a Hugging Face folder or a GGUF file)");
  if ((await fs.stat(base)).isDirectory()) return path.resolve(base);
  const converted = path.join(outDir, "base-hf");
  if (!(await exists(path.join(converted, "config.json")))) await convertGgufToHf(base, converted, { dtype: "f32" });
  return converted;
}

async function readTokenizer(dir: string, base: string): Promise<BpeTokenizer> {
  try {
    return await readBpeTokenizer(dir);
  } catch (error) {
    throw new ConfigError([`cogen's trainer cannot read the tokenizer of ${base}: ${(error as Error).message}`], "adapt lora");
  }
}

async function exportAll(model: TrainModel, baseHf: string, outDir: string, id: string, seqLen: number, tokenizer: BpeTokenizer): Promise<string[]> {
  const adapterDir = path.join(outDir, "adapter");
  await exportLora(model, adapterDir, { baseModel: path.relative(adapterDir, baseHf).split(path.sep).join("/") });
  await exportLoraGguf(model, path.join(outDir, "adapter.gguf"));
  const hfDir = path.join(outDir, "hf");
  await exportHf(model, hfDir, { tokenizer });
  await convertHfToGguf(hfDir, path.join(outDir, "model.gguf"), { dtype: "f32", name: `cogen-adapt-${id}` });
  const entry = [
    "# Written by 'cogen adapt lora': the adapted expert, ready for 'cogen eval' and 'cogen serve'.",
    "experts:",
    `  - id: ${JSON.stringify(id)}`,
    "    backend: llamacpp",
    "    path: ./model.gguf",
    `    context_size: ${Math.max(seqLen, 64)}`,
    "    threads: 1",
    "    domains: []",
    "    tags: [adapt, lora]",
    "",
  ].join("\n");
  await writeFileAtomic(path.join(outDir, "models.yaml"), entry);
  return ["adapter", "adapter.gguf", "hf", "model.gguf", "models.yaml"];
}

async function writeCard(report: AdaptLoraReport, config: LlamaConfig): Promise<void> {
  const s = report.settings;
  const lines = [
    `# ${report.id}`,
    "",
    `A LoRA expert trained by \`cogen adapt lora\` on ${report.base} (llama-family, ${config.numLayers} layers, hidden ${config.hiddenSize}, vocabulary ${config.vocabSize}).`,
    "",
    "## Data",
    `- sha256 ${report.data.sha256} over ${report.data.files} file(s), ${report.data.bytes} bytes`,
    `- ${report.data.trainDocuments} training documents (${report.data.trainTokens} tokens), ${report.data.heldOutDocuments} held-out documents (${report.data.heldOutTokens} tokens), hash split with seed ${s.seed}`,
    "",
    "## Training",
    `- LoRA rank ${s.rank}, alpha ${s.alpha} on q/k/v/o and gate/up/down projections; AdamW, lr ${s.lr}, batch ${s.batchSize} × ${s.seqLen} tokens, seed ${s.seed}`,
    `- ${report.stepsRun} of ${s.steps} steps run${report.stoppedEarly ? ` (stopped early: ${s.patience} evaluations without improvement)` : ""}; exported: step ${report.bestStep}`,
    "",
    "## Held-out bits per byte",
    `- before (base): ${report.heldOutBpbBefore.toFixed(4)}`,
    `- after: ${report.heldOutBpbAfter.toFixed(4)}`,
    "",
    "| step | bits per byte |",
    "| ---: | ---: |",
    ...report.history.map((p) => `| ${p.step} | ${p.bitsPerByte.toFixed(4)} |`),
    "",
    "## Files",
    "- `adapter/` PEFT adapter, `adapter.gguf` llama.cpp runtime adapter, `hf/` and `model.gguf` the merged model, `models.yaml` a models-file entry",
    "",
  ];
  await writeFileAtomic(path.join(report.outDir, "README.md"), lines.join("\n"));
  const { outDir: _, ...card } = report;
  await writeFileAtomic(path.join(report.outDir, "card.json"), JSON.stringify(card, null, 2) + "\n");
}
