/**
 * An evaluation job: one expert on one batch of items. Its id is derived from its content, so
 * submitting the same work twice names the same job (queues deduplicate by id), and a
 * retried job produces the same (model, item) keys, which the results log deduplicates.
 */
import { createHash } from "node:crypto";
import type { ExpertSpec } from "../../formats/models-file.js";
import type { TaskItem } from "../../formats/tasks.js";

export interface EvalJob {
  id: string;
  expert: ExpertSpec;
  items: TaskItem[];
  /** Items of this job evaluated at once. */
  concurrency: number;
  /** Per-item limit in milliseconds; 0 for none. */
  itemTimeoutMs: number;
}

export function evalJobId(expert: ExpertSpec, items: readonly TaskItem[]): string {
  const hash = createHash("sha256").update(JSON.stringify({ expert, items })).digest("hex");
  return `eval-${hash.slice(0, 40)}`;
}

/** Split an expert's items into jobs of at most `batchSize` items. */
export function makeEvalJobs(expert: ExpertSpec, items: readonly TaskItem[], batchSize: number, concurrency: number, itemTimeoutMs: number): EvalJob[] {
  const jobs: EvalJob[] = [];
  for (let i = 0; i < items.length; i += batchSize) {
    const batch = items.slice(i, i + batchSize);
    jobs.push({ id: evalJobId(expert, batch), expert, items: batch, concurrency, itemTimeoutMs });
  }
  return jobs;
}
