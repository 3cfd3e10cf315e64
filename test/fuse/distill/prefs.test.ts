import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExpertSpec } from "../../../src/formats/models-file.js";
import { fuseReference } from "../../../src/fuse/distill/infifpo.js";
import { distillPrefs, readPreferencePairs } from "../../../src/fuse/distill/prefs.js";
import { readFpoRecords } from "../../../src/fuse/distill/fpo-records.js";
import { tempDir } from "../../fixtures/tiny-llama.js";
import { reference, startStub, type StubServer } from "../../models/openai-stub.js";

const score = (id: string, chosen: number, rejected: number) => ({ id, chosen, rejected, chosenTokens: 3, rejectedTokens: 4 });

describe("InfiFPO fused reference", () => {
  it("max-margin puts all weight on the source separating the pair most", () => {
    const fused = fuseReference([score("a", -2, -2.5), score("b", -3, -4.2), score("c", -1, -1.1)], { fusion: "max-margin" });
    expect(fused.weights).toEqual([0, 1, 0]);
    expect(fused.reference).toEqual({ chosen: -3, rejected: -4.2 });
  });

  it("clips each source so it is no worse than the pivot: chosen raised, rejected lowered", () => {
    // a: chosen −2 < pivot −1.5 → −1.5; rejected −2.5 < pivot −2 → stays. b: rejected −1 > −2 → −2.
    const fused = fuseReference([score("a", -2, -2.5), score("b", -1, -1)], { fusion: "weighted", weights: [1, 3], pivot: { chosen: -1.5, rejected: -2 } });
    expect(fused.clipped).toEqual([{ chosen: -1.5, rejected: -2.5 }, { chosen: -1, rejected: -2 }]);
    expect(fused.weights).toEqual([0.25, 0.75]);
    expect(fused.reference.chosen).toBeCloseTo(0.25 * -1.5 + 0.75 * -1, 12);
    expect(fused.reference.rejected).toBeCloseTo(0.25 * -2.5 + 0.75 * -2, 12);
  });

  it("floors absurd log-probabilities without a pivot", () => {
    expect(fuseReference([score("a", -40, -50)], { fusion: "max-margin" }).reference).toEqual({ chosen: -10, rejected: -10 });
  });
});

describe("distill prefs", () => {
  let stub: StubServer;
  let dir: string;
  beforeAll(async () => {
    stub = await startStub();
    dir = await tempDir();
  });
  afterAll(async () => {
    await stub.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  const spec = (id: string): ExpertSpec => ({ id, backend: "openai", url: stub.url, model: "stub", domains: [], tags: [] });

  it("writes records with each source's length-normalised log-probabilities that the FPO trainer reads", async () => {
    const pairs = [{ prompt: "The capital of France is", chosen: " Paris", rejected: " London is" }, { prompt: "The answer", chosen: " is 42", rejected: " of Rome" }];
    const out = path.join(dir, "prefs.jsonl");
    const { records } = await distillPrefs({ sources: [spec("s1"), spec("s2")], pivot: spec("pivot"), pairs, out, fusion: "weighted" });
    for (const [p, pair] of pairs.entries()) {
      const chosen = reference(pair.prompt, pair.chosen);
      const rejected = reference(pair.prompt, pair.rejected);
      const r = records[p];
      expect(r.sources[0].chosen).toBeCloseTo(chosen.logprob / chosen.tokens, 9);
      expect(r.sources[1].rejected_tokens).toBe(rejected.tokens);
      // Sources and pivot are the same model: clipping changes nothing, the reference is theirs.
      expect(r.reference.chosen).toBeCloseTo(chosen.logprob / chosen.tokens, 9);
      expect(r.pivot!.rejected).toBeCloseTo(rejected.logprob / rejected.tokens, 9);
    }
    const read = await readFpoRecords(out);
    expect(read.map((r) => r.reference)).toEqual(records.map((r) => r.reference));
    expect(records.map((r) => [r.format, r.unit])).toEqual([["cogen-fpo/2", "token"], ["cogen-fpo/2", "token"]]);
    expect(read.map((r) => r.unit)).toEqual(["token", "token"]);
  });

  it("writes per-byte records (--unit byte) that a trainer of the other unit refuses, naming the file and field", async () => {
    const pairs = [{ prompt: "The capital of France is", chosen: " Paris", rejected: " Lyon is" }, { prompt: "The answer", chosen: " is 42", rejected: " of Rome" }];
    const out = path.join(dir, "prefs-byte.jsonl");
    const { records } = await distillPrefs({ sources: [spec("s1")], pairs, out, unit: "byte" });
    for (const [p, pair] of pairs.entries()) {
      const chosen = reference(pair.prompt, pair.chosen);
      const rejected = reference(pair.prompt, pair.rejected);
      // Divided by the response's UTF-8 bytes, not its tokens (" Paris" is one token of six bytes).
      expect(records[p].sources[0].chosen).toBeCloseTo(chosen.logprob / Buffer.byteLength(pair.chosen), 9);
      expect(records[p].reference.rejected).toBeCloseTo(rejected.logprob / Buffer.byteLength(pair.rejected), 9);
      expect(records[p].sources[0].chosen_tokens).toBe(chosen.tokens);
    }
    expect(reference(pairs[0].prompt, pairs[0].chosen).tokens).toBe(1);
    expect(records[0].unit).toBe("byte");
    expect((await readFpoRecords(out, { unit: "byte" })).map((r) => r.reference)).toEqual(records.map((r) => r.reference));
    await expect(readFpoRecords(out, { unit: "token" })).rejects.toThrow(/prefs-byte\.jsonl:1: "unit" is "byte" .*--unit token/);
  });

  it("names the file and line of a bad pair", async () => {
    const file = path.join(dir, "bad.jsonl");
    await fs.writeFile(file, '{"prompt":"a","chosen":"b","rejected":"c"}\n{"prompt":"a","chosen":"b"}\n');
    await expect(readPreferencePairs(file)).rejects.toThrow(/bad\.jsonl:2: field 'rejected' must be a string/);
    await fs.writeFile(file, '{"prompt":"a","chosen":"b","rejected":"b"}\n');
    await expect(readPreferencePairs(file)).rejects.toThrow(/:1: chosen and rejected are the same/);
  });
});
