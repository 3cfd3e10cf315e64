/** Run jobs here, in order. After an expert's job fails, its remaining jobs are not attempted. */
import { CogenError } from "../../core/errors.js";
import type { EvalJobResult } from "./execute.js";
import type { EvalJob } from "./job.js";
import type { JobOutcome, JobQueue } from "./queue.js";

export class InProcessQueue implements JobQueue {
  constructor(private readonly execute: (job: EvalJob) => Promise<EvalJobResult>) {}

  async run(jobs: readonly EvalJob[], onOutcome: (outcome: JobOutcome) => Promise<void>): Promise<void> {
    const failed = new Map<string, string>();
    for (const job of jobs) {
      const earlier = failed.get(job.expert.id);
      if (earlier !== undefined) {
        await onOutcome({ job, error: `not attempted: an earlier job of '${job.expert.id}' failed` });
        continue;
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
  }

  async close(): Promise<void> {}
}
