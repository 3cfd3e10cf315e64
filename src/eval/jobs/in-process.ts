/**
 * Run jobs here, in order, `lanes` at a time (default 1; llama.cpp computes off the main thread,
 * so two tiny models on two cores take half the time). After an expert's job fails, its
 * remaining jobs are not attempted.
 */
import { CogenError } from "../../core/errors.js";
import type { EvalJobResult } from "./execute.js";
import type { EvalJob } from "./job.js";
import type { JobOutcome, JobQueue } from "./queue.js";

export class InProcessQueue implements JobQueue {
  constructor(
    private readonly execute: (job: EvalJob) => Promise<EvalJobResult>,
    private readonly lanes = 1,
  ) {}

  async run(jobs: readonly EvalJob[], onOutcome: (outcome: JobOutcome) => Promise<void>): Promise<void> {
    const failed = new Map<string, string>();
    let next = 0;
    const lane = async () => {
      while (next < jobs.length) await this.runOne(jobs[next++], failed, onOutcome);
    };
    await Promise.all(Array.from({ length: Math.max(1, this.lanes) }, lane));
  }

  private async runOne(job: EvalJob, failed: Map<string, string>, onOutcome: (outcome: JobOutcome) => Promise<void>): Promise<void> {
    if (failed.has(job.expert.id)) {
      await onOutcome({ job, error: `not attempted: an earlier job of '${job.expert.id}' failed` });
      return;
    }
    let outcome: JobOutcome;
    try {
      outcome = { job, ...(await this.execute(job)) };
    } catch (error) {
      if (!CogenError.isInstance(error)) throw error;
      failed.set(job.expert.id, error.message);
      outcome = { job, error: error.message };
    }
    await onOutcome(outcome);
  }

  async close(): Promise<void> {}
}
