/** Results of `cogen eval`: the record type lives with the evidence types in src/core/evidence.ts. */
export type { ResultMetric, ResultRecord } from "../core/evidence.js";

/** The dedupe key of a result: one line per (model, item). */
export function resultKey(model: string, item: string): string {
  return JSON.stringify([model, item]);
}

/** The [0, 1] score of a bits-per-byte result: 2^(−bpb). */
export function bpbScore(bpb: number): number {
  return 2 ** -bpb;
}
