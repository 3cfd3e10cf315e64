import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { meanResponseLogProb } from "../../../src/fuse/distill/fpo-objective.js";
import { disposeTeacher, loadTeacher, type Teacher } from "../../../src/fuse/distill/teacher-targets.js";
import { zooClozePairs, zooFpoRecords } from "../../../src/fuse/distill/zoo-fpo.js";
import { buildCorpus } from "../../../src/zoo/corpora/build.js";
import { ZOO_DOMAINS } from "../../../src/zoo/corpora/domains.js";

const ZOO = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "zoo");

let domains: { domain: string; lines: string[] }[];
let heldOut: Map<string, string[]>;
let medicine: Teacher;
let biologyB: Teacher;

beforeAll(async () => {
  const corpus = await buildCorpus({ domains: ZOO_DOMAINS.filter((d) => d.name === "law" || d.name === "medicine") });
  domains = corpus.domains.map((d) => ({ domain: d.name, lines: d.train.map((r) => r.text) }));
  heldOut = new Map(corpus.domains.map((d) => [d.name, d.heldOut.map((r) => r.text)]));
  medicine = await loadTeacher(path.join(ZOO, "a", "experts", "medicine", "hf"), "a/experts/medicine");
  biologyB = await loadTeacher(path.join(ZOO, "b", "experts", "biology", "hf"), "b/experts/biology");
});

afterAll(() => {
  disposeTeacher(medicine);
  disposeTeacher(biologyB);
});

describe("the zoo's FPO pairs", () => {
  it("are cloze pairs of TRAINING lines in the test cloze's format, one per distractor", () => {
    const three = zooClozePairs(domains, { seed: 3, perDomain: 6, distractors: 3 });
    const one = zooClozePairs(domains, { seed: 3, perDomain: 6 });
    expect(three.length).toBe(3 * one.length);
    expect(one.length).toBe(12);
    for (const pair of three) {
      const lines = domains.find((d) => d.domain === pair.domain)!.lines;
      expect(lines.some((l) => l.startsWith(pair.prompt + pair.chosen))).toBe(true);
      expect(heldOut.get(pair.domain)!.some((l) => l.startsWith(pair.prompt))).toBe(false);
      // The same words after the masked one, a same-length word in its place.
      expect(pair.rejected.split(" ").slice(2)).toEqual(pair.chosen.split(" ").slice(2));
      expect(pair.rejected.length).toBe(pair.chosen.length);
      expect(pair.rejected).not.toBe(pair.chosen);
    }
    // Each sentence: three different distractors, the first of them the one-distractor pair's.
    for (let s = 0; s < one.length; s++) {
      const group = three.slice(3 * s, 3 * s + 3);
      expect(new Set(group.map((p) => p.prompt + "|" + p.chosen)).size).toBe(1);
      expect(new Set(group.map((p) => p.rejected)).size).toBe(3);
      expect(group[0]).toEqual(one[s]);
    }
    expect(zooClozePairs(domains, { seed: 3, perDomain: 6, distractors: 3 })).toEqual(three);
    expect(() => zooClozePairs(domains, { seed: 3, perDomain: 6, distractors: 4 })).toThrow(/distractors must be 1, 2 or 3/);
  });

  it("fuse the reference from the pair's domain experts, per byte (every expert where none has the domain)", async () => {
    const records = await zooFpoRecords(domains, [medicine, biologyB], ["medicine", "biology"], { seed: 3, perDomain: 2, distractors: 2, unit: "byte", reference: "domain" });
    expect(records.length).toBe(8);
    for (const r of records) {
      const own = (t: Teacher, y: string) => meanResponseLogProb(t.model, t.tokenizer, r.prompt, y, "byte");
      const expected = (y: string) => (r.domain === "medicine" ? own(medicine, y) : 0.5 * own(medicine, y) + 0.5 * own(biologyB, y));
      expect(r.reference.chosen).toBeCloseTo(expected(r.chosen), 10);
      expect(r.reference.rejected).toBeCloseTo(expected(r.rejected), 10);
    }
  });
});
