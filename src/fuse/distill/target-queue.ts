/**
 * Target jobs over Redis with BullMQ, on their own queue next to evaluation's: `cogen distill
 * targets --queue URL` submits them, `cogen worker --queue URL` runs them (each worker next to its
 * own model server, its --models file naming the same source ids). A shard travels back as the
 * job's return value (its file bytes, base64) and is written by the submitting process only once
 * the job has completed.
 */
import { BullMqQueue, startEvalWorker, type EvalWorker, type EvalWorkerOptions } from "../../eval/jobs/bullmq.js";
import { decodeTopKShard, encodeTopKShard } from "../../formats/topk-shard.js";
import type { ModelPool } from "../../models/pool.js";
import type { TargetQueue } from "./targets.js";
import { executeTargetJob, type TargetJob } from "./target-job.js";

export const TARGETS_QUEUE_NAME = "cogen-distill-targets";

export function bullMqTargetQueue(url: string, name = TARGETS_QUEUE_NAME): TargetQueue {
  const queue = new BullMqQueue(url, name);
  return {
    run: (jobs, onOutcome) => queue.runJobs(jobs, "targets", async (job, result, error) => {
      if (error !== undefined) return onOutcome(job, { error });
      if (typeof result !== "string") return onOutcome(job, { error: "the worker returned no shard" });
      return onOutcome(job, { shard: decodeTopKShard(Buffer.from(result, "base64"), `${job.file} (from a worker)`) });
    }),
    close: () => queue.close(),
  };
}

export function startTargetWorker(url: string, pool: ModelPool, options: Omit<EvalWorkerOptions<TargetJob, string>, "execute" | "queueName"> & { queueName?: string } = {}): Promise<EvalWorker> {
  return startEvalWorker<TargetJob, string>(url, {
    ...options,
    queueName: options.queueName ?? TARGETS_QUEUE_NAME,
    execute: async (job) => Buffer.from(encodeTopKShard(await executeTargetJob(job, pool))).toString("base64"),
  });
}
