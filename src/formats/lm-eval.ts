/**
 * lm-evaluation-harness output folders (`--output_path DIR --log_samples`).
 *
 * Layout (lm-eval ≥ 0.4): DIR/<model_name_sanitized>/ holds `results_<date>.json` (aggregate scores;
 * top-level `model_name`, and `config.model_args` such as "pretrained=org/name,dtype=...") and one
 * `samples_<task>_<date>.jsonl` per task, where <date> is an ISO timestamp with ':' written as '-'.
 * Each sample line has `doc_id`, usually `filter` (e.g. "none", "strict-match") and `metrics` (the
 * names of its metrics), and the metric values at the top level: {"doc_id": 3, "acc": 1.0, ...}.
 *
 * Each run folder is one model; the task becomes the domain (and benchmark), the item is
 * "<task>/<doc_id>". The score is the first metric present from `metric` (when given) or
 * acc, exact_match, acc_norm, pass@1, f1, em — values must be numbers in [0, 1] or booleans.
 * When a task has several filters, the first filter in the file is used; when a task was run
 * several times, the latest run is used (both with a warning).
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { InputFileError } from "../core/errors.js";
import { readFailure } from "../core/files.js";
import type { ItemResult } from "../core/evidence.js";
import { readJsonFile } from "../core/json-file.js";

export const PREFERRED_METRICS = ["acc", "exact_match", "acc_norm", "pass@1", "f1", "em"] as const;

const SAMPLES_FILE = /^samples_(.+)_(\d{4}-\d{2}-\d{2}T[0-9.-]+)\.jsonl$/;
const RESULTS_FILE = /^results_(.+)\.json$/;

export interface LmEvalOptions {
  /** Use this metric instead of the default preference order. */
  metric?: string;
}

export interface LmEvalResults {
  results: ItemResult[];
  warnings: string[];
  /** The run folders read, with the model name each gave. */
  runs: { folder: string; model: string }[];
}

/** True when `dir` is a run folder or holds run folders (a quick look, no parsing). */
export async function isLmEvalFolder(dir: string): Promise<boolean> {
  return (await runFolders(dir)).length > 0;
}

export async function readLmEvalFolder(dir: string, options: LmEvalOptions = {}): Promise<LmEvalResults> {
  const folders = await runFolders(dir);
  if (folders.length === 0) {
    throw new InputFileError(dir, "no lm-evaluation-harness samples here: expected samples_<task>_<date>.jsonl files (run lm-eval with --log_samples) in this folder or its subfolders");
  }
  const out: LmEvalResults = { results: [], warnings: [], runs: [] };
  const seenModels = new Map<string, string>();
  for (const folder of folders) {
    const model = await modelName(folder);
    const previous = seenModels.get(model);
    if (previous !== undefined) throw new InputFileError(folder, `model "${model}" was already read from ${previous}; give each run folder its own model`);
    seenModels.set(model, folder);
    out.runs.push({ folder, model });
    for (const file of await latestSamplesFiles(folder, out.warnings)) {
      const text = await fs.readFile(file.path, "utf8");
      parseSamples(text, file.path, model, file.task, options, out);
    }
  }
  return out;
}

/** Parse one samples file's text for `model`; results and warnings are appended to `out`. */
export function parseSamples(text: string, file: string, model: string, task: string, options: LmEvalOptions, out: Pick<LmEvalResults, "results" | "warnings">): void {
  const seen = new Map<string, number>();
  let filter: string | undefined;
  let skippedFilters = 0;
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n].trim();
    if (raw === "") continue;
    const line = n + 1;
    let sample: Record<string, unknown>;
    try {
      const value: unknown = JSON.parse(raw);
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not an object");
      sample = value as Record<string, unknown>;
    } catch (error) {
      throw new InputFileError(file, `not a JSON object (${(error as Error).message})`, line);
    }
    const docId = sample.doc_id;
    if (typeof docId !== "number" && typeof docId !== "string") throw new InputFileError(file, "sample has no doc_id", line);
    const sampleFilter = typeof sample.filter === "string" ? sample.filter : "";
    filter ??= sampleFilter;
    if (sampleFilter !== filter) {
      skippedFilters++;
      continue;
    }
    const key = String(docId);
    const first = seen.get(key);
    if (first !== undefined) throw new InputFileError(file, `doc_id ${key} appears twice for filter "${filter}" (first on line ${first})`, line);
    seen.set(key, line);
    const score = sampleScore(sample, options, file, line);
    out.results.push({ model, item: `${task}/${key}`, score, domain: task, benchmark: task });
  }
  if (seen.size === 0) throw new InputFileError(file, "no samples");
  if (skippedFilters > 0) out.warnings.push(`${file}: several filters; used "${filter}" and skipped ${skippedFilters} samples of the others`);
}

function sampleScore(sample: Record<string, unknown>, options: LmEvalOptions, file: string, line: number): number {
  const listed = Array.isArray(sample.metrics) ? sample.metrics.filter((m): m is string => typeof m === "string") : [];
  const candidates = options.metric ? [options.metric] : PREFERRED_METRICS;
  const name = candidates.find((m) => (listed.length === 0 || listed.includes(m)) && m in sample)
    ?? (options.metric ? undefined : candidates.find((m) => m in sample));
  if (name === undefined) {
    const keys = listed.length > 0 ? listed : Object.keys(sample).filter((k) => typeof sample[k] === "number" && k !== "doc_id");
    throw new InputFileError(file, `no ${options.metric ? `metric "${options.metric}"` : `usable metric (${PREFERRED_METRICS.join(", ")})`} in the sample; it has ${keys.join(", ") || "none"}`, line);
  }
  const value = sample[name];
  const score = value === true ? 1 : value === false ? 0 : value;
  if (typeof score !== "number" || !(score >= 0 && score <= 1)) {
    throw new InputFileError(file, `metric "${name}" is ${JSON.stringify(value)}, not a score in [0, 1]`, line);
  }
  return score;
}

async function runFolders(dir: string): Promise<string[]> {
  const entries = await readDir(dir);
  if (entries.some((e) => e.isFile() && SAMPLES_FILE.test(e.name))) return [dir];
  const runs: string[] = [];
  for (const e of entries.filter((x) => x.isDirectory()).sort((x, y) => x.name.localeCompare(y.name))) {
    const sub = path.join(dir, e.name);
    if ((await readDir(sub)).some((f) => f.isFile() && SAMPLES_FILE.test(f.name))) runs.push(sub);
  }
  return runs;
}

async function readDir(dir: string) {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw readFailure(dir, error);
  }
}

/** One samples file per task: the latest run's. */
async function latestSamplesFiles(folder: string, warnings: string[]): Promise<{ path: string; task: string }[]> {
  const byTask = new Map<string, { date: string; name: string; runs: number }>();
  for (const name of (await fs.readdir(folder)).sort()) {
    const match = SAMPLES_FILE.exec(name);
    if (!match) continue;
    const [, task, date] = match;
    const current = byTask.get(task);
    if (!current) byTask.set(task, { date, name, runs: 1 });
    else byTask.set(task, date > current.date ? { date, name, runs: current.runs + 1 } : { ...current, runs: current.runs + 1 });
  }
  const files: { path: string; task: string }[] = [];
  for (const [task, { name, runs }] of [...byTask].sort(([x], [y]) => x.localeCompare(y))) {
    if (runs > 1) warnings.push(`${folder}: task "${task}" was run ${runs} times; used the latest, ${name}`);
    files.push({ path: path.join(folder, name), task });
  }
  return files;
}

/**
 * The model's name: `model_name` from the latest results_*.json, else the `pretrained=` (or
 * `model=`, `path=`) value of its config.model_args, else the folder's name with lm-eval's "__"
 * turned back into "/".
 */
async function modelName(folder: string): Promise<string> {
  const results = (await fs.readdir(folder)).filter((n) => RESULTS_FILE.test(n)).sort();
  const latest = results[results.length - 1];
  if (latest) {
    const file = path.join(folder, latest);
    const json = await readJsonFile(file);
    const record = (typeof json === "object" && json !== null ? json : {}) as Record<string, unknown>;
    if (typeof record.model_name === "string" && record.model_name.trim() !== "") return record.model_name.trim();
    const config = record.config as Record<string, unknown> | undefined;
    if (config && typeof config.model_name === "string" && config.model_name.trim() !== "") return config.model_name.trim();
    const args = config && typeof config.model_args === "string" ? config.model_args : "";
    for (const key of ["pretrained", "model", "path", "engine"]) {
      const m = new RegExp(`(?:^|,)\\s*${key}=([^,]+)`).exec(args);
      if (m) return m[1].trim();
    }
  }
  return path.basename(path.resolve(folder)).replace(/__/g, "/");
}
