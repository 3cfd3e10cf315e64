import { beforeAll, describe, expect, it } from "vitest";
import { zooClozePairs } from "../../../src/fuse/distill/zoo-pairs.js";
import { buildCorpus } from "../../../src/zoo/corpora/build.js";
import { ZOO_DOMAINS } from "../../../src/zoo/corpora/domains.js";

let domains: { domain: string; lines: string[] }[];
let heldOut: Map<string, string[]>;

beforeAll(async () => {
  const corpus = await buildCorpus({ domains: ZOO_DOMAINS.filter((d) => d.name === "law" || d.name === "medicine") });
  domains = corpus.domains.map((d) => ({ domain: d.name, lines: d.train.map((r) => r.text) }));
  heldOut = new Map(corpus.domains.map((d) => [d.name, d.heldOut.map((r) => r.text)]));
});

describe("the zoo's preference pairs (one builder: cogen distill pairs --zoo and the FPO pivot)", () => {
  it("are cloze pairs of TRAINING lines in the test cloze's format, one per distractor", () => {
    const three = zooClozePairs(domains, { seed: 3, perDomain: 6, distractors: 3 });
    const one = zooClozePairs(domains, { seed: 3, perDomain: 6 });
    expect(three.length).toBe(3 * one.length);
    expect(one.length).toBe(12);
    for (const pair of three) {
      const lines = domains.find((d) => d.domain === pair.domain)!.lines;
      // The id names the training line the pair was cut from.
      const line = Number(/\/train-pair\/train\/[a-z]+\/(\d+)\/\d$/.exec(pair.id)![1]);
      expect(lines[line]!.startsWith(pair.prompt + pair.chosen)).toBe(true);
      expect(heldOut.get(pair.domain)!.some((l) => l.startsWith(pair.prompt))).toBe(false);
      // The same words after the masked one, a same-length word of the training vocabulary in its place.
      expect(pair.rejected.split(" ").slice(2)).toEqual(pair.chosen.split(" ").slice(2));
      expect(pair.rejected.length).toBe(pair.chosen.length);
      expect(pair.rejected).not.toBe(pair.chosen);
      const distractor = pair.rejected.split(" ")[1]!;
      expect(lines.some((l) => l.split(": ").slice(1).join(": ").split(" ").includes(distractor))).toBe(true);
    }
    // Each sentence: three different distractors, the first of them the one-distractor pair's.
    for (let s = 0; s < one.length; s++) {
      const group = three.slice(3 * s, 3 * s + 3);
      expect(new Set(group.map((p) => p.prompt + "|" + p.chosen)).size).toBe(1);
      expect(new Set(group.map((p) => p.rejected)).size).toBe(3);
      expect(new Set(three.map((p) => p.id)).size).toBe(three.length);
      expect({ ...group[0], id: undefined }).toEqual({ ...one[s], id: undefined });
    }
    expect(zooClozePairs(domains, { seed: 3, perDomain: 6, distractors: 3 })).toEqual(three);
    expect(zooClozePairs(domains, { seed: 4, perDomain: 6 })).not.toEqual(one);
    expect(() => zooClozePairs(domains, { seed: 3, perDomain: 6, distractors: 4 })).toThrow(/distractors must be 1, 2 or 3/);
  });
});
