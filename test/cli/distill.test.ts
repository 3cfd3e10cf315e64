import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { zooClozePairs, type ZooPair } from "../../src/fuse/distill/zoo-pairs.js";
import { buildCorpus } from "../../src/zoo/corpora/build.js";
import { tempDir } from "../fixtures/tiny-llama.js";
import { startStub, type StubServer } from "../models/openai-stub.js";
import { capture } from "./capture.js";

let root: string;
let stub: StubServer;
beforeAll(async () => {
  root = await tempDir("cogen-distill-targets-cli-");
  stub = await startStub();
  await fs.writeFile(path.join(root, "texts.txt"), "The capital of France is Paris\n\nThe answer is 42\na b c d e f g h i j k l m n o p q r\n");
  await fs.writeFile(path.join(root, "models.yml"), [
    "experts:",
    `  - { id: s1, backend: openai, url: ${JSON.stringify(stub.url)}, model: stub, context_size: 64 }`,
    `  - { id: s2, backend: openai, url: ${JSON.stringify(stub.url)}, model: stub, context_size: 16 }`,
  ].join("\n") + "\n");
  await fs.writeFile(path.join(root, "pairs.jsonl"), '{"prompt":"The capital of France is","chosen":" Paris","rejected":" Rome"}\n');
});
afterAll(async () => {
  await stub.close();
  await fs.rm(root, { recursive: true, force: true });
});

describe("cogen distill targets | prefs", () => {
  it("writes targets and reports skips as JSON; a rerun computes nothing", async () => {
    const args = ["distill", "targets", "--sources", path.join(root, "models.yml"), "--corpus", path.join(root, "texts.txt"), "--out", path.join(root, "t"), "--top-k", "3", "--json"];
    const first = await capture(args);
    expect(first.err).toBe("");
    expect(first.code).toBe(0);
    const report = JSON.parse(first.out);
    expect(report.written).toBe(2);
    expect(report.manifest.skips).toEqual({ s1: { empty: 1 }, s2: { empty: 1, "too-long": 1 } });
    const again = JSON.parse((await capture(args)).out);
    expect([again.written, again.reused]).toEqual([0, 2]);
  });

  it("lists every bad flag at once", async () => {
    const { code, err } = await capture(["distill", "targets", "--sources", "m.yml", "--top-k", "0"]);
    expect(code).toBe(2);
    expect(err).toMatch(/--corpus is required[\s\S]*--out is required[\s\S]*--top-k must be an integer/);
    expect((await capture(["distill", "nonsense"])).err).toMatch(/unknown subcommand 'nonsense'/);
    expect((await capture(["distill", "pairs", "--out", "x.jsonl"])).err).toMatch(/--zoo is required/);
    expect((await capture(["distill", "pairs", "--zoo", "--out", "x.jsonl", "--distractors", "4"])).err).toMatch(/--distractors must be 1, 2 or 3, got '4'/);
    expect((await capture(["distill", "prefs", "--sources", "m.yml", "--pairs", "p.jsonl", "--out", "o.jsonl", "--unit", "char"])).err).toMatch(/--unit must be token or byte, got 'char'/);
  });

  it("writes InfiFPO records, the pivot taken out of the sources", async () => {
    const out = path.join(root, "prefs.jsonl");
    const { code, out: printed } = await capture(["distill", "prefs", "--sources", path.join(root, "models.yml"), "--pairs", path.join(root, "pairs.jsonl"), "--out", out, "--pivot", "s2", "--json"]);
    expect(code).toBe(0);
    expect(JSON.parse(printed)).toMatchObject({ records: 1, weightBySource: { s1: 1 } });
    const [record] = (await fs.readFile(out, "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(record.sources.map((s: { id: string }) => s.id)).toEqual(["s1"]);
    expect(record.pivot).toBeDefined();
    expect([record.format, record.unit]).toEqual(["cogen-fpo/2", "token"]);
    const bytes = await capture(["distill", "prefs", "--sources", path.join(root, "models.yml"), "--pairs", path.join(root, "pairs.jsonl"), "--out", out, "--unit", "byte", "--json"]);
    expect(JSON.parse(bytes.out)).toMatchObject({ records: 1, unit: "byte" });
    const [perByte] = (await fs.readFile(out, "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(perByte.unit).toBe("byte");
    // " Paris" is one stub token of six bytes.
    expect(perByte.sources[0].chosen * 6).toBeCloseTo(record.sources[0].chosen, 9);
    expect((await capture(["distill", "prefs", "--sources", path.join(root, "models.yml"), "--pairs", path.join(root, "pairs.jsonl"), "--out", out, "--pivot", "nobody"])).err)
      .toMatch(/--pivot 'nobody' is not an entry .*entries: s1, s2/);
  });
});

describe("cogen distill pairs --zoo", () => {
  it("writes the one zoo pair builder's pairs, from the zoo's TRAINING split only", async () => {
    const out = path.join(root, "zoo-pairs.jsonl");
    const { code, out: printed } = await capture(["distill", "pairs", "--zoo", "--out", out, "--per-domain", "2", "--distractors", "2", "--seed", "7", "--json"]);
    expect(code).toBe(0);
    const pairs = (await fs.readFile(out, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as ZooPair);
    expect(JSON.parse(printed).pairs).toBe(pairs.length);
    const corpus = await buildCorpus();
    const domains = corpus.domains.map((d) => ({ domain: d.name, lines: d.train.map((r) => r.text) }));
    expect(pairs).toEqual(zooClozePairs(domains, { seed: 7, perDomain: 2, distractors: 2 }));
    expect(pairs.length).toBe(2 * 2 * corpus.domains.length);
    for (const pair of pairs) {
      const domain = corpus.domains.find((d) => d.name === pair.domain)!;
      expect(domain.train.some((r) => r.text.startsWith(pair.prompt + pair.chosen))).toBe(true);
      expect(domain.heldOut.some((r) => r.text.startsWith(pair.prompt))).toBe(false);
    }
  });
});
