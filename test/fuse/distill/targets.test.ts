import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, InputFileError } from "../../../src/core/errors.js";
import type { LanguageModel } from "../../../src/core/language-model.js";
import type { ExpertSpec } from "../../../src/formats/models-file.js";
import { checkPivotTargets } from "../../../src/fuse/distill/pivot-targets.js";
import { parseDistillCorpus } from "../../../src/fuse/distill/corpus.js";
import { checkTargetsMatch, readTargetsManifest } from "../../../src/fuse/distill/manifest.js";
import { preparePivot, readPivotTokenizer } from "../../../src/fuse/distill/pivot.js";
import { distillTargets } from "../../../src/fuse/distill/targets.js";
import { openDistillTargets, pivotTargetsOf } from "../../../src/fuse/distill/targets-reader.js";
import { ModelPool } from "../../../src/models/pool.js";
import { openModel } from "../../../src/models/open.js";
import { makeTinyLlama, tempDir } from "../../fixtures/tiny-llama.js";
import { startStub, type StubServer } from "../../models/openai-stub.js";

let stub: StubServer;
let root: string;
beforeAll(async () => {
  stub = await startStub();
  root = await tempDir();
});
afterAll(async () => {
  await stub.close();
  await fs.rm(root, { recursive: true, force: true });
});

const LINES = [
  "The capital of France is Paris",
  "",
  "The answer is 42",
  "bad\u0001bytes",
  "a b c d e f g h i j k l m n o p",
  "London is a capital",
  "Rome",
];
const corpus = (lines = LINES) => parseDistillCorpus(Buffer.from(lines.join("\n") + "\n"), "texts.txt");
const spec = (id: string, contextSize = 12): ExpertSpec => ({ id, backend: "openai", url: stub.url, model: "stub", domains: [], tags: [], contextSize, maxRetries: 0 });

async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const file = path.join(entry.parentPath, entry.name);
      files.set(path.relative(dir, file), await fs.readFile(file));
    }
  }
  return files;
}

describe("distill targets", () => {
  it("writes a shard per source and texts-per-shard, counts skipped texts, and stores a position in 10 + 6·K bytes besides the header", async () => {
    const out = path.join(root, "first");
    const report = await distillTargets({ sources: [spec("s1"), spec("s2", 100)], corpus: corpus(), out, k: 4, textsPerShard: 3 });
    expect(report.failures).toEqual([]);
    expect(report.written).toBe(6);
    const manifest = await readTargetsManifest(out);
    expect(manifest.shards.map((s) => s.file)).toEqual(["s1/shard-00000.cgtk", "s1/shard-00001.cgtk", "s1/shard-00002.cgtk", "s2/shard-00000.cgtk", "s2/shard-00001.cgtk", "s2/shard-00002.cgtk"]);
    // The 16-token line is too long for s1's 12-token context, not for s2's.
    expect(manifest.skips).toEqual({ s1: { empty: 1, binary: 1, "too-long": 1 }, s2: { empty: 1, binary: 1 } });
    const positions = manifest.shards.reduce((s, e) => s + e.positions, 0);
    let arrays = 0;
    for (const e of manifest.shards) {
      const bytes = await fs.readFile(path.join(out, e.file));
      expect(bytes.length).toBe(e.bytes);
      arrays += bytes.length - 12 - bytes.readUInt32LE(8);
    }
    // 16-bit string indices; each array of a shard padded to 4 bytes (at most 2 + 2 per shard).
    expect(arrays).toBeGreaterThanOrEqual(positions * (10 + 6 * 4));
    expect(arrays).toBeLessThanOrEqual(positions * (10 + 6 * 4) + 4 * manifest.shards.length);
    const reader = await openDistillTargets(out);
    const [s1, s2] = await reader.forText(0);
    // "The capital of France is Paris": The | ␠capital | ␠of | ␠France | ␠is | ␠Paris (stub tokens).
    expect(Array.from(s1!.token, (i) => s1!.strings[i]).join("")).toBe("The capital of France is Paris");
    expect(Array.from(s1!.end)).toEqual([3, 11, 14, 21, 24, 30]);
    expect(s1!.nats).toBeCloseTo(s2!.nats, 5);
    expect(await reader.forText(4)).toEqual([undefined, expect.objectContaining({ bytes: 31 })]);
  });

  it("resumes a killed run to identical files, never recomputing a finished shard", async () => {
    const out = path.join(root, "resume");
    const sources = [spec("s1"), spec("s2")];
    await distillTargets({ sources, corpus: corpus(), out, k: 3, textsPerShard: 2 });
    const whole = await snapshot(out);
    // As if killed after three shards: the rest and the manifest are missing, a torn temporary remains.
    for (const file of ["s1/shard-00003.cgtk", "s2/shard-00000.cgtk", "s2/shard-00001.cgtk", "s2/shard-00002.cgtk", "s2/shard-00003.cgtk", "manifest.json"]) await fs.rm(path.join(out, file));
    await fs.writeFile(path.join(out, "s2", ".shard-00000.cgtk.123.tmp"), "torn");
    await fs.rm(path.join(out, "s2", ".shard-00000.cgtk.123.tmp"));
    // A damaged shard is recomputed too.
    await fs.writeFile(path.join(out, "s1/shard-00002.cgtk"), "CGTK garbage");
    const report = await distillTargets({ sources, corpus: corpus(), out, k: 3, textsPerShard: 2 });
    expect(report.reused).toBe(2);
    expect(report.written).toBe(6);
    expect(await snapshot(out)).toEqual(whole);
    const again = await distillTargets({ sources, corpus: corpus(), out, k: 3, textsPerShard: 2 });
    expect([again.written, again.reused]).toEqual([0, 8]);
  });

  it("refuses a folder holding targets of another corpus, K or source set before any work", async () => {
    const out = path.join(root, "other");
    await distillTargets({ sources: [spec("s1")], corpus: corpus(), out, k: 2, textsPerShard: 4 });
    const requests = stub.requests;
    await expect(distillTargets({ sources: [spec("s1")], corpus: corpus(["Rome"]), out, k: 2, textsPerShard: 4 })).rejects.toThrow(/another corpus/);
    await expect(distillTargets({ sources: [spec("s1")], corpus: corpus(), out, k: 3, textsPerShard: 4 })).rejects.toThrow(/top-2/);
    await expect(distillTargets({ sources: [spec("s9")], corpus: corpus(), out, k: 2, textsPerShard: 4 })).rejects.toThrow(/another source set/);
    expect(stub.requests).toBe(requests);
  });

  it("refuses sources that cannot return a whole-sequence top-K before any work", async () => {
    const out = path.join(root, "composite");
    const quiet = await startStub({ noEcho: true });
    const pool = new ModelPool({
      open: async (s) => {
        const model = await openModel(s);
        if (s.id !== "router") return model;
        const { sequenceTopK: _declined, ...rest } = model;
        return rest as LanguageModel;
      },
    });
    try {
      const sources = [spec("s1"), spec("router"), { ...spec("no-echo"), url: quiet.url }];
      const error = (await distillTargets({ sources, corpus: corpus(), out, k: 2, pool }).catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toMatch(/source 'router' cannot give targets: router: cannot return a whole-sequence top-K/);
      expect(error.message).toContain(`source 'no-echo' cannot give targets: openai(no-echo): the server at ${quiet.url} returned no prompt top log-probabilities`);
      await expect(fs.readdir(out)).rejects.toThrow(/ENOENT/);
    } finally {
      await pool.close();
      await quiet.close();
    }
  });

  it("reports a source failing mid-run and writes no manifest", async () => {
    const out = path.join(root, "failing");
    let calls = 0;
    const pool = new ModelPool({
      open: async (s) => {
        const model = await openModel(s);
        return { ...model, sequenceTopK: async (text: string, k: number) => {
          if (s.id === "flaky" && ++calls > 2) throw new Error("connection reset");
          return model.sequenceTopK!(text, k);
        } };
      },
    });
    const report = await distillTargets({ sources: [spec("s1"), spec("flaky")], corpus: corpus(), out, k: 2, textsPerShard: 2, pool });
    await pool.close();
    // The probe and text 0 succeed (text 1 is empty); text 2 fails its shard and the two after it.
    expect(report.failures).toEqual([{ source: "flaky", shards: 3, error: expect.stringMatching(/flaky: text \d+ \(line \d+\): connection reset/) }]);
    expect(report.written).toBe(5);
    expect(report.manifest).toBeUndefined();
    await expect(readTargetsManifest(out)).rejects.toThrow(/did not finish/);
  });

  it("builds contract-valid pivot targets for a pivot tokenizer, and checks the corpus and sources first", async () => {
    const out = path.join(root, "pivot");
    const texts = corpus();
    await distillTargets({ sources: [spec("s1"), spec("s2", 100)], corpus: texts, out, k: 4 });
    const tiny = await makeTinyLlama(root, "byte-fallback");
    const pivot = preparePivot(await readPivotTokenizer(tiny.dir));
    const seen: number[] = [];
    for await (const { index, text, targets } of pivotTargetsOf(out, texts, pivot, { k: 3 })) {
      seen.push(index);
      checkPivotTargets(targets, pivot.tokenizer.size, `text ${index}`);
      expect(pivot.tokenizer.decode(Array.from(targets.tokens))).toBe(text);
      expect(targets.uld!.sources).toBe(2);
      if (index === 4) expect(Array.from(targets.uld!.weights)).toEqual([0, 1]);
    }
    expect(seen).toEqual([0, 2, 4, 5, 6]);
    await expect(pivotTargetsOf(out, corpus(["Rome"]), pivot).next()).rejects.toThrow(ConfigError);
    const manifest = await readTargetsManifest(out);
    expect(() => checkTargetsMatch(manifest, { sources: [manifest.sources[0], { ...manifest.sources[1], hash: "0" }, { id: "s3", backend: "openai", hash: "1", files: {} }] }, out))
      .toThrow(/source 's2' differs[\s\S]*source 's3' has no targets/);
    await expect(readPivotTokenizer(path.join(root, "no-such-pivot"))).rejects.toThrow(InputFileError);
    await expect(readPivotTokenizer(path.join(root, "no-such-pivot"))).rejects.toThrow(/pivot's tokenizer is missing/);
  });
});

describe("distill corpus", () => {
  it("reads .txt lines and .jsonl texts, keeping empty and binary ones as counted skips", () => {
    const txt = parseDistillCorpus(Buffer.from("one\r\n\n  \ntwo\u0000\nthree"), "c.txt");
    expect(txt.texts.map((t) => [t.line, t.text, t.skip])).toEqual([[1, "one", undefined], [2, "", "empty"], [3, "  ", "empty"], [4, "two\u0000", "binary"], [5, "three", undefined]]);
    const invalid = parseDistillCorpus(Uint8Array.of(0x61, 0xff, 0x62), "c.txt");
    expect(invalid.texts[0].skip).toBe("binary");
    const jsonl = parseDistillCorpus(Buffer.from('{"text":"a","domain":"law"}\n\n{"text":""}\n'), "c.jsonl");
    expect(jsonl.texts.map((t) => [t.line, t.skip, t.domain])).toEqual([[1, undefined, "law"], [3, "empty", undefined]]);
    expect(() => parseDistillCorpus(Buffer.from('{"text":"a"}\n{"body":"b"}\n'), "c.jsonl")).toThrow(/c\.jsonl:2: field 'text' must be a string/);
    expect(() => parseDistillCorpus(Buffer.from(""), "e.txt")).toThrow(/holds no texts/);
  });
});
