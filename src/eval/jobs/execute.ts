/** Run one evaluation job: open (or reuse) the expert's model and evaluate its items. */
import { BackendError, CogenError, ContextLengthError } from "../../core/errors.js";
import type { ResultRecord } from "../result.js";
import { evaluateItem } from "../evaluate-item.js";
import type { ModelPool } from "../../models/pool.js";
import type { EvalJob } from "./job.js";

/** An item left without a result while the rest of its job went on (it does not fit the model's context). */
export interface ItemFailure {
  model: string;
  item: string;
  error: string;
}

export interface EvalJobResult {
  /** In item order, without the failed items. */
  records: ResultRecord[];
  itemFailures: ItemFailure[];
}

/**
 * Any failure of the model (load, backend, timeout) fails the whole job, so a job's results
 * count all together or not at all; an item that cannot fit the model's context
 * (ContextLengthError) fails alone and the job goes on. `onItem` is called once per item, failed
 * or not.
 */
export async function executeEvalJob(job: EvalJob, pool: ModelPool, onItem?: () => void): Promise<EvalJobResult> {
  try {
    return await runJob(job, pool, onItem);
  } catch (error) {
    // A backend library's own error (not a cogen one) still only fails this expert's job.
    if (CogenError.isInstance(error) || !(error instanceof Error)) throw error;
    throw new BackendError(job.expert.id, error.message);
  }
}

function runJob(job: EvalJob, pool: ModelPool, onItem?: () => void): Promise<EvalJobResult> {
  return pool.use(job.expert, async (model) => {
    const results: (ResultRecord | undefined)[] = new Array(job.items.length);
    const failed: (ItemFailure | undefined)[] = new Array(job.items.length);
    let next = 0;
    const worker = async () => {
      while (next < job.items.length) {
        const index = next++;
        const item = job.items[index];
        try {
          results[index] = await withTimeout(job.itemTimeoutMs, job.expert.id, item.id, (signal) => evaluateItem(model, item, signal));
        } catch (error) {
          if (!ContextLengthError.isInstance(error)) throw error;
          failed[index] = { model: job.expert.id, item: item.id, error: error.message };
        }
        onItem?.();
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(job.concurrency, job.items.length)) }, worker));
    return {
      records: results.filter((r): r is ResultRecord => r !== undefined),
      itemFailures: failed.filter((f): f is ItemFailure => f !== undefined),
    };
  });
}

async function withTimeout<T>(ms: number, model: string, item: string, task: (signal?: AbortSignal) => Promise<T>): Promise<T> {
  const wrap = (error: unknown): never => {
    if (ContextLengthError.isInstance(error)) throw new ContextLengthError(model, `item '${item}': ${error.message}`);
    if (CogenError.isInstance(error)) throw new BackendError(model, `item '${item}': ${error.message}`, (error as BackendError).retryable);
    throw error;
  };
  if (!ms) return task().catch(wrap);
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new BackendError(model, `item '${item}' timed out after ${ms} ms`, true));
    }, ms);
  });
  try {
    return await Promise.race([task(controller.signal).catch(wrap), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
