import { promises as fs } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { meanResponseLogProb } from "../../../src/fuse/distill/fpo-objective.js";
import { disposeTeacher, loadTeacher, type Teacher } from "../../../src/fuse/distill/teacher-targets.js";
import { zooFpoRecords } from "../../../src/fuse/distill/zoo-fpo.js";
import { zooClozePairs } from "../../../src/fuse/distill/zoo-pairs.js";
import { distillPrefs } from "../../../src/fuse/distill/prefs.js";
import { buildCorpus } from "../../../src/zoo/corpora/build.js";
import { ZOO_DOMAINS } from "../../../src/zoo/corpora/domains.js";
import { tempDir } from "../../fixtures/tiny-llama.js";

const ZOO = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "zoo");

let domains: { domain: string; lines: string[] }[];
let dir: string;
let medicine: Teacher;
let biologyB: Teacher;

beforeAll(async () => {
  const corpus = await buildCorpus({ domains: ZOO_DOMAINS.filter((d) => d.name === "law" || d.name === "medicine") });
  domains = corpus.domains.map((d) => ({ domain: d.name, lines: d.train.map((r) => r.text) }));
  medicine = await loadTeacher(path.join(ZOO, "a", "experts", "medicine", "hf"), "a/experts/medicine");
  biologyB = await loadTeacher(path.join(ZOO, "b", "experts", "biology", "hf"), "b/experts/biology");
  dir = await tempDir("cogen-zoo-fpo-");
});

afterAll(async () => {
  disposeTeacher(medicine);
  disposeTeacher(biologyB);
  await fs.rm(dir, { recursive: true, force: true });
});

describe("the zoo's FPO records", () => {
  it("fuse the reference from the pair's domain experts, per byte (every expert where none has the domain)", async () => {
    const records = await zooFpoRecords(domains, [medicine, biologyB], ["medicine", "biology"], { seed: 3, perDomain: 2, distractors: 2, unit: "byte", reference: "domain" });
    expect(records.length).toBe(8);
    // The records are the one pair builder's pairs, with exactly these fields in this order: the
    // pivots manifest hashes them as they are (its "prefs" hash must not move).
    const pairs = zooClozePairs(domains, { seed: 3, perDomain: 2, distractors: 2 });
    expect(records.map((r) => JSON.stringify([r.domain, r.prompt, r.chosen, r.rejected]))).toEqual(pairs.map((p) => JSON.stringify([p.domain, p.prompt, p.chosen, p.rejected])));
    for (const r of records) expect(Object.keys(r)).toEqual(["domain", "prompt", "chosen", "rejected", "reference"]);
    for (const r of records) {
      const own = (t: Teacher, y: string) => meanResponseLogProb(t.model, t.tokenizer, r.prompt, y, "byte");
      const expected = (y: string) => (r.domain === "medicine" ? own(medicine, y) : 0.5 * own(medicine, y) + 0.5 * own(biologyB, y));
      expect(r.reference.chosen).toBeCloseTo(expected(r.chosen), 10);
      expect(r.reference.rejected).toBeCloseTo(expected(r.rejected), 10);
    }
  });

  it("agree per byte to 1e-3 with what `cogen distill prefs --unit byte` writes for the same expert run in llama.cpp (its GGUF), families A and B", async () => {
    const medicineLines = domains.filter((d) => d.domain === "medicine");
    const pairs = zooClozePairs(medicineLines, { seed: 3, perDomain: 8 });
    for (const [teacher, gguf] of [[medicine, path.join("a", "experts", "medicine")], [biologyB, path.join("b", "experts", "biology")]] as const) {
      const source = { id: teacher.id, backend: "llamacpp" as const, path: path.join(ZOO, gguf, "model.gguf"), threads: 1, domains: [], tags: [] };
      const { records } = await distillPrefs({ sources: [source], pairs, out: path.join(dir, "prefs.jsonl"), unit: "byte" });
      const expected = await zooFpoRecords(medicineLines, [teacher], ["medicine"], { seed: 3, perDomain: 8, unit: "byte", reference: "domain" });
      expect(records.map((r) => r.prompt + r.chosen + r.rejected)).toEqual(expected.map((r) => r.prompt + r.chosen + r.rejected));
      expect(records.every((r) => r.unit === "byte")).toBe(true);
      for (const [i, r] of records.entries()) {
        // Per byte (about −1 nats; per token would be about −4). Both start the sequence as
        // src/formats/sequence-start.ts says: with BOS before a non-empty prompt (the zoo's
        // tokenizers say add_bos_token false) the trainer's value is up to 0.014 off.
        expect(Math.abs(r.reference.chosen - expected[i]!.reference.chosen)).toBeLessThan(1e-3);
        expect(Math.abs(r.reference.rejected - expected[i]!.reference.rejected)).toBeLessThan(1e-3);
      }
    }
  });
});

