import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import { writeFileAtomic } from "../core/atomic.js";
import { exists } from "../core/files.js";
import { readResultRecords } from "../eval/results-log.js";
import type { ExpertSpec } from "../formats/models-file.js";
import type { TaskItem } from "../formats/tasks.js";
import { SCORING_REVISION } from "../models/scoring-revision.js";
import { buildFingerprint } from "./build-stamp.js";

/**
 * The experts' results logs resume by (model, item) alone; an item whose text was edited under
 * the same id, or an expert whose file changed, would keep its old results. Beside each log,
 * NAME.inputs.json holds a hash of every item and expert its records were made from; before a
 * run, records whose item or expert hash differs now are dropped (the log rewritten whole), so
 * only they are evaluated again. An expert's hash includes the scoring revision, so a backend's
 * scoring fix drops its old records too. A log without the file (an older run) is kept as it is.
 */
interface Inputs {
  version: 1;
  experts: Record<string, string>;
  items: Record<string, string>;
}

const sha = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex");

async function readInputs(file: string): Promise<Inputs | undefined> {
  try {
    const inputs = JSON.parse(await fs.readFile(file, "utf8")) as Inputs;
    return inputs.version === 1 ? inputs : undefined;
  } catch {
    // Absent or unreadable: the log is treated as an older run's (kept), and the file rewritten.
    return undefined;
  }
}

/** Drop the stale records of `log`; returns how many. */
export async function dropStaleResults(log: string, experts: readonly ExpertSpec[], items: readonly TaskItem[]): Promise<number> {
  const inputsFile = log.replace(/\.jsonl$/, "") + ".inputs.json";
  const now: Inputs = {
    version: 1,
    experts: Object.fromEntries(await Promise.all(experts.map(async (e) => [e.id, await buildFingerprint([e], { scoring: SCORING_REVISION })] as const))),
    items: Object.fromEntries(items.map((i) => [i.id, sha(i)])),
  };
  const before = await readInputs(inputsFile);
  let dropped = 0;
  if (before) {
    const records = (await exists(log)) ? await readResultRecords(log) : undefined;
    if (records) {
      const fresh = (r: { model: string; item: string }) =>
        (now.experts[r.model] === undefined || before.experts[r.model] === now.experts[r.model]) &&
        (now.items[r.item] === undefined || before.items[r.item] === now.items[r.item]);
      const kept = records.filter(fresh);
      dropped = records.length - kept.length;
      if (dropped > 0) await writeFileAtomic(log, kept.map((r) => JSON.stringify(r) + "\n").join(""));
    }
  }
  // Entries for experts and items not in this run stay, so their records stay checkable.
  const merged: Inputs = { version: 1, experts: { ...before?.experts, ...now.experts }, items: { ...before?.items, ...now.items } };
  await writeFileAtomic(inputsFile, JSON.stringify(merged) + "\n");
  return dropped;
}
