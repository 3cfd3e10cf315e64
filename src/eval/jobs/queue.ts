/**
 * Where evaluation jobs run. The in-process queue (the default) runs them here, one after the
 * other; the BullMQ queue (bullmq.ts) hands them to `cogen worker` processes through Redis.
 * Either way a job's results arrive only when the whole job has completed.
 */
import type { ResultRecord } from "../result.js";
import type { ItemFailure } from "./execute.js";
import type { EvalJob } from "./job.js";

export interface JobOutcome {
  job: EvalJob;
  /** Present when the job completed. */
  records?: ResultRecord[];
  /** Items of a completed job left without a result (too long for the model's context). */
  itemFailures?: ItemFailure[];
  /** Present when it failed (the message; user-facing). */
  error?: string;
}

export interface JobQueue {
  /** Run every job and report each outcome as it arrives; resolves when all are reported. */
  run(jobs: readonly EvalJob[], onOutcome: (outcome: JobOutcome) => Promise<void>): Promise<void>;
  close(): Promise<void>;
}
