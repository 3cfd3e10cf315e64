/**
 * Davidson's (1970) tie model: with π = exp(θ),
 *
 *   P(i beats j) = π_i / (π_i + π_j + ν·√(π_i π_j)),   P(tie) = ν·√(π_i π_j) / (same),
 *
 * so, given a decisive outcome, P(i beats j) is the Bradley–Terry probability and ratings are on
 * the same 400·θ/ln(10) + 1000 scale. Strengths and λ = ln ν are fitted jointly by Newton's method
 * (the log-likelihood is concave in (θ, λ): linear terms minus a log-sum-exp). both_bad votes
 * count as ties.
 */
import type { PairCounts } from "./counts.js";
import { centre, type FitOptions } from "./bradley-terry.js";
import { maximizeNewton } from "./newton.js";

export interface DavidsonFit {
  /** Natural-log strengths θ, mean zero. */
  theta: Float64Array;
  /** The tie parameter ν. */
  nu: number;
  logLikelihood: number;
  iterations: number;
  converged: boolean;
}

/**
 * Fit a connected set of pair counts with at least one tie and one decisive vote (otherwise ν is
 * 0 or infinite). `prior` adds virtual wins for each side of every pair.
 */
export function fitDavidson(counts: PairCounts, options: FitOptions & { startNu?: number } = {}): DavidsonFit {
  const m = counts.models.length;
  const k = m + 1; // θ_0..θ_{m−1}, λ
  const prior = options.prior ?? 0;
  const pairs = counts.i.length;
  let totalTies = 0;
  let total = 0;
  for (let p = 0; p < pairs; p++) {
    totalTies += counts.ties[p];
    total += counts.winsI[p] + counts.winsJ[p] + counts.ties[p] + 2 * prior;
  }
  if (totalTies === 0 || totalTies === total) throw new Error("the Davidson model needs both ties and decisive votes");
  const objective = (x: Float64Array, grad: Float64Array | null, hess: Float64Array | null): number => {
    if (grad) grad.fill(0);
    if (hess) hess.fill(0);
    const lambda = x[m];
    const nu = Math.exp(lambda);
    let value = 0;
    for (let p = 0; p < pairs; p++) {
      const i = counts.i[p];
      const j = counts.j[p];
      const wi = counts.winsI[p] + prior;
      const wj = counts.winsJ[p] + prior;
      const t = counts.ties[p];
      const n = wi + wj + t;
      const d = x[i] - x[j];
      const half = Math.abs(d) / 2;
      // log D with D = e^{d/2} + e^{−d/2} + ν, computed without overflow.
      const e = Math.exp(-half);
      const logD = half + Math.log1p(e * e + nu * e);
      value += ((wi - wj) * d) / 2 + t * lambda - n * logD;
      if (grad && hess) {
        const D = Math.exp(logD);
        const s = Math.sinh(d / 2);
        const c = Math.cosh(d / 2);
        const gd = (wi - wj) / 2 - (n * s) / D;
        grad[i] += gd;
        grad[j] -= gd;
        grad[m] += t - (n * nu) / D;
        const hdd = (-n * ((c / 2) * D - s * s)) / (D * D);
        const hdl = (n * s * nu) / (D * D);
        const hll = (-n * nu * 2 * c) / (D * D);
        hess[i * k + i] += hdd;
        hess[j * k + j] += hdd;
        hess[i * k + j] -= hdd;
        hess[j * k + i] -= hdd;
        hess[i * k + m] += hdl;
        hess[m * k + i] += hdl;
        hess[j * k + m] -= hdl;
        hess[m * k + j] -= hdl;
        hess[m * k + m] += hll;
      }
    }
    return value;
  };
  const start = new Float64Array(k);
  // At equal strengths P(tie) = ν / (2 + ν): start from the observed tie rate.
  start[m] = Math.log(options.startNu ?? (2 * totalTies) / (total - totalTies));
  if (options.start) start.set(options.start.subarray(0, m));
  const result = maximizeNewton(start, objective, { fixed: 0, tolerance: options.tolerance });
  const nu = Math.exp(result.x[m]);
  const theta = result.x.slice(0, m);
  centre(theta, m);
  return { theta, nu, logLikelihood: result.value, iterations: result.iterations, converged: result.converged };
}
