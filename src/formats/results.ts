/**
 * Per-item results files, parsed strictly into ItemResult records.
 *
 * Long format — one result per line or row, with fields `model`, `item`, `score` and optional
 * `domain` (default "default") and `benchmark`:
 *   - JSON Lines: {"model": "m", "item": "q1", "score": 1, "domain": "chemistry"}
 *   - CSV with a header naming those columns.
 * Wide format — a CSV matrix, one row per item and one column per model (as ChemBench's
 * binary_matrix.csv): the first column holds the item id (its header may be empty or `item`), an
 * optional `domain` / `benchmark` column, and every other column is a model; an empty cell is a
 * missing response.
 *
 * A score is a number in [0, 1] (or true/false in JSON). Anything else — NaN, out of range, a
 * missing field, the same (model, item) twice — is an InputFileError naming the file and line.
 * A JSON line with a `metric` is a ResultRecord (what `cogen eval` writes) and every evidence
 * field is checked too (parseResultRecord, the one validator of that line).
 */
import * as path from "node:path";
import { InputFileError } from "../core/errors.js";
import { readTextFile } from "../core/files.js";
import { forEachJsonlObject } from "./jsonl.js";
import { DEFAULT_DOMAIN, type ItemResult, type ResultMetric, type ResultRecord } from "../core/evidence.js";
import { parseCsv, type CsvRecord } from "./csv.js";

const LONG_COLUMNS = ["model", "item", "score"] as const;

/** Receives each result as it is parsed (so large files need not be held as objects). */
export type ResultSink = (result: ItemResult) => void;

/** Read a results file (.jsonl / .json lines, or .csv long or wide). */
export async function readResultsFile(file: string): Promise<ItemResult[]> {
  const results: ItemResult[] = [];
  await readResultsInto(file, (r) => results.push(r));
  return results;
}

/** Read a results file, handing each result to `sink`; returns how many there were. */
export async function readResultsInto(file: string, sink: ResultSink): Promise<number> {
  const ext = path.extname(file).toLowerCase();
  if (ext !== ".jsonl" && ext !== ".ndjson" && ext !== ".csv") {
    throw new InputFileError(file, `unknown results file type "${ext}" (expected .jsonl or .csv)`);
  }
  const text = await readTextFile(file);
  return ext === ".csv" ? parseResultsCsvInto(text, file, sink) : parseResultsJsonlInto(text, file, sink);
}

/** True when a CSV header is long-format results (has model, item and score columns). */
export function isLongResultsHeader(header: readonly string[]): boolean {
  const names = header.map((h) => h.trim());
  return LONG_COLUMNS.every((c) => names.includes(c));
}

export function parseResultsJsonl(text: string, file: string): ItemResult[] {
  const results: ItemResult[] = [];
  parseResultsJsonlInto(text, file, (r) => results.push(r));
  return results;
}

/** Parse JSON Lines results into `sink`; returns the count. */
export function parseResultsJsonlInto(text: string, file: string, sink: ResultSink): number {
  let count = 0;
  const seen = new DuplicateCheck(file);
  forEachJsonlObject(text, file, "with model, item and score", (record, line) => {
    const result = record.metric === undefined ? parseItemResult(record, file, line) : parseResultRecord(record, file, line);
    seen.add(result.model, result.item, line);
    sink(result);
    count++;
  });
  if (count === 0) throw new InputFileError(file, "no results (the file is empty)");
  return count;
}

/** Every line of results JSON Lines text as a checked ResultRecord (metric and task required). */
export function parseResultRecords(text: string, file: string): ResultRecord[] {
  const records: ResultRecord[] = [];
  forEachJsonlObject(text, file, "with model, item, score, metric and task", (record, line) => void records.push(parseResultRecord(record, file, line)));
  return records;
}

function parseItemResult(record: Record<string, unknown>, file: string, line: number): ItemResult {
  const model = requireName(record.model, "model", file, line);
  const item = requireName(record.item, "item", file, line);
  const score = parseScoreValue(record.score, file, line, "score");
  const domain = record.domain === undefined || record.domain === null ? DEFAULT_DOMAIN : requireName(record.domain, "domain", file, line);
  const result: ItemResult = { model, item, score, domain };
  if (record.benchmark !== undefined && record.benchmark !== null) result.benchmark = requireName(record.benchmark, "benchmark", file, line);
  return result;
}

const METRICS: readonly ResultMetric[] = ["acc", "exact_match", "bpb"];

/** One line that `cogen eval` writes, every field checked (the evidence fields by type). */
export function parseResultRecord(record: Record<string, unknown>, file: string, line: number): ResultRecord {
  const base = parseItemResult(record, file, line);
  const fail = (problem: string): never => {
    throw new InputFileError(file, problem, line);
  };
  const metric = record.metric;
  if (typeof metric !== "string" || !(METRICS as readonly string[]).includes(metric)) fail(`field "metric" must be one of ${METRICS.join(", ")}`);
  if (typeof record.task !== "string") fail(`field "task" is missing or not a string`);
  const out: ResultRecord = { ...base, metric: metric as ResultMetric, task: record.task as string };
  // JSON writes a log-probability of −∞ as null; read it back as −∞.
  const logprobValue = (x: unknown) => (x === null ? -Infinity : x);
  const number = (key: "acc_norm" | "logprob" | "bpb" | "bytes") => {
    const v = key === "logprob" ? logprobValue(record[key]) : record[key];
    if (v === undefined) return;
    const ok = typeof v === "number" && (Number.isFinite(v) || (key === "logprob" && v === -Infinity));
    if (!ok) fail(`field "${key}" must be a finite number`);
    out[key] = v as number;
  };
  number("acc_norm");
  number("logprob");
  number("bpb");
  number("bytes");
  if (out.metric === "bpb" && out.bpb === undefined) fail(`a bpb result needs field "bpb"`);
  const list = <T>(key: "logprobs" | "greedy", ok: (x: unknown) => boolean, what: string): T[] | undefined => {
    const v = record[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every(ok)) fail(`field "${key}" must be a list of ${what}`);
    return v as T[];
  };
  const logprobs = list<number>("logprobs", (x) => typeof x === "number" || x === null, "numbers")?.map((x) => logprobValue(x) as number);
  if (logprobs) out.logprobs = logprobs;
  const greedy = list<boolean>("greedy", (x) => typeof x === "boolean", "true/false values");
  if (greedy) out.greedy = greedy;
  const tokens = record.tokens;
  if (tokens !== undefined) {
    if (!(typeof tokens === "number" || (Array.isArray(tokens) && tokens.every((t) => typeof t === "number")))) fail(`field "tokens" must be a number or a list of numbers`);
    out.tokens = tokens as number | number[];
  }
  if (record.generation !== undefined) {
    if (typeof record.generation !== "string") fail(`field "generation" must be a string`);
    out.generation = record.generation as string;
  }
  return out;
}

/** A CSV results file: long format when the header has model, item and score; otherwise wide. */
export function parseResultsCsv(text: string, file: string): ItemResult[] {
  const results: ItemResult[] = [];
  parseResultsCsvInto(text, file, (r) => results.push(r));
  return results;
}

/** Parse a CSV results file into `sink`; returns the count. */
export function parseResultsCsvInto(text: string, file: string, sink: ResultSink): number {
  const records = parseCsv(text, file);
  if (records.length === 0) throw new InputFileError(file, "empty CSV file (expected a header row)");
  const header = records[0].fields.map((h) => h.trim());
  return isLongResultsHeader(header) ? parseLong(records, header, file, sink) : parseWide(records, header, file, sink);
}

function parseLong(records: CsvRecord[], header: string[], file: string, sink: ResultSink): number {
  let count = 0;
  const col = (name: string) => header.indexOf(name);
  const [mi, ii, si, di, bi] = [col("model"), col("item"), col("score"), col("domain"), col("benchmark")];
  const seen = new DuplicateCheck(file);
  for (const { fields, line } of records.slice(1)) {
    if (fields.length !== header.length) {
      throw new InputFileError(file, `expected ${header.length} fields (as in the header), found ${fields.length}`, line);
    }
    const model = requireName(fields[mi], "model", file, line);
    const item = requireName(fields[ii], "item", file, line);
    const score = parseScoreText(fields[si], file, line, "score");
    const domain = di >= 0 && fields[di].trim() !== "" ? fields[di].trim() : DEFAULT_DOMAIN;
    const result: ItemResult = { model, item, score, domain };
    if (bi >= 0 && fields[bi].trim() !== "") result.benchmark = fields[bi].trim();
    seen.add(model, item, line);
    sink(result);
    count++;
  }
  if (count === 0) throw new InputFileError(file, "no results (only a header)");
  return count;
}

function parseWide(records: CsvRecord[], header: string[], file: string, sink: ResultSink): number {
  let count = 0;
  const headerLine = records[0].line;
  if (header.length < 2) {
    throw new InputFileError(file, "a wide results matrix needs an item column and at least one model column (or use long format: model,item,score)", headerLine);
  }
  if (header[0] !== "" && header[0].toLowerCase() !== "item" && header[0].toLowerCase() !== "id") {
    throw new InputFileError(file, `not a results file: a long-format header needs columns model, item, score; a wide matrix's first column must be the item id (empty header or "item"), found "${header[0]}"`, headerLine);
  }
  const domainCol = header.indexOf("domain");
  const benchmarkCol = header.indexOf("benchmark");
  const modelCols: number[] = [];
  const seenModels = new Set<string>();
  for (let c = 1; c < header.length; c++) {
    if (c === domainCol || c === benchmarkCol) continue;
    if (header[c] === "") throw new InputFileError(file, `column ${c + 1} has no model name`, headerLine);
    if (seenModels.has(header[c])) throw new InputFileError(file, `model "${header[c]}" has two columns`, headerLine);
    seenModels.add(header[c]);
    modelCols.push(c);
  }
  const items = new Map<string, number>();
  for (const { fields, line } of records.slice(1)) {
    if (fields.length !== header.length) {
      throw new InputFileError(file, `expected ${header.length} fields (as in the header), found ${fields.length}`, line);
    }
    const item = requireName(fields[0], "item", file, line);
    const previous = items.get(item);
    if (previous !== undefined) throw new InputFileError(file, `item "${item}" appears twice (first on line ${previous})`, line);
    items.set(item, line);
    const domain = domainCol >= 0 && fields[domainCol].trim() !== "" ? fields[domainCol].trim() : DEFAULT_DOMAIN;
    const benchmark = benchmarkCol >= 0 && fields[benchmarkCol].trim() !== "" ? fields[benchmarkCol].trim() : undefined;
    for (const c of modelCols) {
      if (fields[c].trim() === "") continue;
      const score = parseScoreText(fields[c], file, line, `column "${header[c]}"`);
      const result: ItemResult = { model: header[c], item, score, domain };
      if (benchmark !== undefined) result.benchmark = benchmark;
      sink(result);
      count++;
    }
  }
  if (count === 0) throw new InputFileError(file, "no results (no rows, or every cell empty)");
  return count;
}

function requireName(value: unknown, field: string, file: string, line: number): string {
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value !== "string") throw new InputFileError(file, `field "${field}" is missing or not a string`, line);
  const name = value.trim();
  if (name === "") throw new InputFileError(file, `field "${field}" is empty`, line);
  return name;
}

function parseScoreValue(value: unknown, file: string, line: number, field: string): number {
  if (value === true) return 1;
  if (value === false) return 0;
  if (typeof value === "string") return parseScoreText(value, file, line, field);
  if (typeof value !== "number") throw new InputFileError(file, `${field} is missing or not a number`, line);
  return checkScore(value, file, line, field);
}

function parseScoreText(text: string, file: string, line: number, field: string): number {
  const trimmed = text.trim();
  if (trimmed === "") throw new InputFileError(file, `${field} is empty`, line);
  const lower = trimmed.toLowerCase();
  if (lower === "true") return 1;
  if (lower === "false") return 0;
  const value = Number(trimmed);
  if (Number.isNaN(value)) throw new InputFileError(file, `${field} "${trimmed}" is not a number`, line);
  return checkScore(value, file, line, field);
}

function checkScore(value: number, file: string, line: number, field: string): number {
  if (!Number.isFinite(value)) throw new InputFileError(file, `${field} ${value} is not a finite number`, line);
  if (value < 0 || value > 1) throw new InputFileError(file, `${field} ${value} is outside [0, 1] (scores are 0/1 or a fraction in between)`, line);
  return value;
}

/** Remembers (model, item) pairs and the line each was first seen on. */
class DuplicateCheck {
  private readonly seen = new Map<string, number>();
  constructor(private readonly file: string) {}
  add(model: string, item: string, line: number): void {
    const key = `${model}\u0000${item}`;
    const first = this.seen.get(key);
    if (first !== undefined) {
      throw new InputFileError(this.file, `duplicate result for model "${model}" on item "${item}" (first on line ${first})`, line);
    }
    this.seen.set(key, line);
  }
}
