import { describe, expect, it } from "vitest";
import { alignTokens, editDistance, stripWordStart } from "../../../src/fuse/distill/align.js";
import { alignedTarget, sourceWeights, uldTarget, type PivotText, type SourceTopK } from "../../../src/fuse/distill/fusion.js";
import { rankingPriors, routerPriors } from "../../../src/fuse/distill/priors.js";
import type { Ranking } from "../../../src/rank/ranking.js";
import { Router } from "../../../src/fuse/router/router.js";

const EMPTY = 0xffffffff;

describe("alignment (FuseLLM)", () => {
  it("computes Levenshtein distances", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("cats", "ats")).toBe(1);
    expect(editDistance("the", "ats")).toBe(3);
  });

  it("removes word-start markers of every tokenizer family", () => {
    expect(["Ġthe", "▁the", " the", "the"].map(stripWordStart)).toEqual(["the", "the", "the", "the"]);
  });

  it("pairs a source token with the pivot tokens it was split into (hand-computed DP)", () => {
    // Costs: the|the 0, the|cat 3, the|s 3; cats|the 4, cats|cat 1, cats|s 3.
    // Cumulative: row 0 = 0 3 6; row 1 = 4, 1+min(0,3,4)=1, 3+min(3,6,1)=4 → path (0,0) (1,1) (1,2).
    const { firstAOfB, firstBOfA } = alignTokens(["▁the", "▁cats"], ["Ġthe", "Ġcat", "s"]);
    expect(Array.from(firstAOfB)).toEqual([0, 1, 1]);
    expect(Array.from(firstBOfA)).toEqual([0, 1]);
  });

  it("pairs several source tokens with one pivot token", () => {
    const { firstAOfB, firstBOfA } = alignTokens([" the", " cat", "s"], [" the", " cats"]);
    expect(Array.from(firstAOfB)).toEqual([0, 1]);
    expect(Array.from(firstBOfA)).toEqual([0, 1, 1]);
  });
});

// The text " the cats" (9 bytes); pivot tokens " the" | " cat" | "s".
const pivot: PivotText = { ids: Int32Array.of(0, 1, 2), strings: [" the", " cat", "s"], end: Uint32Array.of(4, 8, 9) };
const vocabulary = new Map([[" the", 0], [" cat", 1], ["s", 2], [" dog", 3], ["x", 4]]);
const strings = [" the", " cats", " cat", " dog", "zzz"];
function source(top: [number, number][][], nats: number): SourceTopK {
  return {
    k: 2, strings, end: Uint32Array.of(4, 9), token: Uint32Array.of(0, 1), logprob: Float32Array.of(Math.log(0.5), Math.log(0.1)),
    topToken: Uint32Array.from(top.flat().map(([s]) => s)), topLogprob: Float32Array.from(top.flat().map(([, p]) => (p > 0 ? Math.log(p) : -Infinity))),
    nats, bytes: 9,
  };
}
// A: 1 bit per byte; B: 0.05·ln 3 bits per byte worse, so AvgCE weighs them 3 : 1.
const A = source([[[0, 0.5], [3, 0.25]], [[2, 0.6], [4, 0.3]]], 9 * Math.LN2);
const B = source([[[3, 0.8], [0, 0.1]], [[2, 0.2], [3, 0.1]]], 9 * Math.LN2 * (1 + 0.05 * Math.log(3)));

describe("source weights", () => {
  it("AvgCE weighs by exp(−bpb/τ), MinCE picks the lowest bpb, a missing source gets 0", () => {
    const avg = sourceWeights([A, undefined, B], "avg-ce");
    expect(avg[0]).toBeCloseTo(0.75, 9);
    expect(avg[1]).toBe(0);
    expect(avg[2]).toBeCloseTo(0.25, 9);
    expect(Array.from(sourceWeights([A, undefined, B], "min-ce"))).toEqual([1, 0, 0]);
  });

  it("multiplies in a prior (a ranking, the router's domain posterior)", () => {
    const avg = sourceWeights([A, A], "avg-ce", Float64Array.of(1, 3));
    expect(avg[0]).toBeCloseTo(0.25, 9);
    expect(Array.from(sourceWeights([A, B], "min-ce", Float64Array.of(1, 4)))).toEqual([0, 1]);
  });

  it("refuses a text no source scored", () => {
    expect(() => sourceWeights([undefined], "avg-ce")).toThrow(/no source/);
  });
});

describe("aligned target (FuseLLM)", () => {
  const alignment = alignTokens([" the", " cats"], pivot.strings);

  it("maps one source's distribution by token text; a pivot token after its source token's first takes the gold token", () => {
    const t = alignedTarget(pivot, [A], [alignment], vocabulary, 2, Float64Array.of(1));
    expect(Array.from(t.ids)).toEqual([0, 3, 1, -1, 2, -1]);
    expect(Array.from(t.probs).map((p) => +p.toFixed(6))).toEqual([0.5, 0.25, 0.6, 0, 1, 0]);
  });

  it("mixes sources with their weights and keeps the k most probable (AvgCE)", () => {
    const t = alignedTarget(pivot, [A, B], [alignment, alignment], vocabulary, 2, Float64Array.of(0.75, 0.25));
    // " the": .75·.5 + .25·.1 = .4; " dog": .75·.25 + .25·.8 = .3875; " cat": .75·.6 + .25·.2 = .5; " dog" .25·.1.
    expect(Array.from(t.ids)).toEqual([0, 3, 1, 3, 2, -1]);
    expect(Array.from(t.probs).map((p) => +p.toFixed(6))).toEqual([0.4, 0.3875, 0.5, 0.025, 1, 0]);
  });
});

describe("uld target (InfiFusion)", () => {
  it("takes each source's sorted probabilities at the position covering the pivot token's first byte", () => {
    const t = uldTarget(pivot, [A, undefined, B], 3, Float64Array.of(0.75, 0, 0.25));
    const rows = Array.from({ length: 9 }, (_, r) => Array.from(t.sorted.subarray(r * 3, r * 3 + 3)).map((p) => +p.toFixed(6)));
    expect(rows).toEqual([
      [0.5, 0.25, 0], [0.6, 0.3, 0], [0.6, 0.3, 0],
      [0, 0, 0], [0, 0, 0], [0, 0, 0],
      [0.8, 0.1, 0], [0.2, 0.1, 0], [0.2, 0.1, 0],
    ]);
    expect(Array.from(t.weights)).toEqual([0.75, 0, 0.25]);
  });

  it("maps a pivot token starting inside a split character to the source token with the empty span there", () => {
    // Source tokens: "ab" [0,2), first byte of "é" (empty span at 2), "é" [2,4), "c" [4,5).
    const split: SourceTopK = {
      k: 1, strings: ["a", "b", "c"], end: Uint32Array.of(2, 2, 4, 5), token: Uint32Array.of(0, 0, 0, 0), logprob: new Float32Array(4),
      topToken: Uint32Array.of(0, 1, 2, EMPTY), topLogprob: Float32Array.of(Math.log(0.1), Math.log(0.2), Math.log(0.3), -Infinity), nats: 1, bytes: 5,
    };
    const piv: PivotText = { ids: Int32Array.of(0, 1, 2), strings: ["ab", "é", "c"], end: Uint32Array.of(2, 4, 5) };
    const t = uldTarget(piv, [split], 1, Float64Array.of(1));
    expect(Array.from(t.sorted).map((p) => +p.toFixed(6))).toEqual([0.1, 0.2, 0]);
  });
});

describe("router priors", () => {
  it("weigh each text's sources by the router's utility for it", () => {
    const items = [
      ...["the court ruled on the contract", "a statute and the judge", "the defendant appealed the verdict"].map((text, i) => ({ id: `law${i}`, text, domain: "law", scores: { lawyer: 1, doctor: 0 } })),
      ...["the patient had a fever", "the surgeon treated the wound", "a drug for the infection"].map((text, i) => ({ id: `med${i}`, text, domain: "medicine", scores: { lawyer: 0, doctor: 1 } })),
    ];
    const router = new Router(items, { experts: ["lawyer", "doctor"], k: 3 });
    const priors = routerPriors(router, ["doctor", "lawyer"]);
    const law = priors(0, "the judge read the contract");
    const medicine = priors(1, "the fever of the patient");
    expect(law[0] + law[1]).toBeCloseTo(1, 12);
    expect(law[1]).toBeGreaterThan(law[0]);
    expect(medicine[0]).toBeGreaterThan(medicine[1]);
    // Through the weights: the law text's AvgCE weights favour the lawyer at equal cross-entropy.
    expect(sourceWeights([A, A], "avg-ce", law)[1]).toBeGreaterThan(0.5);
    expect(() => routerPriors(router, ["chef"])).toThrow(/knows no expert 'chef'/);
  });
});

describe("ranking priors", () => {
  it("weigh sources by their standardised ability in the text's domain", () => {
    const ranking = {
      domains: ["law", "medicine"],
      models: [
        { model: "lawyer", domains: { law: { ability: 2 }, medicine: { ability: -1 } } },
        { model: "doctor", domains: { law: { ability: 0 }, medicine: { ability: 1 } } },
      ],
    } as unknown as Ranking;
    const domains = ["law", "medicine", "cooking"];
    const priors = rankingPriors(ranking, ["lawyer", "doctor"], (i) => domains[i]);
    // Standardised abilities are ±1 in each domain: softmax(±1) = e/(e + 1/e).
    const high = Math.E / (Math.E + 1 / Math.E);
    expect(priors(0, "")[0]).toBeCloseTo(high, 12);
    expect(priors(1, "")[1]).toBeCloseTo(high, 12);
    expect(Array.from(priors(2, ""))).toEqual([0.5, 0.5]);
    expect(() => rankingPriors(ranking, ["chef"], () => "law")).toThrow(/no model 'chef'/);
  });
});
