import type { Rng } from "../../core/rng.js";
import type { MergeMethod } from "./types.js";

/** Above this many elements the quartiles come from a sample (with replacement) of this size, as in mergekit. */
export const ARCEE_FUSION_SAMPLE = 1_000_000;
const EPS = 1e-8;

/** Softmax of `x[at..at+n)` plus EPS, into `out`. */
function softmaxEps(x: Float32Array, at: number, n: number, out: Float64Array): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, x[at + i]);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += out[i] = Math.exp(x[at + i] - max);
  for (let i = 0; i < n; i++) out[i] = out[i] / sum + EPS;
}

/**
 * Each element's importance: |x − base| times the KL divergence between the softmax of its row in
 * the model and in the base (rows are the innermost dimension; a vector is one row).
 */
function importance(x: Float32Array, base: Float32Array, shape: readonly number[]): Float64Array {
  const n = shape.length ? shape[shape.length - 1] : x.length;
  const p = new Float64Array(n);
  const q = new Float64Array(n);
  const out = new Float64Array(x.length);
  for (let at = 0; at < x.length; at += n) {
    softmaxEps(x, at, n, p);
    softmaxEps(base, at, n, q);
    let kl = 0;
    for (let i = 0; i < n; i++) kl += p[i] * Math.log(p[i] / q[i]);
    for (let i = 0; i < n; i++) out[at + i] = Math.abs(x[at + i] - base[at + i]) * kl;
  }
  return out;
}

/** mergekit's outlier threshold: median + 1.5 · (q3 − q1), quantile q at sorted index ⌊q·(n−1)⌋. */
function threshold(scores: Float64Array, rng: Rng): number {
  let sample = scores;
  if (scores.length > ARCEE_FUSION_SAMPLE) {
    sample = new Float64Array(ARCEE_FUSION_SAMPLE);
    for (let i = 0; i < sample.length; i++) sample[i] = scores[rng.int(scores.length)];
  }
  const sorted = sample.slice().sort();
  const at = (q: number) => sorted[Math.trunc(q * (sorted.length - 1))];
  return at(0.5) + 1.5 * (at(0.75) - at(0.25));
}

/**
 * Arcee Fusion: keep the other model's change only where it matters most. An element takes the
 * other model's value when its importance (|Δ| × its row's softmax KL divergence) is an upper
 * outlier (≥ median + 1.5 IQR of all importances), and the base's value otherwise.
 */
export const arceeFusion: MergeMethod = {
  name: "arcee_fusion",
  summary: "Take the other model's weights only where their importance (|Δ| × row KL) is an outlier",
  base: "required",
  models: { min: 1, max: 1 },
  params: [],
  merge({ tensors, base, shape, rng }) {
    const a = base!;
    const x = tensors[0];
    const scores = importance(x, a, shape);
    const cut = threshold(scores, rng);
    const out = a.slice();
    // base + (x − base) · mask, in float32 as mergekit computes it.
    for (let i = 0; i < out.length; i++) if (scores[i] >= cut) out[i] = Math.fround(a[i] + Math.fround(x[i] - a[i]));
    return out;
  },
};
