import { ConfigError, InputFileError } from "../../core/errors.js";
import { Rng } from "../../core/rng.js";
import { elementCount } from "../../core/tensor.js";
import type { LlamaConfig } from "../../formats/hf/config.js";
import { tf } from "./backend.js";
import { builtinMatMulOps, customMatMulOps, type MatMulOps } from "./matmul.js";
import { checkMoeShape, modelTensorShapes, moeFeedForward, type MoeShape } from "./moe.js";
import type { BpeTokenizer } from "./tokenize.js";

/**
 * The llama decoder as tfjs variables, computing exactly llama.cpp's `llama` architecture on
 * Hugging Face weights (the function src/models/llama-forward.ts defines): RMSNorm, half-split
 * ("rotate_half") rotary embeddings, causal grouped-query attention, SwiGLU, no biases, tied or
 * untied output. Weights are tf.Variables keyed by their Hugging Face names and kept in Hugging
 * Face layout ([out, in] matrices). Optional LoRA adapters (rank r, scale alpha/r) sit on the
 * attention and MLP projections: W·x + scale·B·(A·x), A [r, in], B [out, r]. With `config.moe`
 * each MLP is Mixtral's sparse mixture of experts instead (moe.ts).
 */
export const LORA_TARGETS = [
  "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
  "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj",
] as const;

export interface LoraOptions {
  rank: number;
  alpha: number;
}

export interface LoraState extends LoraOptions {
  scale: number;
  /** Base weight name (model.layers.N.self_attn.q_proj.weight) → its A and B. */
  modules: Map<string, { a: tf.Variable; b: tf.Variable }>;
}

export interface TrainModel {
  readonly config: LlamaConfig;
  /** Hugging Face name → weight. Frozen when the model carries LoRA adapters. */
  readonly weights: Map<string, tf.Variable>;
  readonly lora?: LoraState;
  /** Mixtral's sparse MoE feed-forward blocks instead of dense MLPs (= config.moe). */
  readonly moe?: MoeShape;
  /** Without LoRA: the weights training updates (default all). */
  readonly trainableNames?: ReadonlySet<string>;
  readonly ops: MatMulOps;
  /** The tokenizer the model was trained with (exported alongside the weights). */
  readonly tokenizer?: BpeTokenizer;
}

export interface CreateModelOptions {
  seed: number;
  /** Starting weights by Hugging Face name (all of them); default: a seeded random initialisation. */
  init?: Map<string, Float32Array>;
  lora?: LoraOptions;
  /** Matrix products with explicit transposes and hand-written gradients (default true). */
  customGrad?: boolean;
  /** Standard deviation of the random initialisation (default 0.02). */
  initScale?: number;
  tokenizer?: BpeTokenizer;
  /** Train only the weights this accepts (by Hugging Face name; not with LoRA). */
  trainable?: (name: string) => boolean;
}

let modelCounter = 0;

export function createTrainModel(config: LlamaConfig, options: CreateModelOptions): TrainModel {
  checkConfig(config);
  const id = ++modelCounter;
  if (config.moe) checkMoeShape(config.moe);
  if (config.moe && options.lora) throw new ConfigError(["LoRA adapters on a mixture of experts are not supported"]);
  const shapes = modelTensorShapes(config);
  const weights = new Map<string, tf.Variable>();
  const scale = options.initScale ?? 0.02;
  const trainableNames = options.lora === undefined && options.trainable ? new Set(shapes.map((s) => s.name).filter(options.trainable)) : undefined;
  shapes.forEach(({ name, shape }, index) => {
    const trainable = options.lora === undefined && (trainableNames?.has(name) ?? true);
    let values: Float32Array;
    if (options.init) {
      const given = options.init.get(name);
      if (!given) throw new ConfigError([`initial weights lack ${name}`]);
      if (given.length !== elementCount(shape)) throw new ConfigError([`initial weight ${name} has ${given.length} values, expected [${shape.join(", ")}]`]);
      values = given;
    } else {
      values = randomWeight(name, shape, tensorSeed(options.seed, index), scale, config.numLayers);
    }
    weights.set(name, tf.tidy(() => tf.variable(tf.tensor(values, shape, "float32"), trainable, `${name}#${id}`)));
  });
  let lora: LoraState | undefined;
  if (options.lora) {
    const { rank, alpha } = options.lora;
    if (!Number.isInteger(rank) || rank <= 0) throw new ConfigError([`lora.rank must be a positive integer (got ${rank})`]);
    if (!(alpha > 0)) throw new ConfigError([`lora.alpha must be positive (got ${alpha})`]);
    const modules = new Map<string, { a: tf.Variable; b: tf.Variable }>();
    let index = 0;
    for (let layer = 0; layer < config.numLayers; layer++) {
      for (const target of LORA_TARGETS) {
        const name = `model.layers.${layer}.${target}.weight`;
        const [out, inn] = weights.get(name)!.shape;
        // As PEFT initialises: A uniform in ±1/√in (Kaiming with a = √5), B zero, so training starts at the base.
        const rng = new Rng(tensorSeed(options.seed ^ 0x5bd1e995, index++));
        const bound = 1 / Math.sqrt(inn);
        const a = Float32Array.from({ length: rank * inn }, () => (2 * rng.next() - 1) * bound);
        modules.set(name, tf.tidy(() => ({
          a: tf.variable(tf.tensor2d(a, [rank, inn]), true, `${loraName(name, "A")}#${id}`),
          b: tf.variable(tf.zeros([out, rank]), true, `${loraName(name, "B")}#${id}`),
        })));
      }
    }
    lora = { rank, alpha, scale: alpha / rank, modules };
  }
  return {
    config, weights, lora, moe: config.moe, trainableNames,
    ops: options.customGrad === false ? builtinMatMulOps : customMatMulOps, tokenizer: options.tokenizer,
  };
}


/** The name a LoRA factor is stored under (PEFT's, without its `base_model.model.` prefix). */
export function loraName(target: string, which: "A" | "B"): string {
  return `${target.replace(/\.weight$/, "")}.lora_${which}.weight`;
}

/** The variables training updates, by name (LoRA factors, or every weight). */
export function trainableVariables(model: TrainModel): Map<string, tf.Variable> {
  const names = model.trainableNames;
  if (!model.lora) return names ? new Map([...model.weights].filter(([name]) => names.has(name))) : model.weights;
  const out = new Map<string, tf.Variable>();
  for (const [target, { a, b }] of model.lora.modules) {
    out.set(loraName(target, "A"), a);
    out.set(loraName(target, "B"), b);
  }
  return out;
}

export function disposeTrainModel(model: TrainModel): void {
  for (const v of model.weights.values()) v.dispose();
  for (const { a, b } of model.lora?.modules.values() ?? []) {
    a.dispose();
    b.dispose();
  }
  for (const c of constantsCache.get(model)?.values() ?? []) tf.dispose([c.cos, c.sin, c.rotate, c.mask]);
  constantsCache.delete(model);
}

function checkConfig(config: LlamaConfig): void {
  const problems: string[] = [];
  if (config.attentionBias) problems.push(`${config.architecture} has attention biases; the trainer builds the bias-free llama architecture`);
  if (config.numHeads % config.numKvHeads !== 0) problems.push(`numHeads (${config.numHeads}) must be a multiple of numKvHeads (${config.numKvHeads})`);
  if (config.headDim % 2 !== 0) problems.push(`headDim (${config.headDim}) must be even for rotary embeddings`);
  if (problems.length) throw new ConfigError(problems, "model config");
}

/** A per-tensor seed: independent streams for each tensor, derived from the run's seed. */
export function tensorSeed(seed: number, index: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca77)) >>> 0;
}

function randomWeight(name: string, shape: number[], seed: number, scale: number, numLayers: number): Float32Array {
  const n = elementCount(shape);
  if (name.endsWith("norm.weight")) return new Float32Array(n).fill(1);
  // Projections that write into the residual stream start smaller, as in GPT-2.
  const std = /o_proj|down_proj|\.w2\.weight$/.test(name) ? scale / Math.sqrt(2 * numLayers) : scale;
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => std * rng.normal());
}

interface Constants { cos: tf.Tensor2D; sin: tf.Tensor2D; rotate: tf.Tensor2D; mask: tf.Tensor2D }
const constantsCache = new WeakMap<TrainModel, Map<number, Constants>>();

/** Rotary tables [T, headDim] (angles as llama-forward.ts computes them), rotate_half as a matrix, the causal mask. */
function constants(model: TrainModel, seqLen: number): Constants {
  const { config } = model;
  let byLength = constantsCache.get(model);
  if (!byLength) constantsCache.set(model, (byLength = new Map()));
  const hit = byLength.get(seqLen);
  if (hit) return hit;
  const hd = config.headDim;
  const half = hd / 2;
  const group = config.numHeads / config.numKvHeads;
  const cos = new Float32Array(seqLen * hd);
  const sin = new Float32Array(seqLen * hd);
  for (let pos = 0; pos < seqLen; pos++) {
    for (let j = 0; j < half; j++) {
      const angle = pos * Math.pow(config.ropeTheta, (-2 * j) / hd);
      cos[pos * hd + j] = cos[pos * hd + j + half] = Math.cos(angle);
      sin[pos * hd + j] = sin[pos * hd + j + half] = Math.sin(angle);
    }
  }
  // rotate_half(x) = [-x2, x1] = x·R with R[j+half, j] = -1 and R[j, j+half] = 1.
  const rotate = new Float32Array(hd * hd);
  for (let j = 0; j < half; j++) {
    rotate[(j + half) * hd + j] = -1;
    rotate[j * hd + j + half] = 1;
  }
  // Query rows of one key/value group are stacked: row g·T + t attends to keys 0..t.
  const mask = new Float32Array(group * seqLen * seqLen);
  for (let g = 0; g < group; g++) {
    for (let t = 0; t < seqLen; t++) for (let s = t + 1; s < seqLen; s++) mask[(g * seqLen + t) * seqLen + s] = MASKED;
  }
  const c: Constants = {
    cos: tf.keep(tf.tensor2d(cos, [seqLen, hd])),
    sin: tf.keep(tf.tensor2d(sin, [seqLen, hd])),
    rotate: tf.keep(tf.tensor2d(rotate, [hd, hd])),
    mask: tf.keep(tf.tensor2d(mask, [group * seqLen, seqLen])),
  };
  byLength.set(seqLen, c);
  return c;
}

/** Added to attention scores of future positions: exp underflows to exactly 0 after the softmax shift. */
const MASKED = -1e9;

/** Gate logits and top-k masks ([B·T, E]) of one MoE layer, collected during a forward pass. */
export interface RouteRecord {
  logits: tf.Tensor2D;
  mask: tf.Tensor2D;
}

/**
 * Next-token logits [B·T, vocab] for token ids [B, T] (row b·T + t follows token t of sequence b).
 * With `routes`, MoE layers append their gate logits and top-k masks to it. Call inside tf.tidy.
 */
export function forwardLogits(model: TrainModel, ids: tf.Tensor2D, routes?: RouteRecord[]): tf.Tensor2D {
  const { config, ops } = model;
  const [batch, seqLen] = ids.shape;
  const { numHeads: heads, numKvHeads: kvHeads, headDim: hd } = config;
  const group = heads / kvHeads;
  const c = constants(model, seqLen);
  const w = (name: string) => model.weights.get(name) as tf.Tensor2D;
  const project = (x: tf.Tensor2D, name: string): tf.Tensor2D => {
    const y = ops.linear(x, w(name));
    const adapter = model.lora?.modules.get(name);
    if (!adapter) return y;
    const low = ops.linear(ops.linear(x, adapter.a as tf.Tensor2D), adapter.b as tf.Tensor2D);
    return tf.add(y, tf.mul(low, model.lora!.scale));
  };
  const norm = (x: tf.Tensor2D, name: string): tf.Tensor2D => {
    const inv = tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), config.rmsNormEps));
    return tf.mul(tf.mul(x, inv), w(name));
  };
  const rope = (x: tf.Tensor4D, n: number): tf.Tensor4D => {
    const rotated = ops.matMul(tf.reshape(x, [batch * n * seqLen, hd]), c.rotate).reshape([batch, n, seqLen, hd]);
    return tf.add(tf.mul(x, c.cos), tf.mul(rotated, c.sin));
  };
  const split = (x: tf.Tensor2D, n: number): tf.Tensor4D => tf.transpose(tf.reshape(x, [batch, seqLen, n, hd]), [0, 2, 1, 3]);

  let x = embed(tf.reshape(ids, [batch * seqLen]), w("model.embed_tokens.weight"));
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}.`;
    const h = norm(x, p + "input_layernorm.weight");
    const q = rope(split(project(h, p + "self_attn.q_proj.weight"), heads), heads);
    const k = rope(split(project(h, p + "self_attn.k_proj.weight"), kvHeads), kvHeads);
    const v = split(project(h, p + "self_attn.v_proj.weight"), kvHeads);
    // Heads h = kv·group + j share key/value head kv: stack each group's queries as rows.
    const qg = tf.reshape(q, [batch, kvHeads, group * seqLen, hd]);
    const scores = tf.add(tf.mul(ops.matMulT(qg, k), 1 / Math.sqrt(hd)), c.mask);
    const attended = ops.matMul(tf.softmax(scores), v);
    const merged = tf.reshape(tf.transpose(tf.reshape(attended, [batch, heads, seqLen, hd]), [0, 2, 1, 3]), [batch * seqLen, heads * hd]);
    x = tf.add(x, project(merged as tf.Tensor2D, p + "self_attn.o_proj.weight"));
    const g = norm(x, p + "post_attention_layernorm.weight");
    if (model.moe) {
      const block = moeFeedForward(g, i, model.moe, w, ops);
      routes?.push({ logits: block.logits, mask: block.mask });
      x = tf.add(x, block.output);
      continue;
    }
    const gate = project(g, p + "mlp.gate_proj.weight");
    const up = project(g, p + "mlp.up_proj.weight");
    x = tf.add(x, project(tf.mul(tf.mul(gate, tf.sigmoid(gate)), up), p + "mlp.down_proj.weight"));
  }
  const out = norm(x, "model.norm.weight");
  return ops.linear(out, w(config.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"));
}

/**
 * Embedding rows for token ids: a gather forward, and as gradient the one-hot product ᵀ·dy
 * (tfjs's wasm backend has no gradient for gather). The ids are an input saved for the backward
 * pass: ids made inside the loss (an objective's batch) are gone by the time it runs otherwise.
 */
export function embed(ids: tf.Tensor1D, table: tf.Tensor2D): tf.Tensor2D {
  const [vocab] = table.shape;
  const op = tf.customGrad((t, i, save) => {
    (save as tf.GradSaveFunc)([i as tf.Tensor1D]);
    return {
      value: tf.gather(t as tf.Tensor2D, i as tf.Tensor1D),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.matMul(tf.transpose(floatOneHot(saved[0] as tf.Tensor1D, vocab)), dy), tf.zerosLike(saved[0]!)],
    };
  });
  return op(table, ids) as tf.Tensor2D;
}

/** A float32 one-hot matrix. (tfjs 4.22's wasm OneHot ignores dtype "float32": it writes integer bits, so cast.) */
function floatOneHot(ids: tf.Tensor1D, depth: number): tf.Tensor2D {
  return tf.cast(tf.oneHot(ids, depth), "float32") as tf.Tensor2D;
}

/** Mean next-token cross-entropy (nats) of `targets` [B, T] given `inputs` [B, T]. Call inside tf.tidy. */
export function lossOf(model: TrainModel, inputs: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  const logits = forwardLogits(model, inputs);
  return tf.mean(tokenNll(logits, targets));
}

/**
 * −log p(target) per position [B·T], with a hand-written gradient (softmax − one-hot) · dy: the
 * automatic one goes through logSumExp's max, whose broadcast `equal` is very slow on wasm.
 */
export function tokenNll(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor1D {
  const [n, vocab] = logits.shape;
  const oneHot = floatOneHot(tf.reshape(targets, [n]), vocab);
  return crossEntropy(logits, oneHot) as tf.Tensor1D;
}

const crossEntropy = tf.customGrad((logits, oneHot, save) => {
  const [x, y] = [logits as tf.Tensor2D, oneHot as tf.Tensor2D];
  const shifted = tf.sub(x, tf.max(x, -1, true));
  const logProbs = tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), -1, true)));
  (save as tf.GradSaveFunc)([tf.exp(logProbs), y]);
  return {
    value: tf.neg(tf.sum(tf.mul(logProbs, y), -1)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [probs, target] = saved;
      return [tf.mul(tf.sub(probs, target), tf.reshape(dy, [-1, 1])), tf.zerosLike(target)];
    },
  };
});

/** Read every weight (merged with its LoRA update when `merge`) as Float32Arrays by Hugging Face name. */
export function readWeights(model: TrainModel, merge = true): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, v] of model.weights) {
    const values = v.dataSync() as Float32Array;
    const adapter = merge ? model.lora?.modules.get(name) : undefined;
    if (!adapter) {
      out.set(name, Float32Array.from(values));
      continue;
    }
    const [rows, cols] = v.shape as [number, number];
    out.set(name, mergeLowRank(values, adapter.b.dataSync() as Float32Array, adapter.a.dataSync() as Float32Array, rows, cols, model.lora!.rank, model.lora!.scale));
  }
  return out;
}

/** W + scale·B·A in float64 arithmetic, rounded once to float32. W [out, in], B [out, r], A [r, in]. */
export function mergeLowRank(w: Float32Array, b: Float32Array, a: Float32Array, out: number, inn: number, rank: number, scale: number): Float32Array {
  const merged = new Float32Array(w.length);
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < inn; i++) {
      let s = 0;
      for (let k = 0; k < rank; k++) s += b[o * rank + k] * a[k * inn + i];
      merged[o * inn + i] = w[o * inn + i] + scale * s;
    }
  }
  return merged;
}

/** Check that initial weights cover the config's tensors with the right shapes. */
export function checkInitWeights(config: LlamaConfig, weights: Map<string, Float32Array>, source: string): void {
  const problems: string[] = [];
  for (const { name, shape } of modelTensorShapes(config)) {
    const values = weights.get(name);
    if (!values) problems.push(`missing ${name}`);
    else if (values.length !== elementCount(shape)) problems.push(`${name} has ${values.length} values, expected [${shape.join(", ")}]`);
  }
  if (problems.length) throw new InputFileError(source, problems.slice(0, 8).join("; "));
}
