import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { readResultRecords } from "../../src/eval/results-log.js";
import { runEval } from "../../src/eval/runner.js";
import type { ResultRecord } from "../../src/eval/result.js";
import { parseModelsFile, type ExpertSpec } from "../../src/formats/models-file.js";
import { parseResultsJsonl } from "../../src/formats/results.js";
import { readLmEvalFolder } from "../../src/formats/lm-eval.js";
import { writeLmEvalOutput } from "../../src/eval/lm-eval-output.js";
import { run as evalCli } from "../../src/cli/eval.js";
import { startStub, type StubServer } from "../models/openai-stub.js";
import { ModelPool } from "../../src/models/pool.js";
import { openModel } from "../../src/models/open.js";
import { expectedScore, ITEMS, ITEMS_JSONL } from "./helpers.js";

let stub: StubServer;
let dir: string;
beforeAll(async () => {
  stub = await startStub();
});
afterAll(async () => {
  await stub.close();
});
afterEach(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const expert = (id: string, url = stub.url): ExpertSpec => ({ id, backend: "openai", url, model: "stub", domains: [], tags: [], maxRetries: 0 });
const byKey = (records: ResultRecord[]) => Object.fromEntries(records.map((r) => [`${r.model}/${r.item}`, r]));


/** A pool whose models log "open ID" and "close ID" to `events`. */
function recordingPool(events: string[]): ModelPool {
  return new ModelPool({
    open: async (spec) => {
      events.push(`open ${spec.id}`);
      const model = await openModel(spec);
      return { ...model, close: async () => void events.push(`close ${spec.id}`) };
    },
  });
}
describe("runEval", () => {
  it("writes one line per (model, item) with the independently computed scores", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-eval-"));
    const out = path.join(dir, "results.jsonl");
    const report = await runEval({ experts: [expert("a"), expert("b")], items: ITEMS, out, batchSize: 3 });
    expect(report.written).toBe(2 * ITEMS.length);
    expect(report.failures).toEqual([]);
    const records = await readResultRecords(out);
    expect(records).toHaveLength(14);
    const got = byKey(records);
    for (const item of ITEMS) {
      for (const model of ["a", "b"]) {
        const r = got[`${model}/${item.id}`];
        expect(r.domain).toBe(item.domain);
        expect(r.score).toBeCloseTo(expectedScore(item), 9);
      }
    }
    expect(got["a/mc1"]).toMatchObject({ metric: "acc", task: "geo" });
    expect(got["a/mc1"].logprobs).toHaveLength(3);
    expect(got["a/bpb1"].metric).toBe("bpb");
    expect(got["a/bpb1"].bpb).toBeGreaterThan(0);
    expect(typeof got["a/em1"].generation).toBe("string");
    // The file is what `cogen rank` reads: strict long-format results, every score in [0, 1].
    const parsed = parseResultsJsonl(await fs.readFile(out, "utf8"), out);
    expect(parsed).toHaveLength(14);
  });

  it("reports a model that cannot be reached and goes on with the others", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-eval-"));
    const out = path.join(dir, "results.jsonl");
    const dead = expert("dead", "http://127.0.0.1:1/v1");
    const report = await runEval({ experts: [dead, expert("ok")], items: ITEMS, out, batchSize: 2 });
    expect(report.failures).toHaveLength(1);
    expect(report.failures[0]).toMatchObject({ model: "dead", items: ITEMS.length });
    expect(report.failures[0].error).toMatch(/request failed/);
    const records = await readResultRecords(out);
    expect(records.map((r) => r.model)).toEqual(Array(ITEMS.length).fill("ok"));
  });

  it("times out a slow model and reports it", async () => {
    const slow = await startStub({ delayMs: 300 });
    try {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-eval-"));
      const out = path.join(dir, "results.jsonl");
      const report = await runEval({ experts: [expert("slow", slow.url), expert("ok")], items: ITEMS.slice(0, 2), out, itemTimeoutMs: 50 });
      expect(report.failures.map((f) => f.model)).toEqual(["slow"]);
      expect(report.failures[0].error).toMatch(/timed out after 50 ms/);
      expect((await readResultRecords(out)).map((r) => r.model)).toEqual(["ok", "ok"]);
    } finally {
      await slow.close();
    }
  });

  it("resumes: skips pairs already written, drops a torn last line, and ends with exactly one line per pair", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-eval-"));
    const out = path.join(dir, "results.jsonl");
    const full = path.join(dir, "full.jsonl");
    await runEval({ experts: [expert("a")], items: ITEMS, out: full });
    const lines = (await fs.readFile(full, "utf8")).split("\n");
    // An interrupted run: three complete lines and half of the fourth.
    await fs.writeFile(out, lines.slice(0, 3).join("\n") + "\n" + lines[3].slice(0, 20));
    await expect(runEval({ experts: [expert("a")], items: ITEMS, out })).rejects.toThrow(/already exists: pass --resume/);
    const report = await runEval({ experts: [expert("a")], items: ITEMS, out, resume: true });
    expect(report.skipped).toBe(3);
    expect(report.written).toBe(ITEMS.length - 3);
    expect(report.droppedBytes).toBe(20);
    const sort = (t: string) => t.trim().split("\n").sort();
    expect(sort(await fs.readFile(out, "utf8"))).toEqual(sort(await fs.readFile(full, "utf8")));
    const again = await runEval({ experts: [expert("a")], items: ITEMS, out, resume: true });
    expect(again.written).toBe(0);
  });

  it("a cogen eval process killed mid-run leaves a valid file that --resume completes exactly", async () => {
    const slow = await startStub({ delayMs: 40 });
    try {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-eval-"));
      const models = path.join(dir, "models.yml");
      await fs.writeFile(models, `- id: s\n  backend: openai\n  url: ${slow.url}\n  model: stub\n`);
      const tasks = path.join(dir, "items.jsonl");
      await fs.writeFile(tasks, ITEMS_JSONL);
      const out = path.join(dir, "r.jsonl");
      const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "eval", "--models", models, "--tasks", tasks, "--out", out,
        "--batch-size", "1", "--concurrency", "1", "--quiet"], { cwd: path.resolve(import.meta.dirname, "../.."), stdio: "ignore" });
      const exited = new Promise((resolve) => child.once("exit", resolve));
      // Kill it hard once some, but not all, results are on disk.
      for (;;) {
        const text = await fs.readFile(out, "utf8").catch(() => "");
        if (text.split("\n").length > 3) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      child.kill("SIGKILL");
      await exited;
      const partial = await readResultRecords(out);
      expect(partial.length).toBeGreaterThan(1);
      expect(partial.length).toBeLessThan(ITEMS.length);
      const report = await runEval({ experts: [{ ...expert("s", slow.url) }], items: ITEMS, out, resume: true });
      expect(report.skipped + report.written).toBe(ITEMS.length);
      const records = await readResultRecords(out);
      expect(records.map((r) => r.item).sort()).toEqual(ITEMS.map((i) => i.id).sort());
      for (const r of records) expect(r.score).toBeCloseTo(expectedScore(ITEMS.find((i) => i.id === r.item)!), 9);
    } finally {
      await slow.close();
    }
  });

  it("refuses a results file with a bad line in the middle", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-eval-"));
    const out = path.join(dir, "results.jsonl");
    const line = (item: string) => JSON.stringify({ model: "a", item, domain: "d", score: 1, metric: "acc", task: "t" });
    await fs.writeFile(out, `${line("x")}\nnot json\n${line("y")}\n`);
    await expect(runEval({ experts: [expert("a")], items: ITEMS, out, resume: true })).rejects.toThrow(/results\.jsonl:2: not valid JSON/);
    // A complete line that is JSON but not a result (no metric) is refused too, naming the field.
    await fs.writeFile(out, `${line("x")}\n{"model":"a","item":"y","score":1,"task":"t"}\n`);
    await expect(runEval({ experts: [expert("a")], items: ITEMS, out, resume: true })).rejects.toThrow(/results\.jsonl:2: field "metric" must be one of/);
  });

  it("runs experts one at a time: each model is closed after its last job", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-eval-"));
    const events: string[] = [];
    const pool = recordingPool(events);
    await runEval({ experts: [expert("a"), expert("b")], items: ITEMS, out: path.join(dir, "r.jsonl"), batchSize: 3, pool });
    expect(events).toEqual(["open a", "close a", "open b", "close b"]);
    await pool.close();
  });

  it("in lanes, runs two experts at once and writes the same results as one lane", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-eval-"));
    const events: string[] = [];
    const pool = recordingPool(events);
    const experts = [expert("a"), expert("b"), expert("c")];
    const report = await runEval({ experts, items: ITEMS, out: path.join(dir, "lanes.jsonl"), batchSize: 100, pool, lanes: 2 });
    await pool.close();
    expect(report.failures).toEqual([]);
    // Both lanes open their expert before either finishes; the third waits for a free lane.
    expect(events.slice(0, 2)).toEqual(["open a", "open b"]);
    expect(events.filter((e) => e.startsWith("open"))).toEqual(["open a", "open b", "open c"]);
    await runEval({ experts, items: ITEMS, out: path.join(dir, "one.jsonl"), batchSize: 100 });
    const sorted = async (file: string) => (await readResultRecords(path.join(dir, file))).map((r) => JSON.stringify(r)).sort();
    expect(await sorted("lanes.jsonl")).toEqual(await sorted("one.jsonl"));
  });

  it("--limit evaluates the first N items", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-eval-"));
    const out = path.join(dir, "results.jsonl");
    await runEval({ experts: [expert("a")], items: ITEMS, out, limit: 2 });
    expect((await readResultRecords(out)).map((r) => r.item)).toEqual(["mc1", "mc2"]);
  });
});

describe("lm-evaluation-harness output", () => {
  it("writes samples and results files that lm-eval readers (cogen rank's) accept, with the same scores", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-eval-"));
    const out = path.join(dir, "results.jsonl");
    await runEval({ experts: [expert("org/a")], items: ITEMS, out });
    const records = await readResultRecords(out);
    const files = await writeLmEvalOutput(path.join(dir, "lm"), records, ITEMS, new Date("2025-01-02T03:04:05.678Z"));
    expect(files.map((f) => path.relative(dir, f)).sort()).toEqual([
      "lm/org__a/results_2025-01-02T03-04-05.678.json",
      "lm/org__a/samples_geo_2025-01-02T03-04-05.678.jsonl",
      "lm/org__a/samples_math_2025-01-02T03-04-05.678.jsonl",
      "lm/org__a/samples_text_2025-01-02T03-04-05.678.jsonl",
    ]);
    const geo = (await fs.readFile(path.join(dir, "lm/org__a/samples_geo_2025-01-02T03-04-05.678.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(geo[0]).toMatchObject({ doc_id: 0, target: 0, filter: "none", metrics: ["acc", "acc_norm"] });
    expect(geo[0].arguments.gen_args_1).toEqual({ arg_0: "The capital of France is", arg_1: " London" });
    expect(geo[0].filtered_resps[0][0]).toBe(String(records[0].logprobs![0]));
    const summary = JSON.parse(await fs.readFile(files.find((f) => f.includes("results_"))!, "utf8"));
    expect(summary.results.geo["acc,none"]).toBeCloseTo((records[0].score + records[1].score) / 2, 12);
    const text = (await fs.readFile(path.join(dir, "lm/org__a/samples_text_2025-01-02T03-04-05.678.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    const bpbRecord = records.find((r) => r.item === "bpb1")!;
    expect(text[0].bits_per_byte).toEqual([bpbRecord.logprob, bpbRecord.bytes]);
    // lm-eval's bits_per_byte samples hold [loglikelihood, bytes] pairs, which cogen rank's reader
    // does not score; read back the per-item metrics without them.
    const accOnly = ITEMS.filter((i) => i.kind !== "bits_per_byte");
    await writeLmEvalOutput(path.join(dir, "lm2"), records, accOnly, new Date("2025-01-02T03:04:05.678Z"));
    const read = await readLmEvalFolder(path.join(dir, "lm2"));
    const accRows = records.filter((r) => r.metric !== "bpb");
    expect(read.results).toHaveLength(accRows.length);
    for (const r of read.results) {
      expect(r.model).toBe("org/a");
      const [task, docId] = r.item.split("/");
      const doc = accOnly.filter((i) => i.task === task)[Number(docId)];
      const mine = accRows.find((x) => x.item === doc.id);
      expect(r.score).toBe(mine!.score);
    }
  });
});

describe("cogen eval (CLI)", () => {
  it("runs from a models file and a tasks file, and exits 3 when a model failed", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-eval-"));
    const models = path.join(dir, "models.yml");
    await fs.writeFile(models, `experts:\n  - id: good\n    backend: openai\n    url: ${stub.url}\n    model: stub\n  - id: bad\n    backend: openai\n    url: http://127.0.0.1:1/v1\n    max_retries: 0\n`);
    const tasks = path.join(dir, "items.jsonl");
    await fs.writeFile(tasks, ITEMS_JSONL);
    const out = path.join(dir, "r.jsonl");
    const log = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const err = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const code = await evalCli(["--models", models, "--tasks", tasks, "--out", out, "--json", "--lm-eval-out", path.join(dir, "lm")]);
      expect(code).toBe(3);
      const printed = JSON.parse(log.mock.calls.map((c) => String(c[0])).join(""));
      expect(printed.written).toBe(ITEMS.length);
      expect(printed.failures[0].model).toBe("bad");
      expect(printed.summary.find((s: { metric: string }) => s.metric === "acc").items).toBe(3);
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    expect((await fs.readdir(path.join(dir, "lm", "good"))).length).toBe(4);
  });

  it("names the flag that is wrong", async () => {
    await expect(evalCli(["--models", "m.yml", "--tasks", "t.jsonl"])).rejects.toThrow(/--out is required/);
    await expect(evalCli(["--models", "m", "--tasks", "t", "--out", "o", "--concurrency", "0"])).rejects.toThrow(/--concurrency must be an integer ≥ 1/);
    await expect(evalCli(["--models", "m", "--tasks", "t", "--out", "o", "--queue", "http://x"])).rejects.toThrow(/--queue must be a redis/);
  });
});

describe("models file", () => {
  it("reads experts, resolving paths against the file", () => {
    const specs = parseModelsFile([
      "experts:",
      "  - id: med",
      "    backend: llamacpp",
      "    path: med.gguf",
      "    lora: ad.gguf",
      "    scale: 0.5",
      "    domains: [medicine]",
      "    threads: 1",
      "  - id: r",
      "    backend: openai",
      "    url: http://h:1/v1",
      "    api_key_env: KEY",
    ].join("\n"), "/x/models.yml");
    expect(specs[0]).toEqual({ id: "med", backend: "llamacpp", path: "/x/med.gguf", lora: { path: "/x/ad.gguf", scale: 0.5 }, domains: ["medicine"], tags: [], threads: 1 });
    expect(specs[1]).toEqual({ id: "r", backend: "openai", url: "http://h:1/v1", model: "r", apiKeyEnv: "KEY", domains: [], tags: [] });
  });

  it("reads an expert's base (another model of the file) and its weights folder", () => {
    const specs = parseModelsFile([
      "experts:",
      "  - { id: base, backend: llamacpp, path: base.gguf }",
      "  - { id: med, backend: llamacpp, path: med.gguf, base: base, weights: med-hf }",
    ].join("\n"), "/x/models.yml");
    expect(specs[1]).toMatchObject({ base: "base", weights: "/x/med-hf" });
    const problem = (text: string) => {
      try {
        parseModelsFile(text, "m.yml");
      } catch (error) {
        return (error as Error).message;
      }
      return "";
    };
    expect(problem("- { id: a, backend: llamacpp, path: a.gguf, base: b }")).toContain("line 1: [0].base: no model 'b' in this file");
    expect(problem("- { id: a, backend: llamacpp, path: a.gguf, base: a }")).toContain("[0].base: an expert cannot be its own base");
    expect(problem("- { id: a, backend: openai, url: 'http://h/v1', weights: w }")).toContain("[0].weights: only for backend 'llamacpp'");
  });

  it("reports every problem with file, line and field", () => {
    const text = [
      "- id: a",
      "  backend: llamacpp",
      "  scale: 2",
      "- id: a",
      "  backend: magic",
      "- id: c",
      "  backend: openai",
      "  url: ftp://x",
      "  threads: 2",
      "  colour: red",
    ].join("\n");
    let message = "";
    try {
      parseModelsFile(text, "m.yml");
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^m\.yml: /);
    expect(message).toContain("line 1: [0]: 'path' is required");
    expect(message).toContain("line 3: [0].scale: 'scale' needs a 'lora' adapter");
    expect(message).toContain("line 4: [1].id: duplicate id 'a'");
    expect(message).toContain("line 5: [1].backend: must be 'llamacpp' or 'openai'");
    expect(message).toContain("line 8: [2].url: must be an http(s) URL");
    expect(message).toContain("line 9: [2].threads: only for backend 'llamacpp'");
    expect(message).toContain("line 10: [2].colour: unknown field 'colour'");
  });

  it("rejects YAML syntax errors with a line", () => {
    expect(() => parseModelsFile("experts:\n  - id: [a\n", "m.yml")).toThrow(/m\.yml: line \d+, column \d+: Flow sequence/);
  });
});
