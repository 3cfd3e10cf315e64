/**
 * `cogen worker --queue redis://HOST:PORT`: run evaluation jobs submitted by
 * `cogen eval --queue ...` and target jobs of `cogen distill targets --queue ...` until interrupted (SIGINT/SIGTERM finish the current job first).
 */
import { ConfigError } from "../core/errors.js";
import { readModelsFile, type ExpertSpec } from "../formats/models-file.js";
import { startEvalWorker } from "../eval/jobs/bullmq.js";
import { executeEvalJob } from "../eval/jobs/execute.js";
import { startTargetWorker } from "../fuse/distill/target-queue.js";
import { ModelPool } from "../models/pool.js";
import { openModel } from "../models/open.js";
import { parseFlags, parseSize } from "./args.js";
import { reachQueue } from "./queue-reachable.js";

const HELP = `usage: cogen worker --queue redis://HOST:PORT [options]

Run evaluation jobs from the queue that 'cogen eval --queue' fills, and target jobs
from 'cogen distill targets --queue'.

options:
  --models FILE        local expert definitions that replace the submitted ones by id
                       (when model paths or URLs differ on this machine)
  --concurrency N      jobs at once (default 1)
  --memory SIZE        keep loaded local models under SIZE (default: no limit)
  --gpu                let llama.cpp use a GPU (default: CPU)
  --lock-duration MS   a job whose worker is silent this long is given to another (default 30000)
  --connect-timeout S  exit (status 1) when Redis cannot be reached for S seconds at start
                       (default: keep retrying, with a line per attempt and a growing wait)
  --quiet              no per-job lines`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    queue: { type: "string" },
    models: { type: "string" },
    concurrency: { type: "string", default: "1" },
    memory: { type: "string" },
    gpu: { type: "boolean", default: false },
    "lock-duration": { type: "string", default: "30000" },
    "connect-timeout": { type: "string" },
    quiet: { type: "boolean", default: false },
  }, HELP);
  const problems: string[] = [];
  if (!values.queue) problems.push("--queue is required (redis://HOST:PORT)");
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) problems.push(`--concurrency must be a positive integer, got '${values.concurrency}'`);
  const lock = Number(values["lock-duration"]);
  if (!Number.isInteger(lock) || lock < 1000) problems.push(`--lock-duration must be an integer ≥ 1000 (ms), got '${values["lock-duration"]}'`);
  const connectTimeout = values["connect-timeout"] === undefined ? undefined : Number(values["connect-timeout"]);
  if (connectTimeout !== undefined && !(connectTimeout >= 0)) problems.push(`--connect-timeout must be a number of seconds ≥ 0, got '${values["connect-timeout"]}'`);
  if (problems.length > 0) throw new ConfigError(problems, "flags");
  await reachQueue("worker", values.queue!, connectTimeout);
  const localExperts: ExpertSpec[] = values.models ? await readModelsFile(values.models) : [];
  const gpu = values.gpu ? "auto" as const : false as const;
  const pool = new ModelPool({
    budgetBytes: values.memory === undefined ? undefined : parseSize(values.memory, "--memory"),
    open: (spec) => openModel(spec, { gpu }),
  });
  const worker = await startEvalWorker(values.queue!, {
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
  });
  const targets = await startTargetWorker(values.queue!, pool, {
    localExperts,
    concurrency,
    lockDurationMs: lock,
    onJob: values.quiet ? undefined : (job, outcome, detail) =>
      console.error(`${outcome} ${job.id}: ${job.expert.id}, ${job.texts.length} texts → ${job.file}${detail ? ` (${detail})` : ""}`),
  });
  if (!values.quiet) console.error(`cogen worker: waiting for jobs on ${values.queue!.replace(/\/\/[^@/]*@/, "//")}`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await worker.close();
  await targets.close();
  await pool.close();
  return 0;
}

