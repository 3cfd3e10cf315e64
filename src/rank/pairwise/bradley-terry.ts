/**
 * Bradley–Terry maximum likelihood, Chatbot Arena's parameterisation.
 *
 *   P(i beats j) = 1 / (1 + exp(−(θ_i − θ_j))),   θ = ln(10)·r,   rating = 400·r + 1000
 *
 * A tie (and a both_bad vote) counts as half a win for each side, as in Arena. Strengths are
 * fitted by Newton's method on pair counts and shifted to mean zero (mean rating 1000), which is
 * the solution an unpenalised logistic regression without intercept started from zero reaches.
 */
import type { PairCounts } from "./counts.js";
import { maximizeNewton } from "./newton.js";

export interface BradleyTerryFit {
  /** Natural-log strengths θ, mean zero. */
  theta: Float64Array;
  logLikelihood: number;
  iterations: number;
  converged: boolean;
}

export interface FitOptions {
  /**
   * Virtual wins added for each side of every compared pair. Zero gives the plain MLE, which is
   * finite only when the data has no separation (see components.ts).
   */
  prior?: number;
  /** Starting strengths (a warm start, e.g. the full-data fit for a bootstrap round). */
  start?: Float64Array;
  /** Newton's stopping step (default NEWTON_TOLERANCE). */
  tolerance?: number;
}

/**
 * Virtual wins added for each side of every compared pair, only when the plain MLE is infinite
 * (some models never lost or never won). Small enough to leave other ratings all but unchanged.
 */
export const SEPARATION_PRIOR = 0.01;

/** log σ(x) without overflow. */
export function logSigmoid(x: number): number {
  return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** Fit a connected set of pair counts. */
export function fitBradleyTerry(counts: PairCounts, options: FitOptions = {}): BradleyTerryFit {
  const m = counts.models.length;
  const prior = options.prior ?? 0;
  const pairs = counts.i.length;
  const wi = new Float64Array(pairs);
  const wj = new Float64Array(pairs);
  for (let p = 0; p < pairs; p++) {
    wi[p] = counts.winsI[p] + counts.ties[p] / 2 + prior;
    wj[p] = counts.winsJ[p] + counts.ties[p] / 2 + prior;
  }
  const objective = (x: Float64Array, grad: Float64Array | null, hess: Float64Array | null): number => {
    if (grad) grad.fill(0);
    if (hess) hess.fill(0);
    let value = 0;
    for (let p = 0; p < pairs; p++) {
      const i = counts.i[p];
      const j = counts.j[p];
      const d = x[i] - x[j];
      // logSigmoid(±d) and sigmoid(d) from one exp and one log1p, with the same operations (and
      // so the same bits) as those functions: log σ(d) = min(d, 0) − log1p(e^−|d|).
      const e = Math.exp(-Math.abs(d));
      const l = Math.log1p(e);
      value += wi[p] * (Math.min(d, 0) - l) + wj[p] * (Math.min(-d, 0) - l);
      if (grad && hess) {
        const n = wi[p] + wj[p];
        const s = d >= 0 ? 1 / (1 + e) : e / (1 + e);
        const g = wi[p] - n * s;
        grad[i] += g;
        grad[j] -= g;
        const h = n * s * (1 - s);
        hess[i * m + i] -= h;
        hess[j * m + j] -= h;
        hess[i * m + j] += h;
        hess[j * m + i] += h;
      }
    }
    return value;
  };
  if (m === 1) return { theta: new Float64Array(1), logLikelihood: 0, iterations: 0, converged: true };
  const result = maximizeNewton(options.start ? Float64Array.from(options.start) : new Float64Array(m), objective, { fixed: 0, tolerance: options.tolerance });
  centre(result.x, m);
  return { theta: result.x, logLikelihood: result.value, iterations: result.iterations, converged: result.converged };
}

/** Shift the first `m` entries to mean zero. */
export function centre(x: Float64Array, m: number): void {
  let mean = 0;
  for (let k = 0; k < m; k++) mean += x[k];
  mean /= m;
  for (let k = 0; k < m; k++) x[k] -= mean;
}

/** Rating points per natural-log unit of strength: 400 / ln 10. */
export const RATING_SCALE = 400 / Math.LN10;
export const RATING_OFFSET = 1000;

export function toRating(theta: number): number {
  return RATING_SCALE * theta + RATING_OFFSET;
}
