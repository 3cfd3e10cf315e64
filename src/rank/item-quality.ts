/**
 * Item quality from a fitted 2PL model: how much each item tells models apart (its Fisher
 * information at the models' abilities) and flags for items that should not be trusted.
 */
import type { IrtFit } from "./irt.js";
import { Z95, type ItemFlag, type ItemReport } from "./ranking.js";
import type { ResponseMatrix } from "./responses.js";

/** Below this a an item barely separates models (on the standardised ability scale), or does so the wrong way. */
export const LOW_DISCRIMINATION = 0.3;
/** Below this a (with its 95% interval below 0) the better models do worse: most likely a wrong answer key. */
export const NEGATIVE_DISCRIMINATION = -0.2;

/**
 * One report per item of `matrix` (same order), from `fit` of that matrix. Information is the
 * mean of a²P(1 − P) over every model with an ability in the fit, so it compares items on how
 * well they separate the models actually being ranked.
 */
export function itemReports(matrix: ResponseMatrix, fit: IrtFit): ItemReport[] {
  const thetas = Array.from(fit.theta).filter((t) => !Number.isNaN(t));
  return matrix.items.map((item, i) => {
    const from = matrix.itemStart[i];
    const to = matrix.itemStart[i + 1];
    let sum = 0;
    for (let p = from; p < to; p++) sum += matrix.score[p];
    const flags: ItemFlag[] = [];
    const base = { item, domain: matrix.domains[matrix.itemDomain[i]], meanScore: to > from ? sum / (to - from) : NaN, responses: to - from };
    if (!fit.informative[i]) {
      flags.push("uninformative");
      return { ...base, difficulty: null, discrimination: null, information: 0, flags };
    }
    const a = fit.a[i];
    const c = fit.c[i];
    let information = 0;
    for (const t of thetas) {
      const p = 1 / (1 + Math.exp(-(a * t + c)));
      information += a * a * p * (1 - p);
    }
    information /= Math.max(1, thetas.length);
    // Negative only when the whole 95% interval of a is below zero: with few models a is noisy.
    if (a < NEGATIVE_DISCRIMINATION && a + Z95 * fit.aSe[i] < 0) flags.push("negative_discrimination");
    else if (a < LOW_DISCRIMINATION) flags.push("low_discrimination");
    return { ...base, difficulty: fit.b[i], discrimination: a, information, flags };
  });
}

/** Items ordered by how much they tell models apart (most informative first). */
export function byInformation(items: readonly ItemReport[]): ItemReport[] {
  return [...items].sort((x, y) => y.information - x.information || x.item.localeCompare(y.item));
}

/**
 * The items most worth a human look: negative discrimination first (most negative a), then
 * low discrimination; uninformative items are only counted, not listed.
 */
export function suspiciousItems(items: readonly ItemReport[], limit: number): ItemReport[] {
  const negative = items.filter((it) => it.flags.includes("negative_discrimination"))
    .sort((x, y) => (x.discrimination ?? 0) - (y.discrimination ?? 0));
  const low = items.filter((it) => it.flags.includes("low_discrimination"))
    .sort((x, y) => Math.abs(x.discrimination ?? 0) - Math.abs(y.discrimination ?? 0));
  return [...negative, ...low].slice(0, limit);
}
