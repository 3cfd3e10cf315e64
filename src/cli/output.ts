import { promises as fs } from "node:fs";
import { ConfigError } from "../core/errors.js";
import { isFileMissing } from "../core/files.js";

/** Plain-text tables for the terminal; every command that prints one also has `--json`. */
export function formatTable(headers: string[], rows: (string | number)[][], align?: ("l" | "r")[]): string {
  const cells = rows.map((row) => row.map(String));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  const pad = (text: string, i: number) => ((align?.[i] ?? "l") === "r" ? text.padStart(widths[i]) : text.padEnd(widths[i]));
  const line = (row: string[]) => row.map(pad).join("  ").trimEnd();
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}

export { formatBytes } from "../core/bytes.js";

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/**
 * Refuse to replace an existing output folder (or file) that holds something, unless `force`:
 * a merge written over yesterday's result by a typo is lost work.
 */
export async function refuseToReplace(outDir: string, force: boolean | undefined): Promise<void> {
  if (force) return;
  let what: string;
  try {
    const stat = await fs.stat(outDir);
    if (stat.isDirectory() && (await fs.readdir(outDir)).length === 0) return;
    what = stat.isDirectory() ? "already exists and is not empty" : "is a file, not a folder";
  } catch (error) {
    if (isFileMissing(error)) return;
    throw error;
  }
  throw new ConfigError([`${outDir} ${what}; give --force to replace it, or choose another output folder`]);
}
