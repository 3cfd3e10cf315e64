/**
 * `cogen distill prefs`: InfiFPO records from preference pairs; `cogen distill pairs --zoo`:
 * preference pairs from the zoo's TRAINING split.
 */
import { writeFileAtomic } from "../core/atomic.js";
import { silentProgress, streamProgress } from "../core/progress.js";
import { readModelsFile } from "../formats/models-file.js";
import type { FpoUnit } from "../fuse/distill/fpo-objective.js";
import type { FpoFusion } from "../fuse/distill/infifpo.js";
import { distillPrefs, readPreferencePairs } from "../fuse/distill/prefs.js";
import { ModelPool } from "../models/pool.js";
import { parseFlags, UsageError } from "./args.js";
import { formatTable, printJson } from "./output.js";

const HELP = `usage: cogen distill prefs --sources MODELS.yml --pairs PAIRS.jsonl --out PREFS.jsonl [options]

InfiFPO records: every source's length-normalised log-probability of each pair's chosen and
rejected response after the prompt (scored as a harness scores a continuation, in the source's
own tokenisation), and the fused reference. PAIRS.jsonl: {"prompt", "chosen", "rejected"} per
line. Records say their "unit"; 'cogen distill train --objective fpo' trains in it.

options:
  --unit token|byte   nats per token of each source's tokenisation (default, InfiFPO's) or per
                      UTF-8 byte of the response (comparable across tokenizers)
  --pivot ID          the entry of MODELS.yml that is the model being trained: it is not a
                      source; sources are clipped so none is worse than the pivot on a pair
  --fusion F          max-margin (default: the source separating the pair most) or weighted
  --weights W1,W2,..  weighted fusion: one weight per source, in MODELS.yml order
  --gpu               let llama.cpp use a GPU
  --json              print the records' summary as JSON
  --quiet             no progress

usage: cogen distill pairs --zoo --out PAIRS.jsonl [--per-domain N] [--distractors D] [--seed S] [--json]

Pairs from the zoo's TRAINING lines only (cloze in the test's format: the true word against
same-length distractor words of the same domain); held-out records are never read. D pairs per
sentence (1–3, default 1). The zoo's FPO pivot trains on --seed 7 --per-domain 120 --distractors 3.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    sources: { type: "string" },
    pairs: { type: "string" },
    out: { type: "string" },
    pivot: { type: "string" },
    fusion: { type: "string", default: "max-margin" },
    unit: { type: "string", default: "token" },
    weights: { type: "string" },
    gpu: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
  }, HELP, { positionals: 0 });
  const problems: string[] = [];
  for (const flag of ["sources", "pairs", "out"] as const) if (!values[flag]) problems.push(`--${flag} is required`);
  if (values.fusion !== "max-margin" && values.fusion !== "weighted") problems.push(`--fusion must be max-margin or weighted, got '${values.fusion}'`);
  if (values.unit !== "token" && values.unit !== "byte") problems.push(`--unit must be token or byte, got '${values.unit}'`);
  const weights = values.weights?.split(",").map(Number);
  if (weights?.some((w) => !(w >= 0))) problems.push(`--weights must be non-negative numbers separated by commas, got '${values.weights}'`);
  if (problems.length > 0) throw new UsageError(problems);
  const all = await readModelsFile(values.sources!);
  const pivot = values.pivot === undefined ? undefined : all.find((e) => e.id === values.pivot);
  if (values.pivot !== undefined && !pivot) throw new UsageError([`--pivot '${values.pivot}' is not an entry of ${values.sources} (entries: ${all.map((e) => e.id).join(", ")})`]);
  const sources = all.filter((e) => e !== pivot);
  const pairs = await readPreferencePairs(values.pairs!);
  const { openModel } = await import("../models/open.js");
  const pool = new ModelPool({ open: (spec) => openModel(spec, { gpu: values.gpu ? "auto" : false }) });
  const progress = values.quiet || values.json ? silentProgress : streamProgress();
  let report;
  try {
    report = await distillPrefs({ sources, pairs, out: values.out!, pivot, fusion: values.fusion as FpoFusion, unit: values.unit as FpoUnit, weights, pool, progress });
  } finally {
    await pool.close();
  }
  const picked = new Map<string, number>();
  for (const r of report.records) for (const s of r.sources) picked.set(s.id, (picked.get(s.id) ?? 0) + s.weight);
  const agree = report.records.filter((r) => r.reference.chosen > r.reference.rejected).length;
  if (values.json) {
    printJson({ out: report.out, records: report.records.length, unit: values.unit, referencePrefersChosen: agree, weightBySource: Object.fromEntries(picked), seconds: report.seconds });
  } else if (!values.quiet) {
    console.log(formatTable(["source", "total weight"], sources.map((s) => [s.id, (picked.get(s.id) ?? 0).toFixed(2)]), ["l", "r"]));
    console.log(`${report.records.length} records (nats per ${values.unit}) → ${report.out}; the fused reference prefers the chosen response in ${agree}`);
  }
  return 0;
}

const PAIRS_HELP = HELP.slice(HELP.indexOf("usage: cogen distill pairs"));

export async function runPairs(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    zoo: { type: "boolean", default: false },
    out: { type: "string" },
    "per-domain": { type: "string", default: "100" },
    distractors: { type: "string", default: "1" },
    seed: { type: "string", default: "0" },
    json: { type: "boolean", default: false },
  }, PAIRS_HELP, { positionals: 0 });
  const problems: string[] = [];
  if (!values.zoo) problems.push("--zoo is required (the only source of pairs so far)");
  if (!values.out) problems.push("--out is required");
  const perDomain = Number(values["per-domain"]);
  if (!Number.isInteger(perDomain) || perDomain < 1) problems.push(`--per-domain must be a positive integer, got '${values["per-domain"]}'`);
  const distractors = Number(values.distractors);
  if (![1, 2, 3].includes(distractors)) problems.push(`--distractors must be 1, 2 or 3, got '${values.distractors}'`);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) problems.push(`--seed must be an integer, got '${values.seed}'`);
  if (problems.length > 0) throw new UsageError(problems);
  const { buildCorpus } = await import("../zoo/corpora/build.js");
  const { zooClozePairs } = await import("../fuse/distill/zoo-pairs.js");
  const corpus = await buildCorpus();
  const pairs = zooClozePairs(corpus.domains.map((d) => ({ domain: d.name, lines: d.train.map((r) => r.text) })), { seed, perDomain, distractors });
  await writeFileAtomic(values.out!, pairs.map((p) => JSON.stringify(p)).join("\n") + "\n");
  const byDomain = new Map<string, number>();
  for (const p of pairs) byDomain.set(p.domain, (byDomain.get(p.domain) ?? 0) + 1);
  if (values.json) printJson({ out: values.out, pairs: pairs.length, byDomain: Object.fromEntries(byDomain) });
  else console.log(`${pairs.length} pairs from training lines (${[...byDomain].map(([d, n]) => `${d} ${n}`).join(", ")}) → ${values.out}`);
  return 0;
}
