import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fpoObjective } from "../../../src/fuse/distill/fpo-objective.js";
import { readFpoRecords } from "../../../src/fuse/distill/fpo-records.js";
import { tempDir } from "../../fixtures/tiny-llama.js";

let dir: string;
beforeAll(async () => {
  dir = await tempDir("cogen-fpo-records-");
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const line = (extra: Record<string, unknown>) => JSON.stringify({ ...extra, prompt: "a b", chosen: " c", rejected: " d", reference: { chosen: -1, rejected: -2 } });
const write = async (name: string, lines: string[]) => {
  const file = path.join(dir, name);
  await fs.writeFile(file, lines.join("\n") + "\n");
  return file;
};

describe("FPO record schema", () => {
  it("reads schema-1 records (no format, no unit) as per token, schema 2 by their unit", async () => {
    const v1 = await write("v1.jsonl", [line({}), line({ sources: [] })]);
    expect((await readFpoRecords(v1)).map((r) => r.unit)).toEqual(["token", "token"]);
    expect(await readFpoRecords(v1, { unit: "token" })).toHaveLength(2);
    await expect(readFpoRecords(v1, { unit: "byte" })).rejects.toThrow(/v1\.jsonl:1: "unit" is "token" .*per byte \(--unit byte\)/);
    const v2 = await write("v2.jsonl", [line({ format: "cogen-fpo/2", unit: "byte" })]);
    expect((await readFpoRecords(v2))[0]).toMatchObject({ unit: "byte", reference: { chosen: -1, rejected: -2 } });
  });

  it("names the file, line and field of a bad format, a bad unit and a file mixing units", async () => {
    const format = await write("format.jsonl", [line({ format: "cogen-fpo/3", unit: "byte" })]);
    await expect(readFpoRecords(format)).rejects.toThrow(/format\.jsonl:1: "format" must be "cogen-fpo\/2"/);
    const unit = await write("unit.jsonl", [line({ format: "cogen-fpo/2" })]);
    await expect(readFpoRecords(unit)).rejects.toThrow(/unit\.jsonl:1: "unit" must be "token" or "byte", got undefined/);
    const mixed = await write("mixed.jsonl", [line({ format: "cogen-fpo/2", unit: "byte" }), line({}), line({ format: "cogen-fpo/2", unit: "token" })]);
    await expect(readFpoRecords(mixed)).rejects.toThrow(/mixed\.jsonl:2: "unit" is "token" but line 1's is "byte"/);
  });

  it("the objective trains in the records' unit and refuses records of another", () => {
    const record = (unit?: "token" | "byte") => ({ prompt: "a b", chosen: " c", rejected: " d", reference: { chosen: -1, rejected: -2 }, unit });
    const common = { beta: 2, lambda: 0, batchSize: 1, seqLen: 8, seed: 0, bosId: 0 };
    expect(fpoObjective({ ...common, records: [record("byte"), record()] }).key).toMatchObject({ unit: "byte" });
    expect(fpoObjective({ ...common, records: [record()] }).key).not.toHaveProperty("unit");
    expect(() => fpoObjective({ ...common, records: [record(), record("byte")], unit: "token" })).toThrow(/preference record 2's "unit" is "byte" but the objective normalises per token/);
  });
});
