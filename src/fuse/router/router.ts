import { ConfigError } from "../../core/errors.js";
import type { Ranking } from "../../rank/ranking.js";
import { KnnIndex, type LabelledItem, type Neighbour } from "./knn.js";

/**
 * A router picks experts for a request with no model calls: the request's nearest evaluation
 * items (TF-IDF kNN) vote with how each expert did on them, shrunk toward the ranking's
 * per-domain abilities for the domains those neighbours come from. Scores are standardised per
 * item, so items of different metrics (accuracy, bits per byte) and difficulty weigh alike.
 * Confidence — the probability that the chosen expert is (one of) the best on the request — is
 * calibrated by Platt scaling on leave-one-out routing of the indexed items.
 */
export interface RouterOptions {
  /** The experts to choose among. */
  experts: readonly string[];
  /** Neighbours consulted (default 16). */
  k?: number;
  /**
   * Weight of the per-domain prior — the ranking's abilities, or without a ranking each expert's
   * mean standardised score per domain — in units of one neighbour at similarity 1 (default 1).
   */
  priorWeight?: number;
  ranking?: Ranking;
  /**
   * Items used for calibration (default 250: every item up to twice that many, else evenly spaced
   * — two Platt parameters need no more, and each is a leave-one-out query: a third of building a
   * router over 20,000 items at 500).
   */
  calibrationItems?: number;
  /**
   * How much an item's evidence counts (default 1 each). `itemWeightsFromRanking` weighs items by
   * the ranking's Fisher information, so items at chance — noise — count for nothing.
   */
  itemWeight?: (item: LabelledItem) => number;
  /**
   * Texts labelled with their domain but no scores (text the experts were never run on): they
   * sharpen the router's sense of a request's domain, and so the per-domain prior, at no cost.
   */
  domainItems?: readonly LabelledItem[];
}

export interface RoutedExpert {
  expert: string;
  /** Expected standardised score: higher is better. */
  utility: number;
}

export interface RouteDecision {
  /** Every expert, best first. */
  ranked: RoutedExpert[];
  /** Calibrated probability that ranked[0] is among the best experts for this request. */
  confidence: number;
  /** The most likely domain of the request, and the neighbours' domain shares. */
  domain: string;
  domains: Record<string, number>;
}

const EPSILON = 1e-9;

export class Router {
  /** The evidence index (scored items, then `domainItems`): a scorer built on the router queries it for more neighbours. */
  readonly index: KnnIndex;
  private readonly k: number;
  private readonly priorWeight: number;
  /** Every item's standardised scores, one row of experts.length after another (item i's row at i × experts). */
  private readonly standardised: Float64Array;
  /** Each item's domain as a number (into `domainNames`): the vote reads no item object or string. */
  private readonly domainOf: Int32Array;
  private readonly domainNames: string[];
  /** Vote scratch: closeness summed per domain. */
  private readonly domainCloseness: Float64Array;
  /** What the prefetching loads read (kept so that they are not optimised away). */
  private touched = 0;
  private readonly weights: Float64Array;
  private readonly priors: Map<string, Float64Array>;
  private platt = { a: 0, b: 0 };

  constructor(items: readonly LabelledItem[], readonly options: RouterOptions) {
    if (options.experts.length === 0) throw new ConfigError(["a router needs at least one expert"]);
    // Items without scores still say which domain a text belongs to (see `domainItems`).
    const scored = (item: LabelledItem) => options.experts.some((e) => item.scores[e] !== undefined);
    if (!items.some(scored)) throw new ConfigError([`no evaluation item has a score for any of the experts ${options.experts.join(", ")}`]);
    const usable = [...items, ...(options.domainItems ?? [])];
    this.index = new KnnIndex(usable);
    this.k = options.k ?? 16;
    this.priorWeight = options.priorWeight ?? 1;
    // Standardised in place, row by row (no array per item: 20,000 rows of 200 were a tenth of a build, most of it GC).
    const count = options.experts.length;
    this.standardised = new Float64Array(usable.length * count);
    const scores = new Array<number | undefined>(count);
    usable.forEach((item, i) => {
      for (let e = 0; e < count; e++) scores[e] = item.scores[options.experts[e]];
      standardise(scores, this.standardised.subarray(i * count, (i + 1) * count));
    });
    const domainIds = new Map<string, number>();
    this.domainOf = Int32Array.from(usable, (item) => domainIds.get(item.domain) ?? domainIds.set(item.domain, domainIds.size).size - 1);
    this.domainNames = [...domainIds.keys()];
    this.domainCloseness = new Float64Array(this.domainNames.length);
    this.weights = Float64Array.from(usable, (item) => (scored(item) ? Math.max(0, options.itemWeight?.(item) ?? 1) : 0));
    this.priors = options.ranking ? domainPriors(options.ranking, options.experts) : evidencePriors(usable, this.standardised, count, this.weights);
    this.calibrate(options.calibrationItems ?? 250);
  }

  /**
   * `search` "scan" finds the same neighbours by a linear scan of every item instead of the
   * inverted index: the reference the index is tested and benchmarked against.
   */
  route(text: string, search: "index" | "scan" = "index"): RouteDecision {
    const neighbours = search === "scan" ? this.index.scan(text, this.k) : this.index.query(text, this.k);
    return this.decide(neighbours);
  }

  /** The decision the given neighbours (most similar first, e.g. from `index`) vote for. */
  decide(neighbours: readonly Neighbour[]): RouteDecision {
    const experts = this.options.experts;
    const count = experts.length;
    const { standardised, domainCloseness } = this;
    const sums = new Float64Array(count);
    let totalWeight = 0;
    let totalCloseness = 0;
    // The neighbours' rows lie at random places: one load per cache line of each first, all in flight at once.
    let touched = 0;
    for (const { index } of neighbours) for (let e = 0; e < count; e += 8) touched += standardised[index * count + e];
    this.touched = touched;
    // Domains in the order they first appear (the order the shares are listed in).
    const seen: number[] = [];
    for (const { index, similarity } of neighbours) {
      const closeness = Math.max(similarity, 0) ** 2;
      if (closeness === 0) continue;
      const w = closeness * this.weights[index];
      // Domain shares come from closeness alone: an item says what domain a text is even when its scores are noise.
      const d = this.domainOf[index];
      if (!seen.includes(d)) seen.push(d);
      domainCloseness[d] += closeness;
      totalCloseness += closeness;
      const row = index * count;
      for (let e = 0; e < count; e++) sums[e] += w * standardised[row + e];
      totalWeight += w;
    }
    const domains: Record<string, number> = {};
    for (const d of seen) {
      domains[this.domainNames[d]] = totalCloseness > 0 ? domainCloseness[d] / totalCloseness : 0;
      domainCloseness[d] = 0;
    }
    const prior = this.domainPrior(domains);
    const alpha = this.priorWeight;
    const ranked = experts
      .map((expert, e) => ({ expert, utility: (sums[e] + alpha * prior[e]) / (totalWeight + alpha + EPSILON) }))
      .sort((x, y) => y.utility - x.utility || x.expert.localeCompare(y.expert));
    const margin = ranked.length > 1 ? ranked[0].utility - ranked[1].utility : 1;
    const domain = Object.entries(domains).sort((x, y) => y[1] - x[1])[0]?.[0] ?? "default";
    return { ranked, confidence: sigmoid(this.platt.a * margin + this.platt.b), domain, domains };
  }

  /** Per expert, the per-domain prior mixed by the given domain shares (a decision's `domains`). */
  domainPrior(domains: Readonly<Record<string, number>>): Float64Array {
    const prior = new Float64Array(this.options.experts.length);
    for (const [d, share] of Object.entries(domains)) {
      const p = this.priors.get(d);
      if (p) for (let e = 0; e < prior.length; e++) prior[e] += share * p[e];
    }
    return prior;
  }

  /** Platt scaling of the utility margin on leave-one-out routing of indexed items. */
  private calibrate(limit: number): void {
    const scoredItems = this.index.items.map((_, i) => i).filter((i) => this.weights[i] > 0 || this.options.experts.some((e) => this.index.items[i].scores[e] !== undefined));
    const step = Math.max(1, Math.floor(scoredItems.length / limit));
    const margins: number[] = [];
    const labels: number[] = [];
    for (let j = 0; j < scoredItems.length; j += step) {
      const i = scoredItems[j];
      const decision = this.decide(this.index.queryIndex(i, this.k));
      const scores = this.options.experts.map((e) => this.index.items[i].scores[e] ?? -Infinity);
      const chosen = scores[this.options.experts.indexOf(decision.ranked[0].expert)];
      margins.push(decision.ranked.length > 1 ? decision.ranked[0].utility - decision.ranked[1].utility : 1);
      labels.push(chosen >= Math.max(...scores) - EPSILON ? 1 : 0);
    }
    this.platt = fitPlatt(margins, labels);
  }
}

/** Per-item standardisation across experts: (s − mean) / sd, into `z`; missing scores count as the mean. */
function standardise(scores: readonly (number | undefined)[], z: Float64Array = new Float64Array(scores.length)): Float64Array {
  let present = 0;
  let sum = 0;
  for (const s of scores) {
    if (s === undefined) continue;
    present++;
    sum += s;
  }
  const mean = sum / Math.max(present, 1);
  let squares = 0;
  for (const s of scores) if (s !== undefined) squares += (s - mean) ** 2;
  const sd = Math.sqrt(squares / Math.max(present, 1));
  if (sd < EPSILON) return z.fill(0);
  for (let e = 0; e < scores.length; e++) z[e] = scores[e] === undefined ? 0 : (scores[e]! - mean) / sd;
  return z;
}

/** Without a ranking: per domain, each expert's weighted mean standardised score (rows of `count` in `standardised`) over the indexed items. */
function evidencePriors(items: readonly LabelledItem[], standardised: Float64Array, count: number, weights: Float64Array): Map<string, Float64Array> {
  const sums = new Map<string, { sum: Float64Array; n: number }>();
  items.forEach((item, i) => {
    const entry = sums.get(item.domain) ?? { sum: new Float64Array(count), n: 0 };
    for (let e = 0; e < count; e++) entry.sum[e] += weights[i] * standardised[i * count + e];
    entry.n += weights[i];
    sums.set(item.domain, entry);
  });
  return new Map([...sums].map(([domain, { sum, n }]) => [domain, standardise([...sum].map((v) => (n > 0 ? v / n : 0)))]));
}

/** Item weights from a ranking: each item's Fisher information relative to the most informative item. */
export function itemWeightsFromRanking(ranking: Ranking): (item: LabelledItem) => number {
  const information = new Map(ranking.items.map((i) => [i.item, i.information]));
  const max = Math.max(0, ...information.values());
  return (item) => (max > 0 ? (information.get(item.id) ?? 0) / max : 1);
}

/** Per domain, the experts' abilities standardised across experts (missing: 0). */
function domainPriors(ranking: Ranking, experts: readonly string[]): Map<string, Float64Array> {
  const priors = new Map<string, Float64Array>();
  for (const domain of ranking.domains) {
    const abilities = experts.map((e) => ranking.models.find((m) => m.model === e)?.domains[domain]?.ability);
    priors.set(domain, standardise(abilities));
  }
  return priors;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Logistic regression of labels on one feature (Newton, lightly regularised). */
export function fitPlatt(x: readonly number[], y: readonly number[]): { a: number; b: number } {
  let a = 0;
  let b = 0;
  const ridge = 1e-3;
  for (let iter = 0; iter < 50; iter++) {
    let ga = -ridge * a;
    let gb = 0;
    let haa = ridge;
    let hab = 0;
    let hbb = 1e-9;
    for (let i = 0; i < x.length; i++) {
      const p = sigmoid(a * x[i] + b);
      const r = y[i] - p;
      const w = p * (1 - p);
      ga += r * x[i];
      gb += r;
      haa += w * x[i] * x[i];
      hab += w * x[i];
      hbb += w;
    }
    const det = haa * hbb - hab * hab;
    if (Math.abs(det) < 1e-12) break;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    a += da;
    b += db;
    if (Math.abs(da) + Math.abs(db) < 1e-10) break;
  }
  return { a, b };
}
