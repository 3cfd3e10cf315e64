import { InputFileError } from "../../core/errors.js";
import { forEachJsonlObject } from "../../formats/jsonl.js";
import type { FpoRecord } from "./fpo-objective.js";
import { readTextFile } from "../../core/files.js";

/**
 * InfiFPO records from JSON Lines, one pair per line:
 *   {"prompt": "...", "chosen": "...", "rejected": "...",
 *    "reference": {"chosen": -2.31, "rejected": -3.05}, ...}
 * `reference` holds the fused reference's length-normalised log-probabilities (nats per token,
 * ≤ 0); other fields (per-source log-probabilities, ids) are kept out of training. Every bad line
 * is an InputFileError naming the file, line and field.
 */
export async function readFpoRecords(file: string): Promise<FpoRecord[]> {
  const text = await readTextFile(file);
  const records: FpoRecord[] = [];
  forEachJsonlObject(text, file, "with prompt, chosen, rejected and reference", (r, line) => {
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
      reference: { chosen: reference!.chosen as number, rejected: reference!.rejected as number },
    });
  });
  if (records.length === 0) throw new InputFileError(file, "holds no preference records");
  return records;
}
