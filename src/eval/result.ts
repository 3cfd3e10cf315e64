/**
 * One line of a results file: one model on one item. The first five fields are what `cogen rank`
 * reads (long-format results JSONL); the rest is the raw evidence behind the score.
 *
 * `metric` names what `score` is:
 *   - "acc"         multiple choice: 1 if the most likely choice is the answer, else 0
 *                   (also `acc_norm`, `logprobs` per choice, `greedy` per choice, `tokens` per choice)
 *   - "exact_match" 1 if the greedy generation (stopped at a newline) equals an answer, else 0
 *                   (also `generation`)
 *   - "bpb"         bits per byte of the text, LOWER is better and not in [0, 1]
 *                   (also `logprob`, `bytes`, `tokens`)
 * A consumer that needs a score in [0, 1] where higher is better should read a bpb row as
 * 2^(−score): the geometric-mean probability the model gave each byte.
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
  bytes?: number;
  generation?: string;
}

/** The dedupe key of a result: one line per (model, item). */
export function resultKey(model: string, item: string): string {
  return JSON.stringify([model, item]);
}

/** Map a score to [0, 1], higher better: bpb rows become 2^(−bpb). */
export function unitScore(record: Pick<ResultRecord, "metric" | "score">): number {
  return record.metric === "bpb" ? 2 ** -record.score : record.score;
}
