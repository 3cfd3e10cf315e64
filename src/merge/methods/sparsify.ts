/**
 * Sparsification of task vectors (d = x − base), as mergekit's sparsify.py defines it:
 * magnitude (TIES), random (DARE), magnitude_outliers (breadcrumbs) and della_magprune (DELLA).
 * Each returns a new array; the input is not modified.
 */
import type { Rng } from "../../core/rng.js";
import { bandMask, topKMask } from "./topk.js";

export type Sparsifier = "magnitude" | "random" | "outliers" | "della";

/** Below this L1 norm (before or after masking) rescaling is skipped, as in mergekit. */
export const RESCALE_EPSILON = 1e-7;

export interface SparsifyOptions {
  density: number;
  /** Rescale the kept entries so the L1 norm matches the unmasked vector. */
  rescale: boolean;
  /** Breadcrumbs: fraction of the largest |d| to drop. */
  gamma?: number;
  /** DELLA: keep probabilities range over density ± epsilon. */
  epsilon?: number;
  /** Length of the last dimension (DELLA ranks within rows). */
  rowLength?: number;
  rng?: Rng;
}

export function sparsify(d: Float32Array, method: Sparsifier, options: SparsifyOptions): Float32Array {
  const { density } = options;
  if (density >= 1) return d.slice();
  const n = d.length;
  let keep: Uint8Array;
  switch (method) {
    case "magnitude":
      keep = topKMask(d, Math.trunc(density * n));
      break;
    case "outliers":
      keep = outliersMask(d, density, options.gamma ?? 0.01);
      break;
    case "random":
      keep = bernoulliMask(n, density, requireRng(options.rng));
      break;
    case "della":
      if (density <= 0) return new Float32Array(n);
      keep = dellaMask(d, density, options.epsilon ?? 0.15, options.rowLength ?? n, requireRng(options.rng));
      break;
  }
  return applyMask(d, keep, options.rescale);
}

/**
 * Breadcrumbs: drop the int(gamma·n) largest and as many of the smallest as needed to keep
 * int(density·n). Unlike mergekit, gamma = 0 drops no large entries (mergekit's slice
 * `[n_bot:-0]` is empty and zeroes the whole task vector).
 */
export function outliersMask(d: Float32Array, density: number, gamma: number): Uint8Array {
  const n = d.length;
  const target = Math.trunc(density * n);
  let top = Math.trunc(gamma * n);
  if (n - target - top < 0) top = n - target;
  return bandMask(d, top, target);
}

/** DARE: keep each entry independently with probability `density`. */
export function bernoulliMask(n: number, density: number, rng: Rng): Uint8Array {
  const mask = new Uint8Array(n);
  if (density <= 0) return mask;
  const threshold = density * 4294967296;
  for (let i = 0; i < n; i++) mask[i] = rng.nextU32() < threshold ? 1 : 0;
  return mask;
}

/**
 * DELLA (MagPrune): within each row, rank entries by |d| (1 = smallest; ties by index); the
 * keep probability rises linearly from density − epsilon (smallest) to density + epsilon
 * (largest). A row of one entry keeps it with probability `density` (mergekit divides 0 by 0).
 */
export function dellaMask(d: Float32Array, density: number, epsilon: number, rowLength: number, rng: Rng): Uint8Array {
  const n = d.length;
  const mask = new Uint8Array(n);
  const m = rowLength;
  // Sort keys |d|-bits · 2^21 + column: exact in a double, ordered by magnitude then index, and
  // sortable natively (no comparator).
  const packed = m <= 1 << 21;
  const keys = new Float64Array(m);
  const bits = new Uint32Array(d.buffer, d.byteOffset, n);
  const order = new Uint32Array(m);
  for (let start = 0; start < n; start += m) {
    if (packed) {
      for (let j = 0; j < m; j++) keys[j] = (bits[start + j] & 0x7fffffff) * 2097152 + j;
      keys.sort();
      for (let r = 0; r < m; r++) order[r] = keys[r] % 2097152;
    } else {
      for (let j = 0; j < m; j++) order[j] = j;
      order.sort((a, b) => (bits[start + a] & 0x7fffffff) - (bits[start + b] & 0x7fffffff) || a - b);
    }
    for (let r = 0; r < m; r++) {
      const rankNorm = m > 1 ? r / (m - 1) : 0.5;
      const p = density - epsilon + rankNorm * 2 * epsilon;
      mask[start + order[r]] = rng.next() < p ? 1 : 0;
    }
  }
  return mask;
}

/** Zero the dropped entries; with `rescale`, multiply the rest so the L1 norm is preserved. */
export function applyMask(d: Float32Array, keep: Uint8Array, rescale: boolean): Float32Array {
  const out = new Float32Array(d.length);
  let before = 0;
  let after = 0;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    before += Math.abs(v);
    if (keep[i]) {
      out[i] = v;
      after += Math.abs(v);
    }
  }
  if (rescale && before >= RESCALE_EPSILON && after >= RESCALE_EPSILON) {
    const scale = before / after;
    for (let i = 0; i < out.length; i++) out[i] *= scale;
  }
  return out;
}

function requireRng(rng: Rng | undefined): Rng {
  if (!rng) throw new Error("sparsify: a random sparsifier needs an Rng");
  return rng;
}
