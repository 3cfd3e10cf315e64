/**
 * Ranking from per-item results, fair across domains.
 *
 * Each domain is fitted on its own with the 2PL model (rank/irt.ts), which puts every domain's
 * abilities on a standardised scale (mean 0, sd 1 over the models). A model's overall ability is
 * the plain mean of its per-domain abilities, so every domain weighs the same however many items
 * it has; its standard error is √(Σ se_d²) / D (domains' estimates are independent). Intervals are
 * ±1.96 se; rank and rank range follow Chatbot Arena's rule on those intervals.
 */
import { ConfigError } from "../core/errors.js";
import type { ItemResult } from "../core/evidence.js";
import type { Progress } from "../core/progress.js";
import { ranksFromIntervals } from "./pairwise/rank-intervals.js";
import { fitIrt, type IrtFit, type IrtOptions } from "./irt.js";
import { byInformation, itemReports } from "./item-quality.js";
import { Z95, type DomainAbility, type ItemReport, type ModelRanking, type Ranking } from "./ranking.js";
import { buildResponseMatrix, selectItems, type ResponseMatrix } from "./responses.js";

export interface PerItemOptions {
  irt?: Omit<IrtOptions, "progress">;
  progress?: Progress;
}

export interface PerItemFit {
  ranking: Ranking;
  /** The matrix and the per-domain fits behind the ranking (for anchors and reports). */
  matrix: ResponseMatrix;
  domainFits: { domain: string; items: Int32Array; fit: IrtFit }[];
}

export const PER_ITEM_METHOD =
  "2PL IRT per domain (regularised joint maximum likelihood); overall = equal-weight mean of per-domain standardised abilities; 95% intervals from the Fisher information";

export function rankResults(results: readonly ItemResult[] | ResponseMatrix, options: PerItemOptions = {}): PerItemFit {
  const matrix = isMatrix(results) ? results : buildResponseMatrix(results);
  if (matrix.models.length === 0) throw new ConfigError(["no results to rank"]);
  const warnings: string[] = [];
  const nModels = matrix.models.length;
  const domainFits: PerItemFit["domainFits"] = [];
  const items: ItemReport[] = new Array(matrix.items.length);
  const perDomain: (DomainAbility | undefined)[][] = matrix.models.map(() => []);
  const perDomainSe: number[][] = matrix.models.map(() => []);
  const usedDomains: string[] = [];

  matrix.domains.forEach((domain, d) => {
    const keep: number[] = [];
    for (let i = 0; i < matrix.items.length; i++) if (matrix.itemDomain[i] === d) keep.push(i);
    const sub = selectItems(matrix, keep);
    const fit = fitIrt(sub, { ...options.irt, progress: options.progress });
    domainFits.push({ domain, items: Int32Array.from(keep), fit });
    itemReports(sub, fit).forEach((report, k) => { items[keep[k]] = report; });
    const informative = fit.informative.reduce((s, x) => s + x, 0);
    if (informative === 0) {
      warnings.push(`domain "${domain}": no item tells the models apart (every item is answered the same by all models); it is left out of the overall ranking`);
      return;
    }
    if (!fit.converged) warnings.push(`domain "${domain}": the IRT fit stopped after ${fit.iterations} iterations without converging`);
    usedDomains.push(domain);
    for (let m = 0; m < nModels; m++) {
      if (Number.isNaN(fit.theta[m])) continue;
      const se = fit.thetaSe[m];
      perDomain[m][d] = { ability: fit.theta[m], ci: [fit.theta[m] - Z95 * se, fit.theta[m] + Z95 * se] };
      perDomainSe[m][d] = se;
    }
  });

  const ratings: number[] = [];
  const intervals: [number, number][] = [];
  const ranked: Omit<ModelRanking, "rank" | "rankRange">[] = [];
  matrix.models.forEach((model, m) => {
    const domains: Record<string, DomainAbility> = {};
    let sum = 0;
    let variance = 0;
    let count = 0;
    matrix.domains.forEach((domain, d) => {
      const entry = perDomain[m][d];
      if (!entry) return;
      domains[domain] = entry;
      sum += entry.ability;
      variance += perDomainSe[m][d] ** 2;
      count++;
    });
    if (count === 0) {
      warnings.push(`model "${model}": no informative results; it is left out of the ranking`);
      return;
    }
    if (count < usedDomains.length) {
      const missing = usedDomains.filter((d) => !(d in domains));
      warnings.push(`model "${model}": no results in domain(s) ${missing.map((d) => `"${d}"`).join(", ")}; its overall ability averages the other ${count}`);
    }
    const rating = sum / count;
    const se = Math.sqrt(variance) / count;
    ratings.push(rating);
    intervals.push([rating - Z95 * se, rating + Z95 * se]);
    ranked.push({ model, rating, ci: intervals[intervals.length - 1], domains });
  });

  const ranks = ranksFromIntervals(intervals);
  const models: ModelRanking[] = ranked.map((r, k) => ({ ...r, ...ranks[k] }))
    .sort((x, y) => y.rating - x.rating || x.model.localeCompare(y.model));

  const ranking: Ranking = {
    kind: "per-item",
    scale: "logit",
    method: PER_ITEM_METHOD,
    models,
    domains: usedDomains,
    items: byInformation(items),
    warnings,
  };
  return { ranking, matrix, domainFits };
}

function isMatrix(x: readonly ItemResult[] | ResponseMatrix): x is ResponseMatrix {
  return !Array.isArray(x) && "itemStart" in x;
}
