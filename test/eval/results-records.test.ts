/** One validated record type for every results line: what `cogen eval` writes is read back checked. */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputFileError } from "../../src/core/errors.js";
import { ResultsLog, readResultRecords } from "../../src/eval/results-log.js";
import type { ResultRecord } from "../../src/eval/result.js";
import { parseResultRecords, parseResultsJsonl } from "../../src/formats/results.js";

const ACC: ResultRecord = { model: "m", item: "q1", domain: "chem", score: 1, metric: "acc", task: "t", acc_norm: 0, logprobs: [-1.5, -2], greedy: [true, false], tokens: [2, 3] };
const BPB: ResultRecord = { model: "m", item: "q2", domain: "chem", score: 0.5, metric: "bpb", task: "t", bpb: 1, logprob: -8, bytes: 8, tokens: 4 };
const EM: ResultRecord = { model: "m", item: "q3", domain: "law", score: 0, metric: "exact_match", task: "t", generation: "no" };
const line = (r: object) => JSON.stringify(r) + "\n";

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-records-"));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe("result records", () => {
  it("round-trip through a results file, with a byte-order mark and a torn last line", async () => {
    const file = path.join(dir, "ok.jsonl");
    await fs.writeFile(file, "\uFEFF" + line(ACC) + line(BPB) + line(EM) + '{"model": "m", "ite');
    expect(await readResultRecords(file)).toEqual([ACC, BPB, EM]);
    // The rank reader sees the same lines as ItemResults with every field checked.
    expect(parseResultsJsonl(line(ACC) + line(BPB), "r.jsonl").map((r) => r.score)).toEqual([1, 0.5]);
  });

  it("a log-probability of −∞ (written by JSON as null) reads back as −∞", () => {
    const [r] = parseResultRecords(line({ ...ACC, logprobs: [null, -1] }) , "r.jsonl");
    expect(r.logprobs).toEqual([-Infinity, -1]);
  });

  it("every field is checked, naming the file, line and field", () => {
    const bad = (record: object, pattern: RegExp) => {
      const text = line(ACC) + line(record);
      expect(() => parseResultRecords(text, "r.jsonl")).toThrow(InputFileError);
      expect(() => parseResultRecords(text, "r.jsonl")).toThrow(pattern);
    };
    bad({ ...ACC, metric: "accuracy" }, /r\.jsonl:2: field "metric" must be one of acc, exact_match, bpb/);
    bad({ ...ACC, task: undefined }, /r\.jsonl:2: field "task" is missing/);
    bad({ ...ACC, score: "high" }, /r\.jsonl:2: score "high" is not a number/);
    bad({ ...ACC, logprobs: ["a"] }, /field "logprobs" must be a list of numbers/);
    bad({ ...ACC, greedy: [1] }, /field "greedy" must be a list of true\/false values/);
    bad({ ...BPB, bpb: undefined }, /a bpb result needs field "bpb"/);
    bad({ ...BPB, bytes: "8" }, /field "bytes" must be a finite number/);
    bad({ ...EM, generation: 3 }, /field "generation" must be a string/);
    // The rank reader applies the same checks to a line that carries a metric.
    expect(() => parseResultsJsonl(line({ ...BPB, bpb: "x" }), "r.jsonl")).toThrow(/r\.jsonl:1: field "bpb"/);
  });

  it("resuming a log refuses a complete line that is not a result, and drops only a torn tail", async () => {
    const good = path.join(dir, "resume.jsonl");
    await fs.writeFile(good, line(ACC) + line(BPB).slice(0, 10));
    const log = await ResultsLog.open(good, true);
    expect(log.droppedBytes).toBe(10);
    expect(log.has("m", "q1")).toBe(true);
    await log.close();
    const bad = path.join(dir, "bad.jsonl");
    await fs.writeFile(bad, line(ACC) + line({ model: "m", item: "q2", score: 1 }));
    await expect(ResultsLog.open(bad, true)).rejects.toThrow(/bad\.jsonl:2: field "metric"/);
  });

  it("a missing results file is named", async () => {
    await expect(readResultRecords(path.join(dir, "absent.jsonl"))).rejects.toThrow(/absent\.jsonl: no such file or folder/);
  });
});
