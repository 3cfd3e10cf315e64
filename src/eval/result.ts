/**
 * One line of a results file: one model on one item. The first five fields are what `cogen rank`
 * reads (long-format results JSONL); the rest is the raw evidence behind the score.
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

export interface ResultRecord {
  model: string;
  item: string;
  domain: string;
  score: number;
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

/** The dedupe key of a result: one line per (model, item). */
export function resultKey(model: string, item: string): string {
  return JSON.stringify([model, item]);
}

/** The [0, 1] score of a bits-per-byte result: 2^(−bpb). */
export function bpbScore(bpb: number): number {
  return 2 ** -bpb;
}
