import { ConfigError } from "../../core/errors.js";
import type { LlamaConfig } from "../../formats/hf/config.js";
import { llamaTensorShapes } from "../random-llama.js";
import { tf } from "./backend.js";
import type { MatMulOps } from "./matmul.js";

/**
 * The Mixtral sparse mixture-of-experts feed-forward block for the trainer, computing what
 * Mixtral and llama.cpp's `llama` architecture compute: gate logits g = W_gate·x over E experts,
 * softmax over all E, keep the k largest, renormalise those k to sum 1 (the same as a softmax
 * over the k selected logits), output = Σ weight_e · SwiGLU_e(x) with
 * SwiGLU_e(x) = w2·(silu(w1·x) ⊙ w3·x). The top-k choice itself is not differentiable: gradients
 * reach the gate through the renormalised weights of the selected experts, and the experts
 * through their own outputs, as in Mixtral.
 *
 * Every expert is evaluated on every token and unselected ones get weight exactly 0: the zoo's
 * models are tiny, so dense evaluation is cheaper than gathering tokens per expert on wasm.
 */
/** E experts per layer (`num_local_experts`) and k used per token (`num_experts_per_tok`): LlamaConfig's `moe`. */
export type MoeShape = NonNullable<LlamaConfig["moe"]>;

export const moeGateName = (layer: number) => `model.layers.${layer}.block_sparse_moe.gate.weight`;
export const moeExpertName = (layer: number, expert: number, w: "w1" | "w2" | "w3") => `model.layers.${layer}.block_sparse_moe.experts.${expert}.${w}.weight`;

export function checkMoeShape(moe: MoeShape): void {
  const problems: string[] = [];
  if (!Number.isSafeInteger(moe.experts) || moe.experts < 1) problems.push(`num_local_experts must be a positive integer (got ${moe.experts})`);
  if (!Number.isSafeInteger(moe.expertsPerToken) || moe.expertsPerToken < 1) problems.push(`num_experts_per_tok must be a positive integer (got ${moe.expertsPerToken})`);
  else if (moe.expertsPerToken > moe.experts) problems.push(`num_experts_per_tok (${moe.expertsPerToken}) exceeds num_local_experts (${moe.experts})`);
  if (problems.length) throw new ConfigError(problems, "mixture of experts");
}

/** The model's tensors by Hugging Face name and shape: llama's, or with `config.moe` Mixtral's. */
export function modelTensorShapes(config: LlamaConfig): { name: string; shape: number[] }[] {
  return config.moe ? mixtralTensorShapes(config, config.moe) : llamaTensorShapes(config);
}

/** A Mixtral model's tensors in Hugging Face naming: llama's, with each MLP replaced by a gate and E experts. */
function mixtralTensorShapes(config: LlamaConfig, moe: MoeShape): { name: string; shape: number[] }[] {
  const { hiddenSize: d, intermediateSize: ff } = config;
  const out: { name: string; shape: number[] }[] = [];
  for (const t of llamaTensorShapes(config)) {
    const m = /^model\.layers\.(\d+)\.mlp\.(gate|up|down)_proj\.weight$/.exec(t.name);
    if (!m) {
      out.push(t);
      continue;
    }
    if (m[2] !== "gate") continue;
    const layer = Number(m[1]);
    out.push({ name: moeGateName(layer), shape: [moe.experts, d] });
    for (let e = 0; e < moe.experts; e++) {
      out.push({ name: moeExpertName(layer, e, "w1"), shape: [ff, d] });
      out.push({ name: moeExpertName(layer, e, "w2"), shape: [d, ff] });
      out.push({ name: moeExpertName(layer, e, "w3"), shape: [ff, d] });
    }
  }
  return out;
}

/**
 * 1 where an expert is among a row's k largest logits, else 0 ([N, E]). A constant for the
 * gradient (the selection is a discrete choice); ties go to the lower expert index, as in
 * llama.cpp's argsort.
 */
export const topKMask = (logits: tf.Tensor2D, k: number): tf.Tensor2D => {
  const op = tf.customGrad((x) => {
    const [, experts] = (x as tf.Tensor2D).shape;
    const { indices } = tf.topk(x as tf.Tensor2D, k, true);
    const mask = tf.sum(tf.cast(tf.oneHot(indices as tf.Tensor2D, experts), "float32"), 1);
    return { value: mask, gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
  });
  return op(logits) as tf.Tensor2D;
};

/** Added to unselected logits: exp underflows to exactly 0 after the softmax shift. */
const UNSELECTED = -1e9;

/** Renormalised routing weights [N, E] (zero outside each row's top k) from gate logits and the top-k mask. */
export function routingWeights(logits: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor2D {
  return tf.softmax(tf.add(logits, tf.mul(tf.sub(1, mask), UNSELECTED))) as tf.Tensor2D;
}

export interface MoeForward {
  output: tf.Tensor2D;
  /** Gate logits [N, E], for the load-balancing loss and routing statistics. */
  logits: tf.Tensor2D;
  mask: tf.Tensor2D;
}

/** The sparse MoE block on normalised hidden states x [N, hidden]. Call inside tf.tidy. */
export function moeFeedForward(
  x: tf.Tensor2D,
  layer: number,
  moe: MoeShape,
  weight: (name: string) => tf.Tensor2D,
  ops: MatMulOps,
): MoeForward {
  const logits = ops.linear(x, weight(moeGateName(layer)));
  const mask = topKMask(logits, moe.expertsPerToken);
  const routed = routingWeights(logits, mask);
  let output: tf.Tensor2D | undefined;
  for (let e = 0; e < moe.experts; e++) {
    const gate = ops.linear(x, weight(moeExpertName(layer, e, "w1")));
    const up = ops.linear(x, weight(moeExpertName(layer, e, "w3")));
    const y = ops.linear(tf.mul(tf.mul(gate, tf.sigmoid(gate)), up), weight(moeExpertName(layer, e, "w2")));
    const weighted = tf.mul(y, tf.slice(routed, [0, e], [-1, 1])) as tf.Tensor2D;
    output = output ? (tf.add(output, weighted) as tf.Tensor2D) : weighted;
  }
  return { output: output!, logits, mask };
}

/**
 * Switch Transformer / Mixtral load-balancing loss, as Hugging Face's Mixtral computes it: the
 * gate logits of all layers are stacked as rows, f_e = share of rows with e among their top k
 * (so Σf = k), P_e = mean softmax probability of e; loss = E · Σ_e f_e · P_e. It is k when routing
 * is uniform, larger when unbalanced; only P carries a gradient.
 */
export function loadBalancingLoss(routes: readonly { logits: tf.Tensor2D; mask: tf.Tensor2D }[], experts: number): tf.Scalar {
  const logits = tf.concat(routes.map((r) => r.logits), 0);
  const mask = tf.concat(routes.map((r) => r.mask), 0);
  const f = tf.mean(mask, 0);
  const p = tf.mean(tf.softmax(logits), 0);
  return tf.mul(tf.sum(tf.mul(f, p)), experts);
}
