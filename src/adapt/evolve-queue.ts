/**
 * Where evolve candidates run: here, one after the other (the default), or as BullMQ jobs on
 * their own queue next to evaluation's (`cogen adapt evolve --queue URL`), run by `cogen worker
 * --queue URL` on any machine that has the recipe's models at the same paths. A candidate's score
 * comes back as the job's return value and counts only once the job has completed.
 */
import { CogenError } from "../core/errors.js";
import { BullMqQueue, startEvalWorker, type EvalWorker, type EvalWorkerOptions } from "../eval/jobs/bullmq.js";
import { llamaRuntime } from "../models/llamacpp/runtime.js";
import { executeEvolveJob, runEvolveJob, type CandidateRun, type CandidateScore, type EvolveJob } from "./evolve-job.js";

export const EVOLVE_QUEUE_NAME = "cogen-evolve";

export type EvolveOutcome = { score: CandidateScore; run?: CandidateRun } | { error: string };

export interface EvolveQueue {
  /** Run every job, reporting each outcome as it arrives; resolves when all are reported. */
  run(jobs: readonly EvolveJob[], onOutcome: (job: EvolveJob, outcome: EvolveOutcome) => Promise<void>): Promise<void>;
  /** Drop what the queue keeps of these finished jobs: their generation is saved in the run's folder. */
  forget?(jobIds: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export function inProcessEvolveQueue(execute: (job: EvolveJob) => Promise<CandidateScore> = executeEvolveJob): EvolveQueue {
  return {
    async run(jobs, onOutcome) {
      for (const job of jobs) {
        let outcome: EvolveOutcome;
        try {
          outcome = await runEvolveJob(job, execute);
        } catch (error) {
          if (!CogenError.isInstance(error)) throw error;
          outcome = { error: error.message };
        }
        await onOutcome(job, outcome);
      }
    },
    async close() {},
  };
}

export function bullMqEvolveQueue(url: string, name = EVOLVE_QUEUE_NAME): EvolveQueue {
  const queue = new BullMqQueue(url, name);
  return {
    run: (jobs, onOutcome) => queue.runJobs(jobs, "evolve", async (job, result, error) => {
      if (error !== undefined) return onOutcome(job, { error });
      const { score, run } = (result ?? {}) as { score?: CandidateScore; run?: CandidateRun };
      if (!score || typeof score.objective !== "number") return onOutcome(job, { error: "the worker returned no score" });
      return onOutcome(job, { score, ...(run ? { run } : {}) });
    }),
    forget: (jobIds) => queue.forget(jobIds),
    close: () => queue.close(),
  };
}

/**
 * A worker for evolve candidates. llama.cpp is started before the first job is taken (it takes
 * seconds: loading and testing the native binding), so a worker that says it is waiting is ready
 * and a search's first candidates do not carry the start-up. A runtime that cannot start is left
 * for each job to report.
 */
export async function startEvolveWorker(url: string, options: Omit<EvalWorkerOptions<EvolveJob, { score: CandidateScore; run: CandidateRun }>, "execute" | "queueName" | "localExperts"> & { queueName?: string } = {}): Promise<EvalWorker> {
  await llamaRuntime(false).catch(() => undefined);
  return startEvalWorker<EvolveJob, { score: CandidateScore; run: CandidateRun }>(url, {
    ...options,
    queueName: options.queueName ?? EVOLVE_QUEUE_NAME,
    execute: (job) => runEvolveJob(job, executeEvolveJob),
  });
}
