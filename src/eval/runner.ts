/**
 * `runEval`: experts × items → one results line per (model, item), appended to a resumable
 * results file. Work is split into jobs (one expert, one batch of items) and handed to a queue:
 * in-process by default, or BullMQ workers on other machines. A model that fails to load or
 * times out is reported and the run goes on with the others.
 */
import type { Progress } from "../core/progress.js";
import { silentProgress } from "../core/progress.js";
import type { ExpertSpec } from "../formats/models-file.js";
import type { TaskItem } from "../formats/tasks.js";
import { executeEvalJob, type ItemFailure } from "./jobs/execute.js";
import { InProcessQueue } from "./jobs/in-process.js";
import { makeEvalJobs, type EvalJob } from "./jobs/job.js";
import type { JobQueue } from "./jobs/queue.js";
import { ModelPool } from "../models/pool.js";
import { ResultsLog } from "./results-log.js";

export interface EvalRunOptions {
  experts: ExpertSpec[];
  items: TaskItem[];
  /** The results JSONL file. */
  out: string;
  /** Continue an existing results file, skipping (model, item) pairs already in it. */
  resume?: boolean;
  /** Evaluate only the first N items. */
  limit?: number;
  /** Items of one job evaluated at once (default 4). */
  concurrency?: number;
  /** Items per job (default 32). */
  batchSize?: number;
  /** Per-item limit in milliseconds (default 0: none). */
  itemTimeoutMs?: number;
  /** Where jobs run (default: in this process with `pool`). */
  queue?: JobQueue;
  /** In-process jobs run at once (default 1). */
  lanes?: number;
  /** Models for the in-process queue (default: a pool without a memory budget). */
  pool?: ModelPool;
  progress?: Progress;
}

export interface EvalFailure {
  model: string;
  error: string;
  /** Items of this model left without a result. */
  items: number;
}

export interface EvalRunReport {
  out: string;
  /** Lines appended in this run. */
  written: number;
  /** Pairs already in the file (resume). */
  skipped: number;
  /** Bytes of a torn last line dropped on resume. */
  droppedBytes: number;
  failures: EvalFailure[];
  /** Items without a result whose model went on (each too long for the model's context). */
  itemFailures: ItemFailure[];
  seconds: number;
}

export async function runEval(options: EvalRunOptions): Promise<EvalRunReport> {
  const started = Date.now();
  const items = options.limit !== undefined ? options.items.slice(0, options.limit) : options.items;
  const log = await ResultsLog.open(options.out, options.resume ?? false);
  const progress = options.progress ?? silentProgress;
  const ownPool = options.queue || options.pool ? undefined : new ModelPool();
  const pool = options.pool ?? ownPool;
  // Each item moves the bar once: as it finishes here, or with its job's outcome from a worker
  // (a failed job counts only the items it had not already counted).
  const counted = new Map<string, number>();
  const count = (job: EvalJob, items: number) => {
    const done = counted.get(job.id) ?? 0;
    const add = Math.min(items, job.items.length - done);
    counted.set(job.id, done + add);
    if (add > 0) progress.tick(add);
  };
  const queue = options.queue ?? new InProcessQueue((job) => executeEvalJob(job, pool!, () => count(job, 1)), options.lanes);
  const inProcess = !options.queue;
  let skipped = 0;
  const jobs: EvalJob[] = [];
  for (const expert of options.experts) {
    const pending = items.filter((item) => !log.has(expert.id, item.id));
    skipped += items.length - pending.length;
    jobs.push(...makeEvalJobs(expert, pending, options.batchSize ?? 32, options.concurrency ?? 4, options.itemTimeoutMs ?? 0));
  }
  // In-process, an expert's model is closed after its last job, so experts run one at a time
  // instead of accumulating in memory.
  const jobsLeft = new Map<string, number>();
  for (const job of jobs) jobsLeft.set(job.expert.id, (jobsLeft.get(job.expert.id) ?? 0) + 1);
  const finishJob = async (job: EvalJob) => {
    const left = jobsLeft.get(job.expert.id)! - 1;
    jobsLeft.set(job.expert.id, left);
    if (left === 0 && inProcess && pool) await pool.evict(job.expert);
  };
  const failures = new Map<string, EvalFailure>();
  const itemFailures: ItemFailure[] = [];
  let written = 0;
  const total = jobs.reduce((s, j) => s + j.items.length, 0);
  progress.start("eval", total, "items");
  try {
    await queue.run(jobs, async (outcome) => {
      if (outcome.records) {
        // Outcomes may arrive concurrently: read `written` only after the await.
        const appended = await log.append(outcome.records);
        written += appended;
        itemFailures.push(...(outcome.itemFailures ?? []));
        count(outcome.job, outcome.job.items.length);
        await finishJob(outcome.job);
        return;
      }
      await finishJob(outcome.job);
      const model = outcome.job.expert.id;
      const failure = failures.get(model) ?? { model, error: outcome.error ?? "failed", items: 0 };
      failure.items += outcome.job.items.length;
      failures.set(model, failure);
      count(outcome.job, outcome.job.items.length);
    });
  } finally {
    await log.close();
    await ownPool?.close();
    if (!options.queue) await queue.close();
  }
  progress.done(`${written} results${failures.size > 0 ? `, ${failures.size} model(s) failed` : ""}${itemFailures.length > 0 ? `, ${itemFailures.length} item(s) failed` : ""}`);
  return { out: options.out, written, skipped, droppedBytes: log.droppedBytes, failures: [...failures.values()], itemFailures, seconds: (Date.now() - started) / 1000 };
}
