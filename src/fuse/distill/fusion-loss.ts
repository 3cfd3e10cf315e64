import { tf } from "../../zoo/train/backend.js";

/**
 * The fusion terms of pivot training, on the pivot's next-token logits [N, V] (one row per
 * predicted position). Both are written as plain loops over the logits in float64 with their
 * exact gradients (a tfjs custom op): the targets are sparse (k ≪ V entries per row) and the
 * sort inside the ULD distance has no tfjs gradient.
 *
 * aligned (FuseLLM): KL(fused ‖ pivot) on the partition {c₁ … c_k, rest} of the vocabulary,
 *   Σⱼ pⱼ·log(pⱼ / q_{cⱼ}) + r·log(r / (1 − Σⱼ q_{cⱼ})),  r = 1 − Σⱼ pⱼ.
 *   The mass the fused target leaves outside its k candidates (r) is matched against the pivot's
 *   mass outside them: no leftover is invented or spread, and a top-k target never pushes the
 *   pivot's other tokens to zero.
 * uld (InfiFusion / Universal Logit Distillation): per source s, the 1-D Wasserstein distance
 *   between the pivot's k largest probabilities and the source's, both sorted descending,
 *   Σⱼ |q₍ⱼ₎ − p_s₍ⱼ₎|, weighted by the text's source weights. Vocabularies need not match.
 * Each term is averaged over the rows whose `rowWeight` is non-zero (padding has weight 0).
 */
export interface AlignedRows {
  k: number;
  /** [N·k] candidate pivot ids (-1: empty). */
  ids: Int32Array;
  /** [N·k] their probabilities. */
  probs: Float32Array;
}

export interface UldRows {
  k: number;
  sources: number;
  /** [S·N·k]: source s, row n at (s·N + n)·k. */
  sorted: Float32Array;
  /** [S·N]: the source's weight on row n (its text's weight; 0 for padding). */
  weights: Float32Array;
}

/** A pivot's mass outside the candidates is floored here so log(1 − s) stays finite. */
const MIN_REST_MASS = 1e-9;
const LOG_FLOOR = 1e-30;

/** Loss value and d loss / d logits for the aligned KL; rows with rowWeight 0 are skipped. */
export function alignedKlAndGrad(logits: Float32Array, vocab: number, target: AlignedRows, rowWeight: Float32Array): { loss: number; grad: Float32Array } {
  const n = rowWeight.length;
  const grad = new Float32Array(n * vocab);
  const q = new Float64Array(vocab);
  const isCandidate = new Uint8Array(vocab);
  const p = new Float64Array(vocab);
  let total = 0;
  let weightSum = 0;
  for (let row = 0; row < n; row++) {
    const w = rowWeight[row]!;
    if (w === 0) continue;
    weightSum += w;
    softmaxRow(logits, row * vocab, vocab, q);
    isCandidate.fill(0);
    p.fill(0);
    let pSum = 0;
    for (let j = 0; j < target.k; j++) {
      const id = target.ids[row * target.k + j]!;
      if (id < 0) continue;
      isCandidate[id] = 1;
      p[id] += target.probs[row * target.k + j]!;
      pSum += target.probs[row * target.k + j]!;
    }
    const rest = Math.max(0, 1 - pSum);
    let s = 0;
    let kl = 0;
    for (let v = 0; v < vocab; v++) {
      if (!isCandidate[v]) continue;
      s += q[v]!;
      if (p[v]! > 0) kl += p[v]! * (Math.log(p[v]!) - Math.log(Math.max(q[v]!, LOG_FLOOR)));
    }
    const pivotRest = Math.max(1 - s, MIN_REST_MASS);
    if (rest > 0) kl += rest * (Math.log(rest) - Math.log(pivotRest));
    total += w * kl;
    // d/dz_u: −p_u + (Σp)·q_u + r·q_u·(M_u − s)/(1 − s)
    for (let u = 0; u < vocab; u++) {
      const g = -p[u]! + pSum * q[u]! + (rest > 0 ? (rest * q[u]! * (isCandidate[u]! - s)) / pivotRest : 0);
      grad[row * vocab + u] = w * g;
    }
  }
  return normalise(total, grad, weightSum);
}

/** Loss value and d loss / d logits for the weighted ULD distance. */
export function uldDistanceAndGrad(logits: Float32Array, vocab: number, target: UldRows): { loss: number; grad: Float32Array } {
  const n = target.weights.length / target.sources;
  const { k } = target;
  const grad = new Float32Array(n * vocab);
  const q = new Float64Array(vocab);
  const order = new Int32Array(vocab);
  const g = new Float64Array(vocab);
  let total = 0;
  let weightSum = 0;
  for (let row = 0; row < n; row++) {
    let rowWeight = 0;
    for (let s = 0; s < target.sources; s++) rowWeight += target.weights[s * n + row]!;
    if (rowWeight === 0) continue;
    weightSum += rowWeight;
    softmaxRow(logits, row * vocab, vocab, q);
    topIndices(q, k, order);
    g.fill(0);
    for (let s = 0; s < target.sources; s++) {
      const w = target.weights[s * n + row]!;
      if (w === 0) continue;
      for (let j = 0; j < k && j < vocab; j++) {
        const diff = q[order[j]!]! - target.sorted[(s * n + row) * k + j]!;
        total += w * Math.abs(diff);
        g[order[j]!] += w * Math.sign(diff);
      }
    }
    // Through the softmax: d/dz_u = q_u·(g_u − Σ_v g_v·q_v).
    let mean = 0;
    for (let v = 0; v < vocab; v++) mean += g[v]! * q[v]!;
    for (let u = 0; u < vocab; u++) grad[row * vocab + u] = q[u]! * (g[u]! - mean);
  }
  return normalise(total, grad, weightSum);
}

/**
 * A tfjs scalar whose value is `compute(logits).loss` and whose gradient with respect to the
 * logits is `compute(logits).grad`: plugs the JS losses above into tf.variableGrads.
 */
export function jsLoss(logits: tf.Tensor2D, compute: (values: Float32Array, vocab: number) => { loss: number; grad: Float32Array }): tf.Scalar {
  const [n, vocab] = logits.shape;
  const op = tf.customGrad((x) => {
    const { loss, grad } = compute((x as tf.Tensor2D).dataSync() as Float32Array, vocab);
    return {
      value: tf.scalar(loss),
      gradFunc: (dy: tf.Tensor) => tf.mul(tf.tensor2d(grad, [n, vocab]), dy),
    };
  });
  return op(logits) as tf.Scalar;
}

function normalise(total: number, grad: Float32Array, weightSum: number): { loss: number; grad: Float32Array } {
  if (weightSum === 0) return { loss: 0, grad };
  for (let i = 0; i < grad.length; i++) grad[i] /= weightSum;
  return { loss: total / weightSum, grad };
}

function softmaxRow(logits: Float32Array, offset: number, vocab: number, out: Float64Array): void {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[offset + v]!);
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += out[v] = Math.exp(logits[offset + v]! - max);
  for (let v = 0; v < vocab; v++) out[v] /= sum;
}

/** The indices of the k largest entries, descending (ties: lower index first), into order[0..k). */
function topIndices(q: Float64Array, k: number, order: Int32Array): void {
  const m = Math.min(k, q.length);
  let count = 0;
  for (let v = 0; v < q.length; v++) {
    if (count === m && q[v]! <= q[order[m - 1]!]!) continue;
    let at = count < m ? count++ : m - 1;
    while (at > 0 && q[order[at - 1]!]! < q[v]!) {
      order[at] = order[at - 1]!;
      at--;
    }
    order[at] = v;
  }
}
