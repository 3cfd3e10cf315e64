import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeDirAtomic } from "../../core/atomic.js";
import { ConfigError } from "../../core/errors.js";
import { convertHfToGguf } from "../../formats/convert/hf-to-gguf.js";
import { Rng } from "../../core/rng.js";
import { silentProgress, type Progress } from "../../core/progress.js";
import { adamWStep, createAdamWState, DEFAULT_ADAMW, disposeAdamWState, type AdamWOptions, type AdamWState } from "../../zoo/train/adamw.js";
import { initTrainingBackend, tf } from "../../zoo/train/backend.js";
import type { Batch } from "../../zoo/train/batches.js";
import { hasCheckpoint, loadCheckpoint, restoreCheckpoint, saveCheckpoint } from "../../zoo/train/checkpoint.js";
import { exportHf } from "../../zoo/train/export.js";
import { readMixtralFolder, withExpertsPerToken } from "../../zoo/train/mixtral-hf.js";
import { checkInitWeights, createTrainModel, disposeTrainModel, forwardLogits, readWeights, tokenNll, trainableVariables, type RouteRecord, type TrainModel } from "../../zoo/train/model.js";
import { loadBalancingLoss } from "../../zoo/train/moe.js";
import { learningRateAt, type LrSchedule } from "../../zoo/train/schedule.js";
import { readBpeTokenizer, type BpeTokenizer } from "../../zoo/train/tokenize.js";

/**
 * Branch-Train-MiX's router training: a mixture of experts whose feed-forward experts stay
 * frozen learns its gates (and, optionally, the shared non-expert weights: attention, norms,
 * embeddings) on mixed-domain text, with next-token cross-entropy plus Mixtral's load-balancing
 * loss (coef · E·Σ f_e·P_e, moe.ts). AdamW, warm-up then cosine, as the zoo trainer.
 *
 * Batches mix the domains evenly: row b of step s reads domain (s·B + b) mod D at a seeded
 * offset, so a small domain weighs as much as a large one and the batches are a pure function of
 * (seed, step). Deterministic and resumable: with `checkpointDir` a run that stops and resumes
 * ends bit for bit where an uninterrupted one does.
 */
export interface TrainGatesOptions {
  /** The Mixtral Hugging Face folder to start from (from `cogen moe`). */
  moeDir: string;
  /** Training text per domain (never held-out text). */
  texts: readonly { domain: string; text: string }[];
  steps: number;
  batchSize: number;
  seqLen: number;
  lr: number;
  seed: number;
  /** Experts used per token while training and in the result (default: the folder's). */
  expertsPerToken?: number;
  /** Load-balancing loss coefficient (default: the folder's router_aux_loss_coef, else 0.01). */
  routerAuxLossCoef?: number;
  /** Also train the non-expert weights (attention, norms, embeddings, output); default gates only. */
  trainShared?: boolean;
  /** Learning rate of the non-expert weights with `trainShared` (default: lr). */
  sharedLr?: number;
  /**
   * Weight of a supervised routing loss (default 0, none): every token of a row of domain d is
   * taught, by cross-entropy on each layer's gate logits, to route to d's expert. Needs
   * `expertDomains`. Training text carries its domain, so this uses no held-out data.
   */
  domainLossCoef?: number;
  /** The domain of each expert in the folder's order (null: no domain), for `domainLossCoef`. */
  expertDomains?: readonly (string | null)[];
  /** Default: 10% of the steps (at most 100). */
  warmupSteps?: number;
  minLr?: number;
  adamw?: Partial<AdamWOptions>;
  checkpointDir?: string;
  checkpointEvery?: number;
  /** Stop (after checkpointing) once this many steps are done, as an interruption would. */
  stopAtStep?: number;
  progress?: Progress;
}

export interface TrainGatesResult {
  model: TrainModel;
  tokenizer: BpeTokenizer;
  /** Per step: the total loss, its cross-entropy part (nats per token), the load-balancing loss and the routing loss (0 without `domainLossCoef`). */
  losses: { loss: number[]; ce: number[]; balance: number[]; domain: number[] };
  step: number;
  startStep: number;
  seconds: number;
  stepsPerSecond: number;
  trainedWeights: number;
}

const GATE = /\.block_sparse_moe\.gate\.weight$/;
const EXPERT = /\.block_sparse_moe\.experts\./;

export async function trainGates(options: TrainGatesOptions): Promise<TrainGatesResult> {
  await initTrainingBackend();
  const problems: string[] = [];
  for (const key of ["steps", "batchSize", "seqLen"] as const) {
    const v = options[key];
    if (!Number.isSafeInteger(v) || v <= 0) problems.push(`${key} must be a positive integer (got ${JSON.stringify(v)})`);
  }
  if (!(options.lr > 0)) problems.push(`lr must be positive (got ${options.lr})`);
  if (!Number.isSafeInteger(options.seed)) problems.push(`seed must be an integer (got ${options.seed})`);
  if (options.routerAuxLossCoef !== undefined && !(options.routerAuxLossCoef >= 0)) problems.push(`routerAuxLossCoef must be ≥ 0 (got ${options.routerAuxLossCoef})`);
  if (options.sharedLr !== undefined && !(options.sharedLr > 0)) problems.push(`sharedLr must be positive (got ${options.sharedLr})`);
  if (options.sharedLr !== undefined && !options.trainShared) problems.push("sharedLr needs trainShared");
  const domainCoef = options.domainLossCoef ?? 0;
  if (!(domainCoef >= 0)) problems.push(`domainLossCoef must be ≥ 0 (got ${options.domainLossCoef})`);
  if (domainCoef > 0) {
    const named = options.expertDomains ?? [];
    const unrouted = options.texts.filter((t) => !named.includes(t.domain)).map((t) => t.domain);
    if (!options.expertDomains) problems.push("domainLossCoef needs expertDomains (the domain of each expert)");
    else if (unrouted.length) problems.push(`domainLossCoef: no expert is named for domain(s) ${unrouted.join(", ")}`);
  }
  if (options.checkpointEvery !== undefined && !(Number.isSafeInteger(options.checkpointEvery) && options.checkpointEvery > 0)) problems.push("checkpointEvery must be a positive integer");
  if (options.texts.length === 0) problems.push("give training text for at least one domain");
  const emptyDomains = options.texts.filter((t) => t.text.length === 0).map((t) => t.domain);
  if (emptyDomains.length) problems.push(`empty training text for ${emptyDomains.join(", ")}`);
  if (problems.length) throw new ConfigError(problems, "trainGates");

  const folder = await readMixtralFolder(options.moeDir);
  const tokenizer = await readBpeTokenizer(options.moeDir);
  const experts = folder.config.moe!.experts;
  const k = options.expertsPerToken ?? folder.config.moe!.expertsPerToken;
  if (!Number.isSafeInteger(k) || k < 1 || k > experts) throw new ConfigError([`expertsPerToken must be between 1 and ${experts} (got ${k})`], "trainGates");
  // Mixtral renormalises the chosen weights: with k = 1 the weight is always 1, so the gates get no
  // gradient from the cross-entropy (only the balance loss would move them).
  if (k === 1 && !options.trainShared) {
    throw new ConfigError(["with one expert per token the gates get no gradient from the cross-entropy (the renormalised weight is always 1): train with expertsPerToken ≥ 2 and write the result with one expert per token (writeTrainedMoe's expertsPerToken, --out-experts-per-token 1)"], "trainGates");
  }
  if (options.expertDomains && options.expertDomains.length !== experts) throw new ConfigError([`expertDomains names ${options.expertDomains.length} experts; ${options.moeDir} has ${experts}`], "trainGates");
  const coef = options.routerAuxLossCoef ?? folder.routerAuxLossCoef;
  const tuned = withExpertsPerToken(folder.config, k);
  const config = { ...tuned, raw: { ...tuned.raw, router_aux_loss_coef: coef } };
  const adamw: AdamWOptions = { ...DEFAULT_ADAMW, ...options.adamw };
  const schedule: LrSchedule = {
    lr: options.lr, total: options.steps,
    warmup: options.warmupSteps ?? Math.min(100, Math.floor(options.steps / 10)),
    minLr: options.minLr ?? options.lr / 10,
  };
  const streams = options.texts.map((t) => ({ domain: t.domain, tokens: Int32Array.from(tokenizer.encode(t.text)) }));
  const short = streams.filter((s) => s.tokens.length <= options.seqLen).map((s) => `${s.domain} (${s.tokens.length} tokens)`);
  if (short.length) throw new ConfigError([`seqLen ${options.seqLen} needs more than ${options.seqLen} tokens of text per domain: ${short.join(", ")}`], "trainGates");
  const run = {
    kind: "train-gates", seed: options.seed, steps: options.steps, batchSize: options.batchSize, seqLen: options.seqLen, schedule, adamw,
    expertsPerToken: k, routerAuxLossCoef: coef, trainShared: options.trainShared ?? false,
    ...(options.sharedLr !== undefined ? { sharedLr: options.sharedLr } : {}),
    ...(domainCoef > 0 ? { domainLossCoef: domainCoef, expertDomains: options.expertDomains } : {}),
    domains: streams.map((s) => `${s.domain}:${s.tokens.length}`),
  };

  const checkpointDir = options.checkpointDir;
  const resume = checkpointDir && (await hasCheckpoint(checkpointDir)) ? await loadCheckpoint(checkpointDir) : undefined;
  if (resume) {
    const mismatched = Object.keys(run).filter((k) => JSON.stringify(run[k as keyof typeof run]) !== JSON.stringify(resume.state.run[k]));
    if (mismatched.length) throw new ConfigError([`${checkpointDir} holds a checkpoint of a different run (differs in ${mismatched.join(", ")}); remove it or choose another checkpointDir`]);
    checkInitWeights(config, resume.weights, checkpointDir!);
  }
  const trainable = options.trainShared ? (name: string) => !EXPERT.test(name) : (name: string) => GATE.test(name);
  const model = createTrainModel(config, { seed: options.seed, init: resume?.weights ?? folder.weights, trainable, tokenizer });
  const params = trainableVariables(model);
  const optimizer = createAdamWState(params);
  if (resume) restoreCheckpoint(model, optimizer, resume, checkpointDir!);
  const losses: TrainGatesResult["losses"] = {
    loss: resume ? [...resume.state.losses] : [],
    ce: resume ? [...(resume.state.metrics?.ce ?? [])] : [],
    balance: resume ? [...(resume.state.metrics?.balance ?? [])] : [],
    domain: resume ? [...(resume.state.metrics?.domain ?? [])] : [],
  };
  const state = (step: number) => ({ step, run, losses: losses.loss, metrics: { ce: losses.ce, balance: losses.balance, domain: losses.domain } });
  // Expert taught for each training row (by the row's domain), or -1 without the routing loss.
  const expertOfStream = streams.map((s) => (domainCoef > 0 ? options.expertDomains!.indexOf(s.domain) : -1));
  const lrScale = options.sharedLr !== undefined ? (name: string) => (GATE.test(name) ? 1 : options.sharedLr! / options.lr) : undefined;
  const startStep = optimizer.step;
  const endStep = Math.max(startStep, Math.min(options.steps, options.stopAtStep ?? options.steps));

  const progress = options.progress ?? silentProgress;
  progress.start("train gates", endStep - startStep, "steps");
  const started = Date.now();
  try {
    for (let step = startStep; step < endStep; step++) {
      const batch = mixedBatchAt(streams.map((s) => s.tokens), options.seed, step, options.batchSize, options.seqLen);
      const rowExperts = domainCoef > 0 ? Array.from({ length: options.batchSize }, (_, b) => expertOfStream[(step * options.batchSize + b) % streams.length]) : undefined;
      const record = gateStep(model, params, optimizer, batch, learningRateAt(step, schedule), adamw, { coef, domainCoef, rowExperts, lrScale });
      if (!Number.isFinite(record.loss)) throw new ConfigError([`the loss became ${record.loss} at step ${step + 1}; lower lr (${options.lr}) or check the data`]);
      losses.loss.push(record.loss);
      losses.ce.push(record.ce);
      losses.balance.push(record.balance);
      losses.domain.push(record.domain);
      progress.tick(1, `ce ${record.ce.toFixed(3)} balance ${record.balance.toFixed(3)}${domainCoef > 0 ? ` routing ${record.domain.toFixed(3)}` : ""}`);
      const done = step + 1;
      if (checkpointDir && options.checkpointEvery && done % options.checkpointEvery === 0 && done < endStep) {
        await saveCheckpoint(checkpointDir, model, optimizer, state(done), tokenizer);
      }
    }
    if (checkpointDir && endStep > startStep) await saveCheckpoint(checkpointDir, model, optimizer, state(endStep), tokenizer);
  } finally {
    disposeAdamWState(optimizer);
  }
  const seconds = (Date.now() - started) / 1000;
  const n = losses.ce.length;
  progress.done(`${endStep - startStep} steps${n ? `, ce ${losses.ce[n - 1].toFixed(3)}, balance ${losses.balance[n - 1].toFixed(3)}` : ""}`);
  return {
    model, tokenizer, losses, step: endStep, startStep, seconds,
    stepsPerSecond: (endStep - startStep) / Math.max(seconds, 1e-9),
    trainedWeights: [...params.values()].reduce((n, p) => n + p.size, 0),
  };
}

/** Windows of seqLen + 1 tokens; row b of step s from domain (s·B + b) mod D, at a seeded offset. */
export function mixedBatchAt(domains: readonly Int32Array[], seed: number, step: number, batchSize: number, seqLen: number): Batch {
  const rng = new Rng((Math.imul(seed >>> 0, 0x2c1b3c6d) ^ Math.imul(step + 1, 0x297a2d39)) >>> 0);
  const inputs: number[][] = [];
  const targets: number[][] = [];
  for (let b = 0; b < batchSize; b++) {
    const tokens = domains[(step * batchSize + b) % domains.length];
    const start = rng.int(tokens.length - seqLen);
    inputs.push(Array.from(tokens.subarray(start, start + seqLen)));
    targets.push(Array.from(tokens.subarray(start + 1, start + seqLen + 1)));
  }
  return { inputs, targets };
}

interface GateLoss {
  /** Load-balancing loss weight. */
  coef: number;
  /** Routing loss weight, and the expert each batch row is taught (with domainCoef > 0). */
  domainCoef: number;
  rowExperts?: readonly number[];
  lrScale?: (name: string) => number;
}

/** One AdamW step on cross-entropy + coef · load-balancing loss (+ domainCoef · routing loss). Leaves no tensors behind. */
function gateStep(
  model: TrainModel,
  params: Map<string, tf.Variable>,
  optimizer: AdamWState,
  batch: Batch,
  lr: number,
  adamw: AdamWOptions,
  loss: GateLoss,
): { loss: number; ce: number; balance: number; domain: number } {
  const shape: [number, number] = [batch.inputs.length, batch.inputs[0].length];
  const inputs = tf.tensor2d(batch.inputs, shape, "int32");
  const targets = tf.tensor2d(batch.targets, shape, "int32");
  const parts: tf.Tensor[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const routes: RouteRecord[] = [];
    const ce = tf.mean(tokenNll(forwardLogits(model, inputs, routes), targets));
    const balance = loadBalancingLoss(routes, model.moe!.experts);
    const domain = loss.rowExperts ? routingLoss(routes, loss.rowExperts, shape[1]) : tf.scalar(0);
    parts.push(tf.keep(ce), tf.keep(balance), tf.keep(domain));
    return tf.addN([ce, tf.mul(balance, loss.coef), tf.mul(domain, loss.domainCoef)]) as tf.Scalar;
  }, [...params.values()]);
  try {
    const named = new Map<string, tf.Tensor>();
    for (const [name, v] of params) named.set(name, grads[v.name]);
    adamWStep(params, named, optimizer, lr, adamw, loss.lrScale);
    return { loss: value.dataSync()[0], ce: parts[0].dataSync()[0], balance: parts[1].dataSync()[0], domain: parts[2].dataSync()[0] };
  } finally {
    tf.dispose([inputs, targets, value, ...parts, ...Object.values(grads)]);
  }
}

/**
 * Mean over layers and tokens of −log softmax(gate logits)[expert of the row's domain]: rows are
 * b·T + t, as forwardLogits lays them out. Call inside a gradient scope.
 */
export function routingLoss(routes: readonly { logits: tf.Tensor2D }[], rowExperts: readonly number[], seqLen: number): tf.Scalar {
  const experts = routes[0].logits.shape[1];
  const labels = tf.oneHot(tf.tensor1d(rowExperts.flatMap((e) => Array<number>(seqLen).fill(e)), "int32"), experts);
  const target = tf.cast(labels, "float32");
  const perLayer = routes.map((r) => tf.neg(tf.mean(tf.sum(tf.mul(target, tf.logSoftmax(r.logits)), 1))));
  return tf.div(tf.addN(perLayer), routes.length) as tf.Scalar;
}

/**
 * Write a trained mixture as `cogen moe` does (with `expertsPerToken`, run with another top-k): `hf` a MixtralForCausalLM folder (F32), `gguf`
 * OUT_DIR/model.gguf for llama.cpp (checked against llama.cpp's loader rules before it appears).
 * The folder appears complete or not at all. Returns the files written.
 */
export async function writeTrainedMoe(model: TrainModel, outDir: string, outFormat: "hf" | "gguf" = "hf", expertsPerToken?: number): Promise<string[]> {
  if (!model.moe) throw new ConfigError(["writeTrainedMoe: the model is not a mixture of experts"]);
  if (expertsPerToken !== undefined && expertsPerToken !== model.moe.expertsPerToken) {
    const other = createTrainModel(withExpertsPerToken(model.config, expertsPerToken), { seed: 0, init: readWeights(model), tokenizer: model.tokenizer });
    try {
      return await writeTrainedMoe(other, outDir, outFormat);
    } finally {
      disposeTrainModel(other);
    }
  }
  if (outFormat === "hf") {
    await exportHf(model, outDir);
    return (await fs.readdir(outDir)).sort();
  }
  return writeDirAtomic(outDir, async (tmp) => {
    const hfDir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-moe-gates-"));
    try {
      await exportHf(model, path.join(hfDir, "hf"));
      await convertHfToGguf(path.join(hfDir, "hf"), path.join(tmp, "model.gguf"), { dtype: "f32", name: path.basename(path.resolve(outDir)) });
      return ["model.gguf"];
    } finally {
      await fs.rm(hfDir, { recursive: true, force: true });
    }
  });
}
