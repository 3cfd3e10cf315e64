/**
 * Evidence that ranking consumes: per-item results and pairwise comparisons. Parsers in
 * src/formats produce these; estimators in src/rank consume them.
 */

/** One model's score on one evaluation item, in [0, 1] (0/1 for right/wrong). */
export interface ItemResult {
  model: string;
  item: string;
  score: number;
  /** Defaults to "default" when the source has none. */
  domain: string;
  benchmark?: string;
}

/** The outcome of one pairwise comparison, from model a's point of view. */
export type ComparisonOutcome = "a" | "b" | "tie" | "both_bad";

export interface Comparison {
  a: string;
  b: string;
  outcome: ComparisonOutcome;
  /** Optional category or domain of the prompt (Arena's category flags, say). */
  domain?: string;
}

/** A model's place in a ranking, with uncertainty. */
export interface RankedModel {
  model: string;
  /** Arena scale (400·r + 1000) for votes; logit-scale ability for per-item results. */
  rating: number;
  /** 95% interval. */
  ci: [number, number];
  /** 1 + the number of models whose lower bound is above this one's upper bound. */
  rank: number;
  /** Best and worst rank consistent with the intervals. */
  rankRange: [number, number];
}

export const DEFAULT_DOMAIN = "default";
