/**
 * Evaluation jobs over Redis with BullMQ. `cogen eval --queue URL` submits jobs (ids derived
 * from their content, so a resubmitted job is the same job) and waits for them; `cogen worker
 * --queue URL` runs them on any machine. A job's results travel back as its return value and
 * only count once the job has completed; a worker killed mid-job stops renewing its lock, BullMQ
 * moves the job back to the queue (stalled-job recovery) and another worker runs it again.
 */
import { Job, Queue, QueueEvents, Worker, type ConnectionOptions } from "bullmq";
import { ConfigError } from "../../core/errors.js";
import type { EvalJobResult } from "./execute.js";
import type { ExpertSpec } from "../../formats/models-file.js";
import type { EvalJob } from "./job.js";
import type { JobOutcome, JobQueue } from "./queue.js";

export const DEFAULT_QUEUE_NAME = "cogen-eval";
/** Attempts per job before it is reported as failed. */
const ATTEMPTS = 3;

/** `redis://[user:password@]HOST[:PORT][/DB]` (or rediss:// for TLS) → ioredis options. */
export function redisConnection(url: string): ConnectionOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error; // ERR_INVALID_URL
    throw new ConfigError([`--queue: '${url}' is not a URL (expected redis://HOST:PORT)`]);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new ConfigError([`--queue: expected a redis:// or rediss:// URL, got '${parsed.protocol}'`]);
  }
  const db = parsed.pathname.replace(/^\//, "");
  if (db !== "" && !/^\d+$/.test(db)) throw new ConfigError([`--queue: database '${db}' must be a number`]);
  return {
    host: parsed.hostname || "127.0.0.1",
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db !== "" ? { db: Number(db) } : {}),
    ...(parsed.protocol === "rediss:" ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

export class BullMqQueue implements JobQueue {
  private readonly connection: ConnectionOptions;
  private readonly queue: Queue;

  constructor(url: string, private readonly name = DEFAULT_QUEUE_NAME) {
    this.connection = redisConnection(url);
    this.queue = new Queue(name, { connection: this.connection });
  }

  async run(jobs: readonly EvalJob[], onOutcome: (outcome: JobOutcome) => Promise<void>): Promise<void> {
    await this.runJobs(jobs, "eval", (job, result, error) => onOutcome(error === undefined ? { job, ...(result as EvalJobResult) } : { job, error }));
  }

  /**
   * Submit jobs of any kind (ids derived from their content) and report each one's return value,
   * or its failure message, as it finishes. Other job kinds use their own queue name.
   */
  async runJobs<J extends { id: string }>(jobs: readonly J[], name: string, onOutcome: (job: J, result: unknown, error?: string) => Promise<void>): Promise<void> {
    if (jobs.length === 0) return;
    type Finished = { result?: unknown; error?: string };
    const waiting = new Map<string, (finished: Finished) => void>();
    const finished = new Map<string, Promise<Finished>>();
    for (const job of jobs) {
      if (!finished.has(job.id)) finished.set(job.id, new Promise((resolve) => waiting.set(job.id, resolve)));
    }
    // One listener per event for the whole batch (not one per job: BullMQ's waitUntilFinished
    // adds a 'closing' listener to the Queue per job, past Node's warning at 11).
    const events = new QueueEvents(this.name, { connection: this.connection });
    events.on("completed", ({ jobId, returnvalue }) => waiting.get(jobId)?.({ result: returnvalue }));
    events.on("failed", ({ jobId, failedReason }) => waiting.get(jobId)?.({ error: failedReason }));
    try {
      await events.waitUntilReady();
      // A job that failed in an earlier run keeps its id; remove it so this run can retry it.
      await Promise.all([...finished.keys()].map(async (id) => {
        const existing = await Job.fromId(this.queue, id);
        if (existing && (await existing.isFailed())) await existing.remove();
      }));
      await this.queue.addBulk([...finished.keys()].map((id) => ({
        name,
        data: jobs.find((job) => job.id === id),
        opts: { jobId: id, attempts: ATTEMPTS, backoff: { type: "exponential", delay: 1000 } },
      })));
      // A job that finished before the listener was ready (or before this run) is answered from its record.
      await Promise.all([...finished.keys()].map(async (id) => {
        const state = await this.queue.getJobState(id);
        if (state !== "completed" && state !== "failed") return;
        const job = await Job.fromId(this.queue, id);
        if (job) waiting.get(id)?.(state === "completed" ? { result: job.returnvalue } : { error: job.failedReason });
      }));
      await Promise.all(jobs.map(async (job) => {
        const { result, error } = await finished.get(job.id)!;
        await (error === undefined ? onOutcome(job, result) : onOutcome(job, undefined, error));
      }));
    } finally {
      await events.close();
    }
  }

  /**
   * Drop finished jobs' records (their results are saved elsewhere), so a queue that serves many
   * runs does not keep every job forever. Jobs still waiting or running are left alone.
   */
  async forget(ids: readonly string[]): Promise<void> {
    await Promise.all(ids.map(async (id) => {
      const state = await this.queue.getJobState(id);
      if (state === "completed" || state === "failed") await this.queue.remove(id);
    }));
  }

  /** How many finished (completed or failed) job records the queue holds. */
  async finishedCount(): Promise<number> {
    const counts = await this.queue.getJobCounts("completed", "failed");
    return (counts.completed ?? 0) + (counts.failed ?? 0);
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

export interface EvalWorkerOptions<J extends { id: string; expert?: ExpertSpec } = EvalJob, R = EvalJobResult> {
  /** Run a job; results are the job's return value. */
  execute: (job: J) => Promise<R>;
  /** Local expert definitions that replace a job's by id (paths differ between machines). */
  localExperts?: ExpertSpec[];
  /** Jobs run at once by this worker (default 1). */
  concurrency?: number;
  /** Milliseconds a job's lock lasts without renewal before it counts as stalled (default 30 000). */
  lockDurationMs?: number;
  queueName?: string;
  onJob?: (job: J, outcome: "completed" | "failed", detail?: string) => void;
  /** A worker-level error (lost Redis connection, a failed lock renewal). BullMQ retries the
   *  connection and keeps the worker going; default: a process warning on stderr. */
  onError?: (error: Error) => void;
}

export interface EvalWorker {
  close(): Promise<void>;
}

/**
 * A worker for evaluation jobs, or (with its own queue name and types) for any other job kind;
 * a job that names an expert gets the local definition of that id where there is one.
 */
export async function startEvalWorker<J extends { id: string; expert?: ExpertSpec } = EvalJob, R = EvalJobResult>(url: string, options: EvalWorkerOptions<J, R>): Promise<EvalWorker> {
  const connection = redisConnection(url);
  const local = new Map((options.localExperts ?? []).map((e) => [e.id, e]));
  const lockDuration = options.lockDurationMs ?? 30_000;
  const worker = new Worker(
    options.queueName ?? DEFAULT_QUEUE_NAME,
    async (job: Job) => {
      const data = job.data as J;
      if (!data.expert) return options.execute(data);
      return options.execute({ ...data, expert: local.get(data.expert.id) ?? data.expert });
    },
    { connection, concurrency: options.concurrency ?? 1, lockDuration, stalledInterval: lockDuration, maxStalledCount: 3 },
  );
  worker.on("completed", (job) => options.onJob?.(job.data as J, "completed"));
  worker.on("failed", (job, error) => job && options.onJob?.(job.data as J, "failed", error.message));
  // Reported, not fatal: ioredis reconnects and the worker resumes.
  worker.on("error", options.onError ?? ((error) => process.emitWarning(`cogen worker: ${error.message}`)));
  await worker.waitUntilReady();
  return { close: () => worker.close() };
}
