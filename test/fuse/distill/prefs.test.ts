import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExpertSpec } from "../../../src/formats/models-file.js";
import { fuseReference } from "../../../src/fuse/distill/infifpo.js";
import { distillPrefs, readPreferencePairs } from "../../../src/fuse/distill/prefs.js";
import { readFpoRecords } from "../../../src/fuse/distill/fpo-records.js";
import { zooTrainingPairs } from "../../../src/fuse/distill/zoo-pairs.js";
import { buildCorpus } from "../../../src/zoo/corpora/build.js";
import { ZOO_DOMAINS } from "../../../src/zoo/corpora/domains.js";
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
  });

  it("names the file and line of a bad pair", async () => {
    const file = path.join(dir, "bad.jsonl");
    await fs.writeFile(file, '{"prompt":"a","chosen":"b","rejected":"c"}\n{"prompt":"a","chosen":"b"}\n');
    await expect(readPreferencePairs(file)).rejects.toThrow(/bad\.jsonl:2: field 'rejected' must be a string/);
    await fs.writeFile(file, '{"prompt":"a","chosen":"b","rejected":"b"}\n');
    await expect(readPreferencePairs(file)).rejects.toThrow(/:1: chosen and rejected are the same/);
  });
});

describe("zoo preference pairs", () => {
  it("come from training lines only, never held-out ones", async () => {
    const corpus = await buildCorpus({ domains: ZOO_DOMAINS.filter((d) => d.name === "law") });
    const pairs = zooTrainingPairs(corpus, 20, 0);
    expect(pairs.length).toBe(20);
    const [law] = corpus.domains;
    for (const pair of pairs) {
      const line = pair.prompt + pair.chosen;
      expect(law.train.some((r) => r.text.startsWith(line))).toBe(true);
      expect(law.heldOut.some((r) => r.text.startsWith(pair.prompt))).toBe(false);
      expect(pair.chosen.split(" ").slice(2)).toEqual(pair.rejected.split(" ").slice(2));
      expect(pair.chosen).not.toBe(pair.rejected);
    }
    expect(zooTrainingPairs(corpus, 20, 0)).toEqual(pairs);
  });
});
