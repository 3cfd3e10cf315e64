/**
 * `cogen eval --models M --tasks T --out R`: evaluate every expert on every item and append one
 * results line per (model, item) to R (the long-format results JSONL `cogen rank` reads).
 */
import { silentProgress, streamProgress } from "../core/progress.js";
import { readModelsFile } from "../formats/models-file.js";
import { readTasksFile } from "../formats/tasks.js";
import { readResultRecords } from "../eval/results-log.js";
import { runEval } from "../eval/runner.js";
import { summariseResults } from "../eval/summary.js";
import { writeLmEvalOutput } from "../eval/lm-eval-output.js";
import type { JobQueue } from "../eval/jobs/queue.js";
import { ModelPool } from "../models/pool.js";
import { parseFlags, parseSize, QUEUE_FLAGS, queueChoice, UsageError } from "./args.js";
import { formatTable, printJson } from "./output.js";

const HELP = `usage: cogen eval --models MODELS.yml --tasks ITEMS.jsonl --out RESULTS.jsonl [options]

Evaluate language models on task items (multiple choice and bits per byte by log-likelihood,
exact match by greedy generation) and append one line per (model, item) to RESULTS.jsonl.

options:
  --limit N          only the first N items
  --resume           continue RESULTS.jsonl, skipping pairs already in it
  --concurrency N    items evaluated at once per model (default 4)
  --batch-size N     items per job (default 32)
  --timeout S        seconds per item before the model is reported as failed (default: none)
  --memory SIZE      keep loaded local models under SIZE (e.g. 8GiB; default: no limit)
  --gpu              let llama.cpp use a GPU (default: CPU)
  --queue URL        redis://HOST:PORT: hand jobs to 'cogen worker' processes instead of running here
  --connect-timeout S with --queue: exit (status 1) when Redis cannot be reached for S seconds
  --lm-eval-out DIR  also write lm-evaluation-harness style samples_*.jsonl and results_*.json
  --json             print the summary as JSON
  --quiet            no progress

Exit status 3 when some model or item failed (each failure is printed; the other results are
written). An item too long for a model's context fails alone; the model's other items go on.`;

/** Item failures printed one per line; the rest are counted. */
const MAX_ITEM_LINES = 20;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    models: { type: "string" },
    tasks: { type: "string" },
    out: { type: "string" },
    limit: { type: "string" },
    resume: { type: "boolean", default: false },
    concurrency: { type: "string", default: "4" },
    "batch-size": { type: "string", default: "32" },
    timeout: { type: "string" },
    memory: { type: "string" },
    gpu: { type: "boolean", default: false },
    ...QUEUE_FLAGS,
    "lm-eval-out": { type: "string" },
    json: { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
  }, HELP, { positionals: 0 });
  const problems: string[] = [];
  for (const flag of ["models", "tasks", "out"] as const) if (!values[flag]) problems.push(`--${flag} is required`);
  const int = (flag: string, text: string | undefined, min: number): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) problems.push(`--${flag} must be an integer ≥ ${min}, got '${text}'`);
    return n;
  };
  const limit = int("limit", values.limit, 1);
  const concurrency = int("concurrency", values.concurrency, 1);
  const batchSize = int("batch-size", values["batch-size"], 1);
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeout !== undefined && !(timeout > 0)) problems.push(`--timeout must be a positive number of seconds, got '${values.timeout}'`);
  const queueAt = queueChoice(values, problems);
  if (problems.length > 0) throw new UsageError(problems);
  const budget = values.memory === undefined ? undefined : parseSize(values.memory, "--memory");

  const experts = await readModelsFile(values.models!);
  const items = await readTasksFile(values.tasks!);
  const progress = values.quiet || values.json ? silentProgress : streamProgress();
  let queue: JobQueue | undefined;
  if (queueAt) {
    const { reachQueue } = await import("./queue-reachable.js");
    await reachQueue("eval", queueAt.url, queueAt.timeoutSeconds);
    const { BullMqQueue } = await import("../eval/jobs/bullmq.js");
    queue = new BullMqQueue(queueAt.url);
  }
  const { openModel } = await import("../models/open.js");
  const pool = new ModelPool({ budgetBytes: budget, open: (spec) => openModel(spec, { gpu: values.gpu ? "auto" : false }) });
  let report;
  try {
    report = await runEval({
      experts, items, out: values.out!, resume: values.resume, limit, concurrency, batchSize,
      itemTimeoutMs: timeout === undefined ? 0 : Math.round(timeout * 1000), queue, pool, progress,
    });
  } finally {
    await pool.close();
    await queue?.close();
  }
  const records = await readResultRecords(values.out!);
  if (values["lm-eval-out"]) await writeLmEvalOutput(values["lm-eval-out"], records, limit !== undefined ? items.slice(0, limit) : items);
  const summary = summariseResults(records);
  if (values.json) {
    printJson({ ...report, summary });
  } else if (!values.quiet) {
    console.log(formatTable(
      ["model", "metric", "items", "mean score"],
      summary.map((s) => [s.model, s.metric, s.items, s.mean.toFixed(4)]),
      ["l", "l", "r", "r"],
    ));
    console.log(`${report.written} new results in ${report.out}` + (report.skipped ? ` (${report.skipped} already there)` : "") +
      (report.droppedBytes ? `; dropped a torn last line of ${report.droppedBytes} bytes` : ""));
  }
  if (!values.json) {
    // Failures print even with --quiet (which silences progress and the table, not errors).
    for (const f of report.failures) console.error(`model '${f.model}' failed (${f.items} items without results): ${f.error}`);
    for (const f of report.itemFailures.slice(0, MAX_ITEM_LINES)) console.error(`item '${f.item}' of model '${f.model}' has no result: ${f.error}`);
    if (report.itemFailures.length > MAX_ITEM_LINES) console.error(`… and ${report.itemFailures.length - MAX_ITEM_LINES} more items without results (--json lists all)`);
  }
  return report.failures.length > 0 || report.itemFailures.length > 0 ? 3 : 0;
}
