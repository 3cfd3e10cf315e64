import type { ItemResult } from "../core/evidence.js";
import type { ResponseMatrix } from "./responses.js";

/**
 * Continuous scores (bits per byte turned into 2^−bpb, log-likelihoods) often vary over a narrow
 * band that a Bernoulli model such as the 2PL barely sees: 2^−2.2 vs 2^−2.5 is 0.22 vs 0.18. What
 * matters is how models compare on the same item, so each item's scores are rescaled to [0, 1]
 * across the models that answered it: the best gets 1, the worst 0. Items on which every model
 * scored the same are kept unchanged (the ranking marks them uninformative).
 */
export function relativeScores(results: readonly ItemResult[]): ItemResult[] {
  const range = new Map<string, { min: number; max: number }>();
  for (const r of results) {
    const entry = range.get(r.item);
    if (!entry) range.set(r.item, { min: r.score, max: r.score });
    else {
      entry.min = Math.min(entry.min, r.score);
      entry.max = Math.max(entry.max, r.score);
    }
  }
  return results.map((r) => {
    const { min, max } = range.get(r.item)!;
    return max > min ? { ...r, score: (r.score - min) / (max - min) } : r;
  });
}

/** The same rescaling on a response matrix (a copy; the input is left as it is). */
export function relativeMatrix(matrix: ResponseMatrix): ResponseMatrix {
  const score = Float32Array.from(matrix.score);
  for (let i = 0; i < matrix.items.length; i++) {
    let min = Infinity;
    let max = -Infinity;
    for (let r = matrix.itemStart[i]; r < matrix.itemStart[i + 1]; r++) {
      min = Math.min(min, score[r]);
      max = Math.max(max, score[r]);
    }
    if (max > min) for (let r = matrix.itemStart[i]; r < matrix.itemStart[i + 1]; r++) score[r] = (score[r] - min) / (max - min);
  }
  return { ...matrix, score };
}
