import { ConfigError } from "../../core/errors.js";
import { silentProgress, type Progress } from "../../core/progress.js";
import { readLlamaConfig, type LlamaConfig } from "../../formats/hf/config.js";
import { readHfWeightsF32 } from "../../formats/safetensors/index.js";
import { createAdamWState, DEFAULT_ADAMW, disposeAdamWState, type AdamWOptions } from "./adamw.js";
import { initTrainingBackend, type tf } from "./backend.js";
import { batchAt } from "./batches.js";
import { hasCheckpoint, loadCheckpoint, restoreCheckpoint, saveCheckpoint } from "./checkpoint.js";
import { checkInitWeights, createTrainModel, trainableVariables, type LoraOptions, type TrainModel } from "./model.js";
import { learningRateAt, type LrSchedule } from "./schedule.js";
import { optimizerStep, trainingStep } from "./step.js";
import { readBpeTokenizer, type BpeTokenizer } from "./tokenize.js";

/**
 * Train a llama-family language model on text: from a seeded random initialisation or from a
 * Hugging Face folder (`init`), all weights or LoRA adapters only. AdamW with a cosine schedule
 * after linear warm-up and global-norm gradient clipping. Deterministic: the same options and
 * seed give bit-identical weights, and with `checkpointDir` a run that stops and resumes ends
 * exactly where an uninterrupted one does.
 */
export interface TrainOptions {
  /** The architecture; taken from `init`'s config.json when training from a base. */
  config?: LlamaConfig;
  /** The tokenizer; default: the one in `init`'s folder. */
  tokenizer?: BpeTokenizer;
  /** The text of the default objective (next-token prediction on seeded windows); not read with `objective`. */
  trainText?: string;
  /** Another training loss in place of next-token prediction on trainText (distillation, preferences). */
  objective?: TrainObjective;
  /** Total optimizer steps of the schedule. */
  steps: number;
  batchSize: number;
  seqLen: number;
  /** Peak learning rate. */
  lr: number;
  seed: number;
  /** Default: 10% of the steps (at most 100). */
  warmupSteps?: number;
  /** Final learning rate of the cosine (default lr / 10). */
  minLr?: number;
  adamw?: Partial<AdamWOptions>;
  /** A Hugging Face folder to start from. */
  init?: string;
  lora?: LoraOptions;
  /** Save a checkpoint here (atomically) every `checkpointEvery` steps and at the end; resume from it if present. */
  checkpointDir?: string;
  checkpointEvery?: number;
  /** Stop (after checkpointing) once this many steps are done, as an interruption would. */
  stopAtStep?: number;
  /** Matrix products with explicit transposes and hand-written gradients (default true, 3–4× faster). */
  customGrad?: boolean;
  progress?: Progress;
}

/**
 * A training loss that is a pure function of the step (its batch is chosen from the seed and the
 * step, as batchAt does), so runs stay deterministic and resumable.
 */
export interface TrainObjective {
  /** What decides the loss and its data; stored in checkpoints, which resume only under the same key. */
  key: Record<string, unknown>;
  /** The loss of optimizer step `step` (0-based), built inside tf.variableGrads. */
  loss(model: TrainModel, step: number, tokenizer: BpeTokenizer): tf.Scalar;
  /** Predicted tokens per step, for the tokens/s shown while training. */
  tokensPerStep: number;
}

export interface TrainResult {
  model: TrainModel;
  tokenizer: BpeTokenizer;
  /** Mean training loss (nats per token) of every step so far, resumed steps included. */
  losses: number[];
  /** Steps completed. */
  step: number;
  /** The step this call started from (0, or where a checkpoint left off). */
  startStep: number;
  seconds: number;
  stepsPerSecond: number;
  tokensPerSecond: number;
}

export async function trainLanguageModel(options: TrainOptions): Promise<TrainResult> {
  await initTrainingBackend();
  const problems: string[] = [];
  const positiveInt = (key: keyof TrainOptions) => {
    const v = options[key];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) problems.push(`${key} must be a positive integer (got ${JSON.stringify(v)})`);
  };
  positiveInt("steps");
  positiveInt("batchSize");
  positiveInt("seqLen");
  if (!(options.lr > 0)) problems.push(`lr must be positive (got ${options.lr})`);
  if (!Number.isSafeInteger(options.seed)) problems.push(`seed must be an integer (got ${options.seed})`);
  if (options.trainText === undefined && !options.objective) problems.push("give trainText or an objective");
  if (!options.config && !options.init) problems.push("give a config (to train from scratch) or init (a Hugging Face folder to start from)");
  if (options.checkpointEvery !== undefined && !(Number.isSafeInteger(options.checkpointEvery) && options.checkpointEvery > 0)) problems.push("checkpointEvery must be a positive integer");
  if (problems.length) throw new ConfigError(problems, "trainLanguageModel");

  let config = options.config;
  let init: Map<string, Float32Array> | undefined;
  if (options.init) {
    const baseConfig = await readLlamaConfig(options.init);
    if (config && !sameShape(config, baseConfig)) throw new ConfigError([`config does not match the architecture of ${options.init}`], "trainLanguageModel");
    config = baseConfig;
    init = await readHfWeightsF32(options.init);
    checkInitWeights(config, init, options.init);
  }
  const tokenizer = options.tokenizer ?? (options.init ? await readBpeTokenizer(options.init) : undefined);
  if (!tokenizer) throw new ConfigError(["a tokenizer is needed (give tokenizer, or init with tokenizer.json)"], "trainLanguageModel");
  if (tokenizer.size > config!.vocabSize) throw new ConfigError([`the tokenizer has ${tokenizer.size} tokens but the model's vocabulary is ${config!.vocabSize}`], "trainLanguageModel");

  const adamw: AdamWOptions = { ...DEFAULT_ADAMW, ...options.adamw };
  const schedule: LrSchedule = {
    lr: options.lr,
    total: options.steps,
    warmup: options.warmupSteps ?? Math.min(100, Math.floor(options.steps / 10)),
    minLr: options.minLr ?? options.lr / 10,
  };
  // Everything that decides the result; a checkpoint from a different run must not be resumed.
  const run = {
    seed: options.seed, steps: options.steps, batchSize: options.batchSize, seqLen: options.seqLen, schedule, adamw,
    lora: options.lora ?? null, init: options.init ?? null, vocabulary: tokenizer.size,
    ...(options.objective ? { objective: options.objective.key } : { textLength: options.trainText!.length }),
  };

  const objective = options.objective;
  const tokens = objective ? new Int32Array(0) : Int32Array.from(tokenizer.encode(options.trainText!));
  const checkpointDir = options.checkpointDir;
  const resume = checkpointDir && (await hasCheckpoint(checkpointDir)) ? await loadCheckpoint(checkpointDir) : undefined;
  if (resume) {
    const mismatched = Object.keys(run).filter((k) => JSON.stringify(run[k as keyof typeof run]) !== JSON.stringify(resume.state.run[k]));
    if (mismatched.length) {
      throw new ConfigError([`${checkpointDir} holds a checkpoint of a different run (differs in ${mismatched.join(", ")}); remove it or choose another checkpointDir`]);
    }
    checkInitWeights(config!, resume.weights, checkpointDir!);
  }
  const model = createTrainModel(config!, { seed: options.seed, init: resume?.weights ?? init, lora: options.lora, customGrad: options.customGrad, tokenizer });
  const params = trainableVariables(model);
  const optimizer = createAdamWState(params);
  if (resume) restoreCheckpoint(model, optimizer, resume, checkpointDir!);
  const losses = resume ? [...resume.state.losses] : [];
  const startStep = optimizer.step;
  const endStep = Math.max(startStep, Math.min(options.steps, options.stopAtStep ?? options.steps));

  const progress = options.progress ?? silentProgress;
  const tokensPerStep = objective?.tokensPerStep ?? options.batchSize * options.seqLen;
  progress.start("train", endStep - startStep, "steps");
  const started = Date.now();
  let smoothed = NaN;
  try {
    for (let step = startStep; step < endStep; step++) {
      const lr = learningRateAt(step, schedule);
      const loss = objective
        ? optimizerStep(params, optimizer, () => objective.loss(model, step, tokenizer), lr, adamw)
        : trainingStep(model, params, optimizer, batchAt(tokens, options.seed, step, options.batchSize, options.seqLen), lr, adamw);
      if (!Number.isFinite(loss)) throw new ConfigError([`the loss became ${loss} at step ${step + 1}; lower lr (${options.lr}) or check the data`]);
      losses.push(loss);
      smoothed = Number.isNaN(smoothed) ? loss : 0.9 * smoothed + 0.1 * loss;
      const elapsed = (Date.now() - started) / 1000;
      progress.tick(1, `loss ${smoothed.toFixed(3)} ${Math.round(((step + 1 - startStep) * tokensPerStep) / Math.max(elapsed, 1e-3))} tok/s`);
      const done = step + 1;
      if (checkpointDir && options.checkpointEvery && done % options.checkpointEvery === 0 && done < endStep) {
        await saveCheckpoint(checkpointDir, model, optimizer, { step: done, run, losses }, tokenizer);
      }
    }
    if (checkpointDir && endStep > startStep) await saveCheckpoint(checkpointDir, model, optimizer, { step: endStep, run, losses }, tokenizer);
  } finally {
    disposeAdamWState(optimizer);
  }
  const seconds = (Date.now() - started) / 1000;
  const stepsRun = endStep - startStep;
  progress.done(`${stepsRun} steps, loss ${losses.length ? losses[losses.length - 1].toFixed(3) : "?"}`);
  return {
    model, tokenizer, losses, step: endStep, startStep, seconds,
    stepsPerSecond: stepsRun / Math.max(seconds, 1e-9),
    tokensPerSecond: (stepsRun * tokensPerStep) / Math.max(seconds, 1e-9),
  };
}

function sameShape(a: LlamaConfig, b: LlamaConfig): boolean {
  const keys = ["hiddenSize", "intermediateSize", "numLayers", "numHeads", "numKvHeads", "headDim", "vocabSize", "tieWordEmbeddings"] as const;
  return keys.every((k) => a[k] === b[k]);
}

