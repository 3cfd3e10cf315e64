/**
 * Bootstrap over battles. Resampling N battles with replacement is the same as drawing
 * multinomial counts over the aggregated cells (pair × outcome), so each round draws N cell
 * indices from the battles' cells and refits on the resulting pair counts: O(N + fit) per
 * round, with no per-battle arrays rebuilt.
 */
import { Rng } from "../../core/rng.js";
import type { Progress } from "../../core/progress.js";
import { withCells, type PairCounts } from "./counts.js";

/** Strengths for one round's counts, or null when the round cannot be fitted. */
export type RoundFit = (counts: PairCounts) => Float64Array;

export interface BootstrapOptions {
  rounds: number;
  seed: number;
  progress?: Progress;
}

/**
 * Returns `rounds × models` strengths (row-major). A model with no battle in a round gets NaN for
 * that round, so it does not pull its percentiles.
 */
export function bootstrapStrengths(counts: PairCounts, cellOfVote: Int32Array, fit: RoundFit, options: BootstrapOptions): Float64Array {
  const m = counts.models.length;
  const n = cellOfVote.length;
  const out = new Float64Array(options.rounds * m);
  const rng = new Rng(options.seed);
  const cells = new Float64Array(counts.i.length * 3);
  const present = new Uint8Array(m);
  for (let round = 0; round < options.rounds; round++) {
    cells.fill(0);
    for (let k = 0; k < n; k++) cells[cellOfVote[rng.below(n)]]++;
    const resampled = withCells(counts, cells);
    present.fill(0);
    for (let p = 0; p < resampled.i.length; p++) {
      if (resampled.winsI[p] + resampled.winsJ[p] + resampled.ties[p] > 0) present[resampled.i[p]] = present[resampled.j[p]] = 1;
    }
    const theta = fit(resampled);
    for (let k = 0; k < m; k++) out[round * m + k] = present[k] ? theta[k] : NaN;
    options.progress?.tick(1);
  }
  return out;
}

