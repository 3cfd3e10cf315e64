/** Mean score per (model, metric) of a results file, for the CLI's table. */
import type { ResultMetric, ResultRecord } from "./result.js";

export interface ResultSummary {
  model: string;
  metric: ResultMetric;
  items: number;
  /** Mean of `score` (for bpb: of the bits per byte themselves). */
  mean: number;
}

export function summariseResults(records: readonly ResultRecord[]): ResultSummary[] {
  const groups = new Map<string, { model: string; metric: ResultMetric; sum: number; n: number }>();
  for (const r of records) {
    const key = JSON.stringify([r.model, r.metric]);
    const g = groups.get(key) ?? { model: r.model, metric: r.metric, sum: 0, n: 0 };
    g.sum += r.metric === "bpb" && r.bpb !== undefined ? r.bpb : r.score;
    g.n++;
    groups.set(key, g);
  }
  return [...groups.values()].map((g) => ({ model: g.model, metric: g.metric, items: g.n, mean: g.sum / g.n }));
}
