import { InputFileError } from "../../core/errors.js";
import { forEachJsonlObject } from "../../formats/jsonl.js";
import type { FpoRecord, FpoUnit } from "./fpo-objective.js";
import { readTextFile } from "../../core/files.js";

/** The record schema `cogen distill prefs` writes (each line says it: records carry no header). */
export const FPO_RECORD_FORMAT = "cogen-fpo/2";

/**
 * InfiFPO records from JSON Lines, one pair per line:
 *   schema 2  {"format": "cogen-fpo/2", "unit": "token" | "byte", "prompt": "...", "chosen": "...",
 *              "rejected": "...", "reference": {"chosen": -2.31, "rejected": -3.05}, ...}
 *   schema 1  the same without "format" and "unit" (files written before schema 2): per token.
 * `reference` holds the fused reference's length-normalised log-probabilities (≤ 0) in `unit`:
 * nats per token of each source's own tokenisation, or per UTF-8 byte of the response. Other
 * fields (per-source log-probabilities, ids) are kept out of training. `unit`, when given, is the
 * unit the trainer normalises in: a record of another unit is refused, as are files mixing units.
 * Every bad line is an InputFileError naming the file, line and field.
 */
export async function readFpoRecords(file: string, options: { unit?: FpoUnit } = {}): Promise<FpoRecord[]> {
  const text = await readTextFile(file);
  const records: FpoRecord[] = [];
  let first: { unit: FpoUnit; line: number } | undefined;
  forEachJsonlObject(text, file, "with prompt, chosen, rejected and reference", (r, line) => {
    const unit = recordUnit(r, file, line);
    if (options.unit !== undefined && unit !== options.unit) {
      throw new InputFileError(file, `"unit" is "${unit}" (the reference is in nats per ${unit}) but training normalises per ${options.unit} (--unit ${options.unit}): write the records with 'cogen distill prefs --unit ${options.unit}' or train with --unit ${unit}`, line);
    }
    if (first && unit !== first.unit) throw new InputFileError(file, `"unit" is "${unit}" but line ${first.line}'s is "${first.unit}": one file holds records of one unit`, line);
    first ??= { unit, line };
    for (const field of ["prompt", "chosen", "rejected"] as const) {
      if (typeof r[field] !== "string") throw new InputFileError(file, `"${field}" must be a string`, line);
    }
    for (const field of ["chosen", "rejected"] as const) {
      if ((r[field] as string).length === 0) throw new InputFileError(file, `"${field}" is empty`, line);
    }
    const reference = r.reference as Record<string, unknown> | undefined;
    for (const side of ["chosen", "rejected"] as const) {
      const v = reference?.[side];
      if (typeof v !== "number" || !Number.isFinite(v) || v > 0) {
        throw new InputFileError(file, `"reference.${side}" must be a log-probability (a finite number ≤ 0), got ${JSON.stringify(v)}`, line);
      }
    }
    records.push({
      prompt: r.prompt as string, chosen: r.chosen as string, rejected: r.rejected as string,
      reference: { chosen: reference!.chosen as number, rejected: reference!.rejected as number }, unit,
    });
  });
  if (records.length === 0) throw new InputFileError(file, "holds no preference records");
  return records;
}

/** The unit a record's reference is in: its "unit" (schema 2), or "token" for a schema 1 record. */
function recordUnit(r: Record<string, unknown>, file: string, line: number): FpoUnit {
  if (r.format === undefined && r.unit === undefined) return "token";
  if (r.format !== undefined && r.format !== FPO_RECORD_FORMAT) {
    throw new InputFileError(file, `"format" must be "${FPO_RECORD_FORMAT}" (or absent: schema 1, per token), got ${JSON.stringify(r.format)}`, line);
  }
  if (r.unit !== "token" && r.unit !== "byte") throw new InputFileError(file, `"unit" must be "token" or "byte", got ${JSON.stringify(r.unit)}`, line);
  return r.unit;
}
