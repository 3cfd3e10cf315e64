/**
 * Reading ranking evidence from the files a user names: per-item results (JSONL / CSV, long or
 * wide), lm-evaluation-harness output folders, or pairwise battle files. `auto` decides per input
 * from what it is (a folder is lm-eval output) and from its columns or keys; one call must not mix
 * per-item results with votes.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { ConfigError, InputFileError } from "../core/errors.js";
import type { Comparison } from "../core/evidence.js";
import { readBattles, type ReadBattlesOptions } from "../formats/battles.js";
import { parseCsv } from "../formats/csv.js";
import { readLmEvalFolder } from "../formats/lm-eval.js";
import { isLongResultsHeader, readResultsInto } from "../formats/results.js";
import { ResponseMatrixBuilder, type ResponseMatrix } from "./responses.js";
import { isFileMissing } from "../core/files.js";

export type EvidenceFormat = "auto" | "results" | "battles" | "lm-eval";
export const EVIDENCE_FORMATS: readonly EvidenceFormat[] = ["auto", "results", "battles", "lm-eval"];

export type Evidence =
  /** Per-item results, streamed straight into a sparse matrix (no object kept per result). */
  | { kind: "results"; matrix: ResponseMatrix; count: number; warnings: string[] }
  | { kind: "battles"; comparisons: Comparison[]; warnings: string[] };

export interface LoadEvidenceOptions {
  format?: EvidenceFormat;
  /** lm-eval: the metric to read. */
  metric?: string;
  battles?: ReadBattlesOptions;
}

const BATTLE_KEYS = [["model_a", "model_b"], ["left", "right"]];

export async function loadEvidence(inputs: readonly string[], options: LoadEvidenceOptions = {}): Promise<Evidence> {
  const format = options.format ?? "auto";
  if (!EVIDENCE_FORMATS.includes(format)) throw new ConfigError([`--format must be one of ${EVIDENCE_FORMATS.join(", ")}, got "${format}"`]);
  if (inputs.length === 0) throw new ConfigError(["no input files (give per-item results, an lm-eval output folder, or battle files)"]);
  const builder = new ResponseMatrixBuilder();
  const comparisons: Comparison[] = [];
  const warnings: string[] = [];
  const kinds = new Set<string>();
  for (const input of inputs) {
    const kind = format === "auto" ? await detect(input) : format;
    kinds.add(kind === "battles" ? "battles" : "results");
    if (kind === "lm-eval") {
      const out = await readLmEvalFolder(input, { metric: options.metric });
      for (const r of out.results) builder.add(r);
      warnings.push(...out.warnings);
    } else if (kind === "results") {
      await readResultsInto(input, (r) => builder.add(r));
    } else {
      const out = await readBattles(input, options.battles);
      for (const c of out.comparisons) comparisons.push(c);
      warnings.push(...out.warnings);
    }
  }
  if (kinds.size > 1) throw new ConfigError(["the inputs mix per-item results with pairwise votes; rank them separately"]);
  return kinds.has("battles") ? { kind: "battles", comparisons, warnings } : { kind: "results", matrix: builder.build(), count: builder.length, warnings };
}

/** What an input looks like: a folder is lm-eval output; a file is judged by its header or first record. */
export async function detect(input: string): Promise<Exclude<EvidenceFormat, "auto">> {
  let stat;
  try {
    stat = await fs.stat(input);
  } catch (error) {
    throw new InputFileError(input, isFileMissing(error) ? "no such file or folder" : `cannot read: ${(error as Error).message}`);
  }
  if (stat.isDirectory()) return "lm-eval";
  const handle = await fs.open(input, "r");
  let head: string;
  try {
    const buffer = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    head = buffer.subarray(0, bytesRead).toString("utf8").replace(/^\ufeff/, "");
  } finally {
    await handle.close();
  }
  const firstLine = head.split("\n").find((l) => l.trim() !== "") ?? "";
  const ext = path.extname(input).toLowerCase();
  let names: string[];
  if (firstLine.trimStart().startsWith("{")) {
    try {
      names = Object.keys(JSON.parse(firstLine) as object);
    } catch {
      throw new InputFileError(input, "the first line is not a JSON object", 1);
    }
  } else if (ext === ".csv" || firstLine.includes(",")) {
    names = parseCsv(firstLine, input)[0]?.fields.map((f) => f.trim()) ?? [];
  } else {
    throw new InputFileError(input, "cannot tell what this is: expected JSON Lines or CSV (per-item results or battles)");
  }
  if (BATTLE_KEYS.some(([a, b]) => names.includes(a) && names.includes(b))) return "battles";
  if (isLongResultsHeader(names) || ext === ".csv") return "results";
  throw new InputFileError(input, `cannot tell what this is from its keys (${names.join(", ")}): per-item results need model, item, score; battles need model_a, model_b, winner`, 1);
}
