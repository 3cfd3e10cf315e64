import { argmax } from "../../core/argmax.js";
import { ConfigError } from "../../core/errors.js";
import { Rng } from "../../core/rng.js";
import type { LabelledItem } from "./knn.js";
import { MfScorer, type MfScorerOptions } from "./mf-scorer.js";
import { fitPlatt, Router, type RouteDecision, type RouterOptions } from "./router.js";

/**
 * The kNN router's vote blended with a matrix-factorisation scorer's (mf-scorer.ts):
 *   utility = (1 − w) · z(kNN utilities) + w · z(MF log-odds),
 * z standardising across the experts of one request. The MF scorer trains on every model's
 * results in the items' `scores` — models outside `experts` included — while the kNN votes with
 * the experts' own. The blend weight w and the MF penalty are chosen together by seeded k-fold
 * cross-validation inside the items, on the mean score of the expert each held-out item is
 * routed to. The kNN router alone (w = 0) is the default: a blend is chosen only where its gain
 * over it on the held-out items is at least `minimumGain` standard errors of the paired
 * per-item difference — 0/1 results make a gain of a few items noise — so where the MF scorer
 * adds nothing the evidence can show, the router decides as the plain Router does.
 */
export interface MfRouterOptions extends RouterOptions {
  /** The MF scorer's settings; `l2` is chosen from `penalties` instead. */
  mf?: Omit<MfScorerOptions, "l2">;
  /** MF penalties tried (default 1e-3, 3e-3). */
  penalties?: readonly number[];
  /** Blend weights tried (default 0, 0.25, 0.5, 0.75, 1). */
  blendWeights?: readonly number[];
  /** Cross-validation folds (default 3). */
  folds?: number;
  /** Held-out items scored in cross-validation, evenly spaced (default 3,000). */
  validationItems?: number;
  /** Seed of the fold assignment and the MF fits (default 0). */
  seed?: number;
  /**
   * Standard errors of the paired per-item difference by which a blend must beat the kNN vote
   * alone on the held-out items to be chosen (default 2; 0: the best cross-validated value wins).
   */
  minimumGain?: number;
}

/** One cross-validated setting: its mean routed score on the held-out items. */
export interface MfBlendChoice {
  l2: number;
  weight: number;
  value: number;
  /** Mean per-item gain over the kNN vote alone, and its standard error. */
  gain: number;
  standardError: number;
}

const DEFAULT_PENALTIES = [1e-3, 3e-3];
const DEFAULT_WEIGHTS = [0, 0.25, 0.5, 0.75, 1];
const EPSILON = 1e-9;

export class MfRouter {
  readonly router: Router;
  /** The fitted scorer; undefined when cross-validation chose the kNN vote alone. */
  readonly scorer: MfScorer | undefined;
  /** The chosen setting and every one tried. */
  readonly chosen: MfBlendChoice;
  readonly crossValidation: readonly MfBlendChoice[];
  private readonly platt: { a: number; b: number };

  constructor(items: readonly LabelledItem[], readonly options: MfRouterOptions) {
    const penalties = [...(options.penalties ?? DEFAULT_PENALTIES)];
    const weights = [...(options.blendWeights ?? DEFAULT_WEIGHTS)].sort((a, b) => a - b);
    const folds = options.folds ?? 3;
    const validationItems = options.validationItems ?? 3000;
    const seed = options.seed ?? 0;
    const minimumGain = options.minimumGain ?? 2;
    const problems: string[] = [];
    if (penalties.length === 0 || penalties.some((p) => !(Number.isFinite(p) && p >= 0))) problems.push(`penalties: numbers of at least 0, at least one (got ${penalties.join(", ") || "none"})`);
    if (weights.length === 0 || weights.some((w) => !(w >= 0 && w <= 1))) problems.push(`blendWeights: numbers in [0, 1], at least one (got ${weights.join(", ") || "none"})`);
    if (!(Number.isInteger(folds) && folds >= 2)) problems.push(`folds: an integer of at least 2 (got ${folds})`);
    if (!(Number.isInteger(validationItems) && validationItems >= 1)) problems.push(`validationItems: a positive integer (got ${validationItems})`);
    if (!Number.isInteger(seed)) problems.push(`seed: an integer (got ${seed})`);
    if (!(Number.isFinite(minimumGain) && minimumGain >= 0)) problems.push(`minimumGain: a number of at least 0 (got ${minimumGain})`);
    if (items.length < folds) problems.push(`${items.length} items cannot be split into ${folds} folds`);
    if (problems.length > 0) throw new ConfigError(problems);
    this.router = new Router(items, options);
    const experts = options.experts;
    const k = options.k ?? 16;

    // Held-out items: evenly spaced ones with a score for some expert, each in a seeded fold.
    const fold = new Int32Array(items.length);
    new Rng(seed).shuffle(items.map((_, i) => i)).forEach((item, position) => (fold[item] = position % folds));
    const scored = items.map((_, i) => i).filter((i) => experts.some((e) => items[i].scores[e] !== undefined));
    const step = Math.max(1, Math.floor(scored.length / validationItems));
    const heldOut = scored.filter((_, j) => j % step === 0);
    // The kNN vote of a held-out item leaves only the item itself out, as routing a new request would.
    const knn = new Map(heldOut.map((i) => [i, standardised(utilities(this.router.decide(this.router.index.queryIndex(i, k)), experts))]));

    const mfOptions = { ...options.mf, seed };
    const mfOf = new Map<number, Map<number, Float64Array>>();
    for (const l2 of penalties) {
      const logits = new Map<number, Float64Array>();
      for (let f = 0; f < folds; f++) {
        const scorer = MfScorer.fit(items.filter((_, i) => fold[i] !== f), { ...mfOptions, l2 });
        for (const i of heldOut) if (fold[i] === f) logits.set(i, standardised(scorer.logits(items[i].text, experts)));
      }
      mfOf.set(l2, logits);
    }
    // Per held-out item (each has a score for some expert), the score of the expert a setting routes it to.
    const routedScore = (i: number, u: Float64Array) => items[i].scores[experts[argmax(u)]] ?? 0;
    const alone = heldOut.map((i) => routedScore(i, knn.get(i)!));
    const crossValidation: MfBlendChoice[] = [];
    for (const l2 of penalties) {
      for (const weight of weights) {
        const differences = heldOut.map((i, j) => routedScore(i, blend(knn.get(i)!, mfOf.get(l2)!.get(i)!, weight)) - alone[j]);
        const n = Math.max(differences.length, 1);
        const gain = differences.reduce((a, b) => a + b, 0) / n;
        const variance = differences.reduce((a, d) => a + (d - gain) ** 2, 0) / Math.max(n - 1, 1);
        const value = alone.reduce((a, b) => a + b, 0) / n + gain;
        crossValidation.push({ l2, weight, value, gain, standardError: Math.sqrt(variance / n) });
      }
    }
    // The kNN vote alone unless a blend's gain clears the bar; among those that do, the best value
    // (ties: the smaller weight, then the first penalty).
    const eligible = crossValidation.filter((c) => c.weight === 0 || (c.gain > EPSILON && c.gain >= minimumGain * c.standardError));
    const fallback: MfBlendChoice = { l2: penalties[0], weight: 0, value: alone.reduce((a, b) => a + b, 0) / Math.max(alone.length, 1), gain: 0, standardError: 0 };
    this.chosen = [fallback, ...eligible].reduce((a, b) => (b.value > a.value + EPSILON || (Math.abs(b.value - a.value) <= EPSILON && b.weight < a.weight) ? b : a));
    this.crossValidation = crossValidation;
    this.scorer = this.chosen.weight > 0 ? MfScorer.fit(items, { ...mfOptions, l2: this.chosen.l2 }) : undefined;

    // Confidence: Platt scaling of the blended margin on the held-out items (out of sample).
    const margins: number[] = [];
    const labels: number[] = [];
    for (const i of heldOut) {
      const u = blend(knn.get(i)!, mfOf.get(this.chosen.l2)!.get(i)!, this.chosen.weight);
      const order = [...u.keys()].sort((a, b) => u[b] - u[a]);
      const scores = experts.map((e) => items[i].scores[e] ?? -Infinity);
      margins.push(order.length > 1 ? u[order[0]] - u[order[1]] : 1);
      labels.push(scores[order[0]] >= Math.max(...scores) - EPSILON ? 1 : 0);
    }
    this.platt = fitPlatt(margins, labels);
  }

  /** Experts ranked by the blended utility (standardised units). */
  route(text: string): RouteDecision {
    const experts = this.options.experts;
    const decision = this.router.route(text);
    const mf = this.scorer ? standardised(this.scorer.logits(text, experts)) : new Float64Array(experts.length);
    const u = blend(standardised(utilities(decision, experts)), mf, this.chosen.weight);
    const ranked = experts.map((expert, e) => ({ expert, utility: u[e] })).sort((x, y) => y.utility - x.utility || x.expert.localeCompare(y.expert));
    const margin = ranked.length > 1 ? ranked[0].utility - ranked[1].utility : 1;
    return { ...decision, ranked, confidence: 1 / (1 + Math.exp(-(this.platt.a * margin + this.platt.b))) };
  }
}

/** A decision's utilities in the experts' order. */
function utilities(decision: RouteDecision, experts: readonly string[]): Float64Array {
  const byExpert = new Map(decision.ranked.map((r) => [r.expert, r.utility]));
  return Float64Array.from(experts, (e) => byExpert.get(e)!);
}

/** (x − mean) / sd across the entries; all zero when they are all equal. */
function standardised(x: Float64Array): Float64Array {
  let mean = 0;
  for (const v of x) mean += v / x.length;
  let squares = 0;
  for (const v of x) squares += (v - mean) ** 2;
  const sd = Math.sqrt(squares / x.length);
  return Float64Array.from(x, (v) => (sd > EPSILON ? (v - mean) / sd : 0));
}

function blend(knn: Float64Array, mf: Float64Array, weight: number): Float64Array {
  return Float64Array.from(knn, (v, e) => (1 - weight) * v + weight * mf[e]);
}

