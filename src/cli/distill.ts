/**
 * `cogen distill targets|prefs`: knowledge-fusion data from expert models — whole-sequence top-K
 * targets for pivot training (FuseLLM / InfiFusion) and InfiFPO preference records.
 */
import { silentProgress, streamProgress } from "../core/progress.js";
import { readModelsFile } from "../formats/models-file.js";
import { readDistillCorpus } from "../fuse/distill/corpus.js";
import { DEFAULT_TEXTS_PER_SHARD, DEFAULT_TOP_K, distillTargets, type TargetQueue } from "../fuse/distill/targets.js";
import { ModelPool } from "../models/pool.js";
import { parseFlags, parseSize, QUEUE_FLAGS, queueChoice, subcommand, UsageError } from "./args.js";
import { formatTable, printJson } from "./output.js";

const HELP = `usage: cogen distill <targets|prefs|pairs|sample|train> [options]

  targets  --sources MODELS.yml --corpus TEXTS --out DIR
           every source's top-K next tokens at every position of every text (its own
           tokenisation) and the text's cross-entropy, as shards + manifest.json in DIR.
           TEXTS: .txt (one text per line) or .jsonl (objects with a string 'text').
           A rerun resumes: finished shards are kept, the rest computed.
    --top-k K          candidates per position (default ${DEFAULT_TOP_K})
    --shard-texts N    texts per shard (default ${DEFAULT_TEXTS_PER_SHARD})
    --queue URL        redis://HOST:PORT: hand jobs to 'cogen worker' processes instead of running here
    --connect-timeout S with --queue: exit (status 1) when Redis cannot be reached for S seconds
    --memory SIZE      keep loaded local models under SIZE
    --gpu              let llama.cpp use a GPU
    --json             print the report as JSON
    --quiet            no progress

  prefs    --sources MODELS.yml --pairs PAIRS.jsonl --out PREFS.jsonl
           InfiFPO records (each source's log-probabilities of chosen and rejected per token
           or, with --unit byte, per byte; the fused reference); 'cogen distill prefs --help'
           lists its options.

  pairs    --zoo --out PAIRS.jsonl [--distractors 1-3]
           preference pairs from the zoo's TRAINING lines (cloze: true word vs distractors).

  sample   --sources MODELS.yml --prefixes ID=FILE,… --out DIR
           transfer text: each source samples seeded continuations of its FILE's lines;
           'cogen distill sample --help' lists its options.

  train    --pivot HF_DIR --out DIR (--corpus TEXTS --targets DIR | --prefs FILE.jsonl)
           train a pivot on the fused targets (λ·CLM + KL / ULD) or InfiFPO records;
           'cogen distill train --help' lists its options.

Exit status 3 when some source failed (the manifest is then not written).`;

export async function run(argv: string[]): Promise<number> {
  const { sub, rest } = subcommand(argv, ["targets", "prefs", "pairs", "sample", "train"], HELP, "distill");
  if (sub === "targets") return targets(rest);
  if (sub === "train") {
    const { run: train } = await import("./distill-train.js");
    return train(rest);
  }
  if (sub === "sample") {
    const { run: sample } = await import("./distill-sample.js");
    return sample(rest);
  }
  if (sub === "prefs") {
    const { run: prefs } = await import("./distill-prefs.js");
    return prefs(rest);
  }
  const { runPairs } = await import("./distill-prefs.js");
  return runPairs(rest);
}

async function targets(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    sources: { type: "string" },
    corpus: { type: "string" },
    out: { type: "string" },
    "top-k": { type: "string", default: String(DEFAULT_TOP_K) },
    "shard-texts": { type: "string", default: String(DEFAULT_TEXTS_PER_SHARD) },
    memory: { type: "string" },
    ...QUEUE_FLAGS,
    gpu: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
  }, HELP, { positionals: 0, command: "distill targets" });
  const problems: string[] = [];
  for (const flag of ["sources", "corpus", "out"] as const) if (!values[flag]) problems.push(`--${flag} is required`);
  const k = Number(values["top-k"]);
  if (!Number.isInteger(k) || k < 1 || k > 1000) problems.push(`--top-k must be an integer in [1, 1000], got '${values["top-k"]}'`);
  const perShard = Number(values["shard-texts"]);
  if (!Number.isInteger(perShard) || perShard < 1) problems.push(`--shard-texts must be a positive integer, got '${values["shard-texts"]}'`);
  const queueAt = queueChoice(values, problems);
  if (problems.length > 0) throw new UsageError(problems);
  const sources = await readModelsFile(values.sources!);
  const corpus = await readDistillCorpus(values.corpus!);
  const { openModel } = await import("../models/open.js");
  const pool = new ModelPool({
    budgetBytes: values.memory === undefined ? undefined : parseSize(values.memory, "--memory"),
    open: (spec) => openModel(spec, { gpu: values.gpu ? "auto" : false }),
  });
  const progress = values.quiet || values.json ? silentProgress : streamProgress();
  let queue: TargetQueue | undefined;
  if (queueAt) {
    const { reachQueue } = await import("./queue-reachable.js");
    await reachQueue("distill targets", queueAt.url, queueAt.timeoutSeconds);
    const { bullMqTargetQueue } = await import("../fuse/distill/target-queue.js");
    queue = bullMqTargetQueue(queueAt.url);
  }
  let report;
  try {
    report = await distillTargets({ sources, corpus, out: values.out!, k, textsPerShard: perShard, pool, queue, progress });
  } finally {
    await pool.close();
    await queue?.close();
  }
  if (values.json) {
    printJson(report);
  } else if (!values.quiet) {
    const skips = report.manifest?.skips ?? {};
    const positions = new Map<string, number>();
    for (const shard of report.manifest?.shards ?? []) positions.set(shard.source, (positions.get(shard.source) ?? 0) + shard.positions);
    console.log(formatTable(
      ["source", "positions", "empty", "binary", "too long"],
      sources.map((s) => [s.id, positions.get(s.id) ?? 0, skips[s.id]?.empty ?? 0, skips[s.id]?.binary ?? 0, skips[s.id]?.["too-long"] ?? 0]),
      ["l", "r", "r", "r", "r"],
    ));
    console.log(`${report.written} shards written, ${report.reused} already there, in ${report.seconds.toFixed(1)} s → ${report.out}`);
    for (const f of report.failures) console.error(`source '${f.source}' failed (${f.shards} shard(s) missing): ${f.error}`);
  }
  return report.failures.length > 0 ? 3 : 0;
}
