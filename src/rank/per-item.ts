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
import { Rng } from "../core/rng.js";
import { quantile, ranksFromIntervals } from "./pairwise/rank-intervals.js";
import { fitIrt, type IrtFit, type IrtOptions } from "./irt.js";
import { byInformation, itemReports } from "./item-quality.js";
import { Z95, type DomainAbility, type ItemReport, type ModelRanking, type Ranking } from "./ranking.js";
import { buildResponseMatrix, meanScores, selectItems, type ResponseMatrix } from "./responses.js";

export interface PerItemOptions {
  irt?: Omit<IrtOptions, "progress">;
  /**
   * Replace the Fisher-information intervals by percentile intervals from this many bootstrap
   * resamples of the items (with replacement, within each domain; every model kept).
   */
  bootstrap?: number;
  seed?: number;
  progress?: Progress;
}

/** Below this Spearman correlation between abilities and mean scores, a domain gets a warning. */
const ACCURACY_AGREEMENT = 0.9;
const LOWER = 0.025;
const UPPER = 0.975;

export interface PerItemFit {
  ranking: Ranking;
  /** The matrix and the per-domain fits behind the ranking (for anchors and reports). */
  matrix: ResponseMatrix;
  domainFits: { domain: string; items: Int32Array; fit: IrtFit }[];
}

export const PER_ITEM_METHOD =
  "2PL IRT per domain (regularised joint maximum likelihood); overall = equal-weight mean of per-domain standardised abilities";
const FISHER_INTERVALS = "95% intervals from the Fisher information";

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
  const keepByDomain: number[][] = matrix.domains.map(() => []);
  for (let i = 0; i < matrix.items.length; i++) keepByDomain[matrix.itemDomain[i]].push(i);

  matrix.domains.forEach((domain, d) => {
    const keep = keepByDomain[d];
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
    const agreement = rankCorrelation(fit.theta, meanScores(sub));
    if (agreement < ACCURACY_AGREEMENT) {
      warnings.push(`domain "${domain}": the IRT abilities disagree with plain mean scores (Spearman ${agreement.toFixed(2)}); the responses look multidimensional (for example groups of models evaluated differently, or many items with negative discrimination), so check the flagged items before trusting the order, or refit with a tighter prior on the discriminations, which pulls the 2PL towards plain accuracy (cogen rank --discrimination-sd 0.5; in code, irt.discriminationPrior)`);
    }
    usedDomains.push(domain);
    for (let m = 0; m < nModels; m++) {
      if (Number.isNaN(fit.theta[m])) continue;
      const se = fit.thetaSe[m];
      perDomain[m][d] = { ability: fit.theta[m], ci: [fit.theta[m] - Z95 * se, fit.theta[m] + Z95 * se] };
      perDomainSe[m][d] = se;
    }
  });

  const rounds = options.bootstrap ?? 0;
  if (!Number.isInteger(rounds) || rounds < 0) throw new ConfigError([`bootstrap must be a whole number ≥ 0, got ${rounds}`]);
  const overallBootstrap = rounds > 0
    ? bootstrapIntervals(matrix, keepByDomain, usedDomains.map((d) => matrix.domains.indexOf(d)), perDomain, rounds, options)
    : new Map<string, [number, number]>();

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
    intervals.push(overallBootstrap.get(model) ?? [rating - Z95 * se, rating + Z95 * se]);
    ranked.push({ model, rating, ci: intervals[intervals.length - 1], domains });
  });

  const ranks = ranksFromIntervals(intervals);
  const models: ModelRanking[] = ranked.map((r, k) => ({ ...r, ...ranks[k] }))
    .sort((x, y) => y.rating - x.rating || x.model.localeCompare(y.model));

  const ranking: Ranking = {
    kind: "per-item",
    scale: "logit",
    method: `${PER_ITEM_METHOD}; ${rounds > 0 ? `95% percentile intervals from ${rounds} bootstrap resamples of the items within each domain` : FISHER_INTERVALS}`,
    models,
    domains: usedDomains,
    items: byInformation(items),
    warnings,
  };
  return { ranking, matrix, domainFits };
}

/**
 * Percentile intervals from resampling items within each used domain. Replaces the per-domain
 * intervals in `perDomain` in place and returns the overall interval of each model.
 */
function bootstrapIntervals(
  matrix: ResponseMatrix,
  keepByDomain: number[][],
  used: number[],
  perDomain: (DomainAbility | undefined)[][],
  rounds: number,
  options: PerItemOptions,
): Map<string, [number, number]> {
  const rng = new Rng(options.seed ?? 0);
  const nModels = matrix.models.length;
  const replicates = used.map(() => new Float64Array(rounds * nModels));
  options.progress?.start("bootstrap", rounds, "resamples");
  for (let r = 0; r < rounds; r++) {
    used.forEach((d, k) => {
      const keep = keepByDomain[d];
      const sample = new Int32Array(keep.length);
      for (let j = 0; j < keep.length; j++) sample[j] = keep[rng.int(keep.length)];
      const fit = fitIrt(selectItems(matrix, sample), options.irt);
      replicates[k].set(fit.theta, r * nModels);
    });
    options.progress?.tick(1);
  }
  options.progress?.done();
  const overall = new Map<string, [number, number]>();
  const values = new Float64Array(rounds);
  for (let m = 0; m < nModels; m++) {
    const mine = used.map((d, k) => ({ d, k })).filter(({ d }) => perDomain[m][d] !== undefined);
    if (mine.length === 0) continue;
    for (const { d, k } of mine) {
      for (let r = 0; r < rounds; r++) values[r] = replicates[k][r * nModels + m];
      perDomain[m][d]!.ci = [quantile(values, LOWER), quantile(values, UPPER)];
    }
    for (let r = 0; r < rounds; r++) {
      let sum = 0;
      for (const { k } of mine) sum += replicates[k][r * nModels + m];
      values[r] = sum / mine.length;
    }
    overall.set(matrix.models[m], [quantile(values, LOWER), quantile(values, UPPER)]);
  }
  return overall;
}

/** Spearman correlation over the entries finite in both (average ranks for ties). */
function rankCorrelation(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const idx: number[] = [];
  for (let k = 0; k < x.length; k++) if (Number.isFinite(x[k]) && Number.isFinite(y[k])) idx.push(k);
  if (idx.length < 3) return 1;
  const rx = averageRanks(idx.map((k) => x[k]));
  const ry = averageRanks(idx.map((k) => y[k]));
  const mean = (idx.length - 1) / 2;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let k = 0; k < idx.length; k++) {
    sxy += (rx[k] - mean) * (ry[k] - mean);
    sxx += (rx[k] - mean) ** 2;
    syy += (ry[k] - mean) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : 1;
}

function averageRanks(values: number[]): number[] {
  const order = values.map((_, k) => k).sort((a, b) => values[a] - values[b]);
  const ranks = new Array<number>(values.length);
  for (let s = 0; s < order.length;) {
    let e = s;
    while (e + 1 < order.length && values[order[e + 1]] === values[order[s]]) e++;
    for (let t = s; t <= e; t++) ranks[order[t]] = (s + e) / 2;
    s = e + 1;
  }
  return ranks;
}

function isMatrix(x: readonly ItemResult[] | ResponseMatrix): x is ResponseMatrix {
  return !Array.isArray(x) && "itemStart" in x;
}
