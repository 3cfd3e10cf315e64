import { ConfigError } from "../../core/errors.js";
import { answerFormatFeatures, splitOptions } from "./answer-format.js";
import { CorrectnessScorer, type CorrectnessExample, type CorrectnessScorerOptions } from "./correctness.js";
import type { LabelledItem, Neighbour } from "./knn.js";
import { fitPlatt, Router, type RouteDecision, type RouterOptions } from "./router.js";

/**
 * A router whose kNN vote is one input of a trained scorer instead of the decision: per expert,
 * the votes of the request's nearest 16, 64 and 256 evidence items (each shrunk toward the
 * per-domain prior, as the Router does), the prior itself and the request's answer format
 * (answer-format.ts) go into a logistic regression of that expert's result, fitted on
 * leave-one-out features of the evidence with its penalty cross-validated there
 * (CorrectnessScorer). The scorer learns how far to trust the near vote against the wide one
 * and the prior, and what a question's format says about which expert gets it right — a
 * per-domain prior plus a per-question correction, weighed on the evidence.
 *
 * Options, when a request carries them as lettered lines, feed the format features only: the
 * kNN indexes and queries the question part.
 */
export interface StackedRouterOptions extends RouterOptions {
  /** Neighbour counts whose votes are features (default 16, 64, 256). */
  neighbourCounts?: readonly number[];
  /** Scored items, evenly spaced, whose leave-one-out features train the scorer (default 3,000). */
  trainingItems?: number;
  scorer?: CorrectnessScorerOptions;
}

const DEFAULT_NEIGHBOUR_COUNTS = [16, 64, 256];
const EPSILON = 1e-9;

export class StackedRouter {
  /** The kNN router whose votes are features. */
  readonly router: Router;
  readonly scorer: CorrectnessScorer;
  private readonly counts: readonly number[];
  private readonly platt: { a: number; b: number };

  constructor(items: readonly LabelledItem[], readonly options: StackedRouterOptions) {
    this.counts = [...(options.neighbourCounts ?? DEFAULT_NEIGHBOUR_COUNTS)].sort((a, b) => a - b);
    const trainingItems = options.trainingItems ?? 3000;
    const problems: string[] = [];
    if (this.counts.length === 0 || this.counts.some((k) => !Number.isInteger(k) || k < 1)) problems.push(`neighbourCounts: positive integers, at least one (got ${this.counts.join(", ") || "none"})`);
    if (!Number.isInteger(trainingItems) || trainingItems < 2) problems.push(`trainingItems: an integer of at least 2 (got ${trainingItems})`);
    if (problems.length > 0) throw new ConfigError(problems);
    const questionOnly = (item: LabelledItem): LabelledItem => ({ ...item, text: splitOptions(item.text).question });
    this.router = new Router(items.map(questionOnly), { ...options, domainItems: options.domainItems?.map(questionOnly) });

    // Leave-one-out features of evenly spaced scored items: each item's own result is the label.
    const experts = options.experts;
    const scored = items.map((item, i) => ({ item, i })).filter(({ item }) => experts.some((e) => item.scores[e] !== undefined));
    const step = Math.max(1, Math.floor(scored.length / trainingItems));
    const examples: CorrectnessExample[] = [];
    for (let j = 0; j < scored.length; j += step) {
      const { item, i } = scored[j];
      examples.push({ features: this.features(this.router.index.queryIndex(i, this.widest), item.text), scores: experts.map((e) => item.scores[e]) });
    }
    this.scorer = CorrectnessScorer.fit(examples, options.scorer);

    // Confidence: Platt scaling of the logit margin on the training items (in-sample, so a little optimistic).
    const margins: number[] = [];
    const labels: number[] = [];
    for (const example of examples) {
      const logits = this.scorer.logits(example.features);
      const order = [...logits.keys()].sort((a, b) => logits[b] - logits[a]);
      const best = Math.max(...example.scores.map((s) => s ?? -Infinity));
      margins.push(order.length > 1 ? logits[order[0]] - logits[order[1]] : 1);
      labels.push((example.scores[order[0]] ?? -Infinity) >= best - EPSILON ? 1 : 0);
    }
    this.platt = fitPlatt(margins, labels);
  }

  /** Experts ranked by the scorer's log-odds that each gets the request right (`utility`). */
  route(text: string): RouteDecision {
    const question = splitOptions(text).question;
    const neighbours = this.router.index.query(question, this.widest);
    const logits = this.scorer.logits(this.features(neighbours, text));
    const near = this.router.decide(neighbours.slice(0, this.counts[0]));
    const ranked = this.options.experts
      .map((expert, e) => ({ expert, utility: logits[e] }))
      .sort((x, y) => y.utility - x.utility || x.expert.localeCompare(y.expert));
    const margin = ranked.length > 1 ? ranked[0].utility - ranked[1].utility : 1;
    return { ranked, confidence: 1 / (1 + Math.exp(-(this.platt.a * margin + this.platt.b))), domain: near.domain, domains: near.domains };
  }

  private get widest(): number {
    return this.counts[this.counts.length - 1];
  }

  /** Per expert: its vote at each neighbour count, its domain prior, then the text's answer format. */
  private features(neighbours: readonly Neighbour[], text: string): Float64Array[] {
    const experts = this.options.experts;
    const decisions = this.counts.map((k) => this.router.decide(neighbours.slice(0, k)));
    const votes = decisions.map((decision) => new Map(decision.ranked.map((r) => [r.expert, r.utility])));
    const prior = this.router.domainPrior(decisions[0].domains);
    const format = answerFormatFeatures(text);
    return experts.map((expert, e) => Float64Array.from([...votes.map((v) => v.get(expert)!), prior[e], ...format]));
  }
}
