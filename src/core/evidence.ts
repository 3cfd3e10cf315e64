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

/**
 * One line of a results file that `cogen eval` writes: one model on one item. It is an ItemResult
 * (the fields `cogen rank` reads) plus the metric, the task and the raw evidence behind the score;
 * src/formats/results.ts validates every field when it reads one.
 *
 * `metric` names what `score` is:
 *   - "acc"         multiple choice: 1 if the most likely choice is the answer, else 0
 *                   (also `acc_norm`, `logprobs` per choice, `greedy` per choice, `tokens` per choice)
 *   - "exact_match" 1 if the greedy generation (stopped at a newline) equals an answer, else 0
 *                   (also `generation`)
 *   - "bpb"         bits per byte of a text: `bpb` holds it (lower is better) and `score` is
 *                   2^(−bpb), the geometric-mean probability the model gave each byte, so that
 *                   every score is in [0, 1] with higher better, as `cogen rank` requires
 *                   (also `logprob`, `bytes`, `tokens`)
 * `cogen rank` reads `score` for every metric; a bpb row is a continuous score, not a 0/1.
 */
export type ResultMetric = "acc" | "exact_match" | "bpb";

export interface ResultRecord extends ItemResult {
  metric: ResultMetric;
  task: string;
  acc_norm?: number;
  logprobs?: number[];
  greedy?: boolean[];
  tokens?: number[] | number;
  logprob?: number;
  bpb?: number;
  bytes?: number;
  generation?: string;
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
