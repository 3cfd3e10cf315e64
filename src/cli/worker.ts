/**
 * `cogen worker --queue redis://HOST:PORT`: run evaluation jobs submitted by
 * `cogen eval --queue ...`, target jobs of `cogen distill targets --queue ...` and candidates of
 * `cogen adapt evolve --queue ...` until interrupted (SIGINT/SIGTERM finish the current job first).
 */
import { readModelsFile, type ExpertSpec } from "../formats/models-file.js";
import { startEvalWorker } from "../eval/jobs/bullmq.js";
import { executeEvalJob } from "../eval/jobs/execute.js";
import { startTargetWorker } from "../fuse/distill/target-queue.js";
import { startEvolveWorker } from "../adapt/evolve-queue.js";
import { ModelPool } from "../models/pool.js";
import { openModel } from "../models/open.js";
import { parseFlags, parseSize, QUEUE_FLAGS, queueChoice, UsageError } from "./args.js";
import { reachQueue } from "./queue-reachable.js";

const HELP = `usage: cogen worker --queue redis://HOST:PORT [options]

Run evaluation jobs from the queue that 'cogen eval --queue' fills, and target jobs
from 'cogen distill targets --queue', and candidates of 'cogen adapt evolve --queue'.

options:
  --models FILE        local expert definitions that replace the submitted ones by id
                       (when model paths or URLs differ on this machine)
  --concurrency N      jobs at once (default 1)
  --memory SIZE        keep loaded local models under SIZE (default: no limit)
  --gpu                let llama.cpp use a GPU (default: CPU)
  --lock-duration MS   a job whose worker is silent this long is given to another (default 30000)
  --connect-timeout S  exit (status 1) when Redis cannot be reached for S seconds at start
                       (default: keep retrying, with a line per attempt and a growing wait)
  --jobs KINDS         which queues to serve, comma-separated: eval, targets, evolve
                       (default all three; an eval-only worker never starts evolve's llama.cpp)
  --quiet              no per-job lines`;

const JOB_KINDS = ["eval", "targets", "evolve"] as const;
type JobKind = (typeof JOB_KINDS)[number];

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    ...QUEUE_FLAGS,
    models: { type: "string" },
    concurrency: { type: "string", default: "1" },
    memory: { type: "string" },
    gpu: { type: "boolean", default: false },
    "lock-duration": { type: "string", default: "30000" },
    jobs: { type: "string", default: JOB_KINDS.join(",") },
    quiet: { type: "boolean", default: false },
  }, HELP, { positionals: 0 });
  const problems: string[] = [];
  if (!values.queue) problems.push("--queue is required (redis://HOST:PORT)");
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) problems.push(`--concurrency must be a positive integer, got '${values.concurrency}'`);
  const lock = Number(values["lock-duration"]);
  if (!Number.isInteger(lock) || lock < 1000) problems.push(`--lock-duration must be an integer ≥ 1000 (ms), got '${values["lock-duration"]}'`);
  const queueAt = queueChoice(values, problems);
  const kinds = values.jobs!.split(",").map((k) => k.trim()).filter((k) => k !== "");
  const unknown = kinds.filter((k) => !(JOB_KINDS as readonly string[]).includes(k));
  if (unknown.length > 0 || kinds.length === 0) problems.push(`--jobs takes a comma-separated list of ${JOB_KINDS.join(", ")}; got '${values.jobs}'`);
  const serves = (kind: JobKind) => kinds.includes(kind);
  if (problems.length > 0) throw new UsageError(problems);
  // Local inputs first: a wrong models file is said at once, not after waiting for Redis.
  const localExperts: ExpertSpec[] = values.models ? await readModelsFile(values.models) : [];
  await reachQueue("worker", queueAt!.url, queueAt!.timeoutSeconds);
  const gpu = values.gpu ? "auto" as const : false as const;
  const pool = new ModelPool({
    budgetBytes: values.memory === undefined ? undefined : parseSize(values.memory, "--memory"),
    open: (spec) => openModel(spec, { gpu }),
  });
  const worker = serves("eval") ? await startEvalWorker(values.queue!, {
    execute: async (job) => {
      const result = await executeEvalJob(job, pool);
      // The job completes with the rest of its items; say here which ones have no result and why.
      for (const f of result.itemFailures) console.error(`cogen worker: item '${f.item}' of model '${f.model}' has no result: ${f.error}`);
      return result;
    },
    localExperts,
    concurrency,
    lockDurationMs: lock,
    onJob: values.quiet ? undefined : (job, outcome, detail) =>
      console.error(`${outcome} ${job.id}: ${job.expert.id}, ${job.items.length} items${detail ? ` (${detail})` : ""}`),
    onError: (error) => console.error(`cogen worker: ${error.message} (retrying)`),
  }) : null;
  const targets = serves("targets") ? await startTargetWorker(values.queue!, pool, {
    localExperts,
    concurrency,
    lockDurationMs: lock,
    onJob: values.quiet ? undefined : (job, outcome, detail) =>
      console.error(`${outcome} ${job.id}: ${job.expert.id}, ${job.texts.length} texts → ${job.file}${detail ? ` (${detail})` : ""}`),
  }) : null;
  const evolve = serves("evolve") ? await startEvolveWorker(values.queue!, {
    concurrency,
    lockDurationMs: lock,
    onJob: values.quiet ? undefined : (job, outcome, detail) =>
      console.error(`${outcome} ${job.id}: evolve candidate, ${job.items.length} items${detail ? ` (${detail})` : ""}`),
  }) : null;
  if (!values.quiet) console.error(`cogen worker: waiting for ${kinds.join(", ")} jobs on ${values.queue!.replace(/\/\/[^@/]*@/, "//")}`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await worker?.close();
  await targets?.close();
  await evolve?.close();
  await pool.close();
  return 0;
}

