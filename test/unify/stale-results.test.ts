/**
 * A results log written before a scoring fix must not be mixed with new scores: an expert's hash
 * includes the scoring revision, so its old records are dropped and evaluated again.
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ExpertSpec } from "../../src/formats/models-file.js";
import type { TaskItem } from "../../src/formats/tasks.js";
import { buildFingerprint } from "../../src/unify/build-stamp.js";
import { dropStaleResults } from "../../src/unify/stale-results.js";
import { readResultRecords } from "../../src/eval/results-log.js";

let dir: string | undefined;
afterEach(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("dropStaleResults", () => {
  it("drops the records of a log written under an earlier scoring revision, then keeps the new ones", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-stale-"));
    const model = path.join(dir, "model.gguf");
    await fs.writeFile(model, "not read: only its size and time count");
    const expert: ExpertSpec = { id: "law", backend: "llamacpp", path: model } as ExpertSpec;
    const items = [{ id: "i0", domain: "law", kind: "bits_per_byte", text: "The court ruled." }] as unknown as TaskItem[];
    const log = path.join(dir, "dev-results.jsonl");
    const record = { model: "law", item: "i0", score: 0.3, domain: "law", metric: "bpb", task: "bits_per_byte", bpb: 1.7 };
    await fs.writeFile(log, JSON.stringify(record) + "\n");
    // The inputs file as a run before the revision wrote it: the expert hashed without it.
    const itemHash = createHash("sha256").update(JSON.stringify(items[0])).digest("hex");
    await fs.writeFile(path.join(dir, "dev-results.inputs.json"), JSON.stringify({
      version: 1, experts: { law: await buildFingerprint([expert], null) }, items: { i0: itemHash },
    }));

    expect(await dropStaleResults(log, [expert], items)).toBe(1);
    expect(await readResultRecords(log)).toEqual([]);

    // What this revision writes is kept by the next run.
    await fs.writeFile(log, JSON.stringify(record) + "\n");
    expect(await dropStaleResults(log, [expert], items)).toBe(0);
    expect(await readResultRecords(log)).toHaveLength(1);
  });
});
