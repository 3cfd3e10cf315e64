/**
 * Bootstrap over battles. Resampling the N battles with replacement gives each battle a
 * Multinomial(N, 1/N, …, 1/N) count, and summing those counts over the battles of a cell
 * (pair × outcome) gives the cells Multinomial(N, n_c/N) counts — the same distribution of
 * resampled pair counts, which is all a fit sees. So each round draws that multinomial directly
 * over the ≈ thousands of cells (exact conditional binomials, core/binomial.ts) and refits:
 * O(cells + fit) per round instead of O(N).
 */
import { multinomial } from "../../core/binomial.js";
import { Rng } from "../../core/rng.js";
import type { Progress } from "../../core/progress.js";
import { cellsOf, withCells, type PairCounts } from "./counts.js";

/**
 * Newton's stopping step for a bootstrap refit. Newton converges quadratically here (on Arena the
 * steps from the warm start run 0.1, 3e−3, 1e−6, 2e−13: each about 0.2 × the previous squared),
 * so a step below 1e−5 leaves an error near 1e−11 natural-log units (≈ 2e−9 rating points) — far
 * below the bootstrap's own noise — and saves the last iteration of the full fit's 1e−11.
 */
export const BOOTSTRAP_TOLERANCE = 1e-5;

/** Strengths for one round's counts, or null when the round cannot be fitted. */
export type RoundFit = (counts: PairCounts) => Float64Array;

export interface BootstrapOptions {
  rounds: number;
  seed: number;
  progress?: Progress;
}

/**
 * Returns `rounds × models` strengths (row-major) for `counts` of whole votes. A model with no
 * battle in a round gets NaN for that round, so it does not pull its percentiles.
 */
export function bootstrapStrengths(counts: PairCounts, fit: RoundFit, options: BootstrapOptions): Float64Array {
  const m = counts.models.length;
  const observed = cellsOf(counts);
  let n = 0;
  for (const c of observed) {
    if (!Number.isInteger(c)) throw new RangeError(`bootstrap needs whole vote counts, got ${c}`);
    n += c;
  }
  const out = new Float64Array(options.rounds * m);
  const rng = new Rng(options.seed);
  const cells = new Float64Array(observed.length);
  const present = new Uint8Array(m);
  for (let round = 0; round < options.rounds; round++) {
    multinomial(rng, n, observed, cells);
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

