import { promises as fs } from "node:fs";
import { ConfigError } from "../core/errors.js";

/** Files only unify writes: a folder holding one of them is an earlier run's, to be continued. */
const UNIFY_FILES = ["dev-results.jsonl", "dev-items.jsonl", "ranking.json", "single-test-results.jsonl", "unified.yml", "summary.json"];

/**
 * OUT_DIR for a run: created when absent; continued when an earlier run wrote it; refused when it
 * holds other files — a rerun empties its checkpoint folders (merged-ties, moe, distill), which
 * must never be a user's own folders of those names. Hidden files (.DS_Store, temporaries) do
 * not count.
 */
export async function claimOutDir(outDir: string): Promise<void> {
  let entries: string[];
  try {
    entries = (await fs.readdir(outDir)).filter((name) => !name.startsWith("."));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" && code !== "ENOTDIR") throw new ConfigError([`${outDir}: cannot read the output folder (${code ?? (error as Error).message})`]);
    await fs.mkdir(outDir, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
      throw new ConfigError([`${outDir}: ${e.code === "EEXIST" ? "is a file; the output folder must be a folder" : `cannot create the output folder (${e.code ?? e.message})`}`]);
    });
    return;
  }
  if (entries.length === 0 || entries.some((name) => UNIFY_FILES.includes(name))) return;
  const shown = entries.slice(0, 5).join(", ") + (entries.length > 5 ? `, … (${entries.length} entries)` : "");
  throw new ConfigError([
    `${outDir}: the output folder holds files an earlier unify run did not write (${shown}); give a new or empty folder, or the folder of an earlier run to continue it`,
  ]);
}
