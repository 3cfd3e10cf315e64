/**
 * Choosing experts from a ranking without running anything: the best model(s) for a domain, each
 * with the probability that it is truly the best there. Abilities are treated as independent
 * normals with the ranking's point estimate as mean and the 95% interval's half-width / 1.96 as
 * sd; P(j is best) = ∫ φ_j(x) Π_{k≠j} Φ_k(x) dx, computed by quadrature on a fine grid.
 */
import { ConfigError } from "../core/errors.js";
import { Z95, type Ranking } from "./ranking.js";

export interface Standing {
  model: string;
  ability: number;
  ci: [number, number];
}

export interface Expert extends Standing {
  /** Probability (normal approximation) that this model is the best in the domain. */
  probabilityBest: number;
}

export const OVERALL = "overall";

/** Quadrature points across the candidates' range. */
const GRID = 4001;

/**
 * Every model with an ability in `domain` (or its overall rating when domain is "overall"), best
 * first, ties by name. Point estimates and intervals only — cheap at hundreds of models.
 */
export function standings(ranking: Ranking, domain: string): Standing[] {
  const list: Standing[] = [];
  for (const m of ranking.models) {
    if (domain === OVERALL) list.push({ model: m.model, ability: m.rating, ci: m.ci });
    else if (m.domains[domain]) list.push({ model: m.model, ability: m.domains[domain].ability, ci: m.domains[domain].ci });
  }
  return list.sort((x, y) => y.ability - x.ability || x.model.localeCompare(y.model));
}

/**
 * The `top` models with the highest ability in `domain` (or the overall rating when domain is
 * "overall"), best first.
 */
export function selectExperts(ranking: Ranking, domain: string, options: { top?: number } = {}): Expert[] {
  const top = options.top ?? 1;
  if (!Number.isInteger(top) || top < 1) throw new ConfigError([`top must be a whole number ≥ 1, got ${top}`]);
  const candidates = standings(ranking, domain);
  if (candidates.length === 0) {
    const known = [OVERALL, ...ranking.domains];
    throw new ConfigError([`no model has an ability in domain "${domain}"; domains in this ranking: ${known.join(", ")}`]);
  }
  const probabilities = probabilityBest(
    candidates.map((c) => c.ability),
    candidates.map((c) => Math.max((c.ci[1] - c.ci[0]) / (2 * Z95), 0)),
  );
  return candidates.map((c, k) => ({ ...c, probabilityBest: probabilities[k] })).slice(0, top);
}

/** P(candidate k has the largest value) for independent normals N(mean_k, sd_k²). */
export function probabilityBest(means: readonly number[], sds: readonly number[]): number[] {
  const n = means.length;
  if (n === 1) return [1];
  const positive = sds.filter((s) => s > 0);
  const floor = positive.length > 0 ? Math.min(...positive) * 1e-3 : 1e-9;
  const sd = sds.map((s) => Math.max(s, floor));
  let lo = Infinity;
  let hi = -Infinity;
  for (let k = 0; k < n; k++) {
    lo = Math.min(lo, means[k] - 8 * sd[k]);
    hi = Math.max(hi, means[k] + 8 * sd[k]);
  }
  const step = (hi - lo) / (GRID - 1);
  const result = new Array<number>(n).fill(0);
  const logCdf = new Float64Array(n);
  for (let g = 0; g < GRID; g++) {
    const x = lo + g * step;
    let total = 0;
    for (let k = 0; k < n; k++) {
      logCdf[k] = Math.log(Math.max(normalCdf((x - means[k]) / sd[k]), 1e-300));
      total += logCdf[k];
    }
    for (let k = 0; k < n; k++) {
      const z = (x - means[k]) / sd[k];
      const density = Math.exp(-0.5 * z * z) / (sd[k] * Math.sqrt(2 * Math.PI));
      result[k] += density * Math.exp(total - logCdf[k]) * step;
    }
  }
  const sum = result.reduce((s, p) => s + p, 0);
  return result.map((p) => p / sum);
}

/** Standard normal CDF. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** Complementary error function, Numerical Recipes' Chebyshev fit (relative error < 1.2e-7). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}
