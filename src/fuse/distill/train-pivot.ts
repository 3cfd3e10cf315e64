import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError } from "../../core/errors.js";
import type { Progress } from "../../core/progress.js";
import { convertHfToGguf } from "../../formats/convert/hf-to-gguf.js";
import { ggufParity, loraParity } from "../../models/llamacpp/parity.js";
import { exportHf, exportLora } from "../../zoo/train/export.js";
import { exportLoraGguf } from "../../zoo/train/lora-gguf.js";
import { disposeTrainModel, type LoraOptions } from "../../zoo/train/model.js";
import type { BpeTokenizer } from "../../zoo/train/tokenize.js";
import { readPivotTokenizer } from "./pivot.js";
import { trainLanguageModel, type TrainObjective } from "../../zoo/train/train.js";
import { DEFAULT_FPO_BETA, fpoObjective, type FpoRecord, type FpoUnit } from "./fpo-objective.js";
import { kdObjective } from "./kd-objective.js";
import { onlineKdObjective, onlineStream, type CrossFusion, type OnlinePart } from "./online-kd-objective.js";
import { checkPivotTargets, type PivotTargets } from "./pivot-targets.js";

/**
 * Train a pivot — any llama-family Hugging Face folder cogen's trainer runs, whatever the
 * sources' architectures — on distillation targets (`kd`: λ·CLM + (1 − λ)·fusion) or on
 * InfiFPO preference records (`fpo`), with LoRA or a full fine-tune, and export it as the zoo's
 * models are: hf/ (LoRA merged), model.gguf, and for LoRA lora/ (PEFT) and lora.gguf (llama.cpp
 * runtime adapter), each checked against cogen's TypeScript forward pass in llama.cpp.
 * Deterministic in the seed (steps, never seconds); resumable from `checkpointDir`.
 */
export interface TrainPivotOptions {
  /** The pivot's Hugging Face folder (config.json, safetensors, tokenizer.json). */
  pivot: string;
  out: string;
  /** kd: precomputed targets; online-kd: teachers run inside each step (online-kd-objective.ts); fpo: preferences. */
  objective: "kd" | "online-kd" | "fpo";
  /** online-kd: the training stream's parts, each with the teacher its windows listen to, and the top-k per position. */
  online?: { parts: readonly OnlinePart[]; k: number; crossFusion?: CrossFusion; crossGate?: "min-ce" };
  /** kd: the targets of every training text, in the pivot's tokenisation. */
  targets?: readonly PivotTargets[];
  /** fpo: preference records. */
  records?: readonly FpoRecord[];
  /** kd: weight of CLM (1 = the CLM control, no fusion term); fpo: weight of the chosen responses' NLL. */
  lambda: number;
  /** LoRA adapters on every projection; absent: full fine-tune. */
  lora?: LoraOptions;
  steps: number;
  batchSize: number;
  seqLen: number;
  lr: number;
  seed: number;
  /** fpo: inverse temperature (default 2). */
  beta?: number;
  /** fpo: the unit the records' reference is normalised in and ℓθ is computed in (default: the records' unit, else token). */
  unit?: FpoUnit;
  checkpointDir?: string;
  checkpointEvery?: number;
  /** Stop (after checkpointing) here, as an interruption would; nothing is exported. */
  stopAtStep?: number;
  /** Texts for the llama.cpp parity check (default: none checked). */
  parityContexts?: string[];
  progress?: Progress;
}

export interface TrainPivotResult {
  out: string;
  steps: number;
  startStep: number;
  seconds: number;
  stepsPerSecond: number;
  /** Mean loss over the last 10% of steps. */
  finalLoss: number;
  losses: number[];
  /** Files written under `out` (none when stopped early). */
  exported: string[];
  /** Largest KL(TypeScript ‖ llama.cpp) of the GGUF and of base + runtime adapter, in nats. */
  parity: { maxKl: number; loraMaxKl: number | null } | null;
}

export const DEFAULT_KD_LAMBDA = 0.5;

export async function trainPivot(options: TrainPivotOptions): Promise<TrainPivotResult> {
  const tokenizer = await readPivotTokenizer(options.pivot);
  const objective = pivotObjective(options, tokenizer);
  const result = await trainLanguageModel({
    init: options.pivot, tokenizer, objective, lora: options.lora,
    steps: options.steps, batchSize: options.batchSize, seqLen: options.seqLen, lr: options.lr, seed: options.seed,
    checkpointDir: options.checkpointDir, checkpointEvery: options.checkpointEvery, stopAtStep: options.stopAtStep,
    progress: options.progress,
  });
  const tail = result.losses.slice(-Math.max(1, Math.floor(result.losses.length / 10)));
  const summary = {
    out: options.out, steps: result.step, startStep: result.startStep, seconds: result.seconds, stepsPerSecond: result.stepsPerSecond,
    finalLoss: tail.reduce((s, x) => s + x, 0) / Math.max(1, tail.length), losses: result.losses,
  };
  try {
    if (result.step < options.steps) return { ...summary, exported: [], parity: null };
    const exported: string[] = [];
    await fs.mkdir(options.out, { recursive: true });
    const hf = path.join(options.out, "hf");
    await exportHf(result.model, hf, { tokenizer });
    exported.push("hf");
    const gguf = path.join(options.out, "model.gguf");
    await convertHfToGguf(hf, gguf, { dtype: "f32", name: `cogen-pivot-${path.basename(options.out)}` });
    exported.push("model.gguf");
    let loraGguf: string | undefined;
    if (options.lora) {
      const loraDir = path.join(options.out, "lora");
      await exportLora(result.model, loraDir, { baseModel: path.relative(loraDir, options.pivot).split(path.sep).join("/") });
      loraGguf = path.join(options.out, "lora.gguf");
      await exportLoraGguf(result.model, loraGguf);
      exported.push("lora", "lora.gguf");
    }
    const parity = options.parityContexts?.length ? await checkParity(options.pivot, hf, gguf, loraGguf, tokenizer.size, options.parityContexts) : null;
    return { ...summary, exported, parity };
  } finally {
    disposeTrainModel(result.model);
  }
}

function pivotObjective(options: TrainPivotOptions, tokenizer: BpeTokenizer): TrainObjective {
  const bosId = tokenizer.vocab.bosId ?? tokenizer.vocab.eosId;
  if (bosId === undefined) throw new ConfigError([`--pivot ${options.pivot}: the tokenizer has neither a BOS nor an EOS token to start texts with`]);
  const common = { lambda: options.lambda, batchSize: options.batchSize, seqLen: options.seqLen, seed: options.seed, bosId };
  if (options.objective === "fpo") {
    if (!options.records?.length) throw new ConfigError(["--objective fpo needs preference records"]);
    return fpoObjective({ ...common, records: options.records, beta: options.beta ?? DEFAULT_FPO_BETA, unit: options.unit });
  }
  if (options.objective === "online-kd") {
    if (!options.online) throw new ConfigError(["online distillation needs the training text's parts and their teachers"]);
    const { batchSize, seqLen, seed, lambda } = options;
    return onlineKdObjective({ ...onlineStream(options.online.parts, tokenizer), lambda, k: options.online.k, crossFusion: options.online.crossFusion, crossGate: options.online.crossGate, batchSize, seqLen, seed });
  }
  if (!options.targets?.length) throw new ConfigError(["--objective kd needs distillation targets"]);
  options.targets.forEach((t, i) => checkPivotTargets(t, tokenizer.size, `targets, text ${i}`));
  return kdObjective({ ...common, texts: options.targets });
}

/** GGUF against the TypeScript forward pass; for LoRA, the pivot's own GGUF + runtime adapter against the merged GGUF. */
async function checkParity(pivot: string, hf: string, gguf: string, loraGguf: string | undefined, vocab: number, contexts: string[]): Promise<{ maxKl: number; loraMaxKl: number | null }> {
  const maxKl = await ggufParity(hf, gguf, contexts);
  if (!loraGguf) return { maxKl, loraMaxKl: null };
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-pivot-parity-"));
  try {
    const baseGguf = path.join(tmp, "pivot.gguf");
    await convertHfToGguf(pivot, baseGguf, { dtype: "f32", name: "cogen-pivot-base" });
    return { maxKl, loraMaxKl: await loraParity(baseGguf, loraGguf, gguf, vocab, contexts) };
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
