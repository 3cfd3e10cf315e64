import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import type { LabelledItem } from "../../src/fuse/router/knn.js";
import { MfRouter } from "../../src/fuse/router/mf-router.js";
import { MfScorer } from "../../src/fuse/router/mf-scorer.js";
import { Router } from "../../src/fuse/router/router.js";

/**
 * Constructed evidence where only other models' results link a question's words to who gets it
 * right. Questions are "calc" or "recall", each written with words of its kind; every kind has
 * two disjoint word sets (1 and 2). Two outside models ("m-calc", "m-recall") were run on many
 * questions written with both sets; the pool ("x" good at calc, "y" at recall) only on questions
 * written with set 1. Test questions use set 2 alone: no pool-scored question shares a word with
 * them, so a vote of textual neighbours has nothing to go on, while the outside models' results
 * taught the shared text map that set-2 words mean the same as set-1 words.
 */
const rng = new Rng(7);
const word = () => Array.from({ length: 7 }, () => String.fromCharCode(97 + rng.below(26))).join("");
const words = { calc: [Array.from({ length: 10 }, word), Array.from({ length: 10 }, word)], recall: [Array.from({ length: 10 }, word), Array.from({ length: 10 }, word)] };

function question(r: Rng, kind: "calc" | "recall", sets: readonly number[]): string {
  return Array.from({ length: 4 }, () => {
    const set = words[kind][sets[r.below(sets.length)]];
    return set[r.below(set.length)];
  }).join(" ");
}

function evidence(seed: number): LabelledItem[] {
  const r = new Rng(seed);
  const right = (p: number) => (r.next() < p ? 1 : 0);
  const items: LabelledItem[] = [];
  for (let i = 0; i < 400; i++) {
    const kind = i % 2 === 0 ? "calc" : "recall";
    const calc = kind === "calc";
    items.push({ id: `o${i}`, text: question(r, kind, [0, 1]), domain: "mixed", scores: { "m-calc": right(calc ? 0.9 : 0.15), "m-recall": right(calc ? 0.15 : 0.9) } });
  }
  for (let i = 0; i < 120; i++) {
    const kind = i % 2 === 0 ? "calc" : "recall";
    const calc = kind === "calc";
    items.push({ id: `p${i}`, text: question(r, kind, [0]), domain: "mixed", scores: { x: right(calc ? 0.9 : 0.15), y: right(calc ? 0.15 : 0.9), "m-calc": right(calc ? 0.9 : 0.15), "m-recall": right(calc ? 0.15 : 0.9) } });
  }
  return items;
}

const test = (() => {
  const r = new Rng(11);
  return Array.from({ length: 100 }, (_, i) => {
    const kind = i % 2 === 0 ? ("calc" as const) : ("recall" as const);
    return { text: question(r, kind, [1]), expected: kind === "calc" ? "x" : "y" };
  });
})();

const argmaxOf = (x: Float64Array) => x.indexOf(Math.max(...x));

describe("MfScorer", () => {
  it("learns from other models' results what a text-only vote of the pool's evidence cannot see", () => {
    const items = evidence(1);
    const scorer = MfScorer.fit(items, { seed: 3, epochs: 30, learningRate: 0.3 });
    expect(scorer.models).toEqual(["m-calc", "m-recall", "x", "y"]);
    const mfRight = test.filter((q) => ["x", "y"][argmaxOf(scorer.logits(q.text, ["x", "y"]))] === q.expected).length;
    const knn = new Router(items, { experts: ["x", "y"] });
    const knnRight = test.filter((q) => knn.route(q.text).ranked[0].expert === q.expected).length;
    expect(mfRight).toBeGreaterThanOrEqual(90);
    expect(knnRight).toBeLessThanOrEqual(60);
  });

  it("trains deterministically per seed", () => {
    const items = evidence(2).slice(0, 200);
    const a = MfScorer.fit(items, { seed: 5 });
    const b = MfScorer.fit(items, { seed: 5 });
    const c = MfScorer.fit(items, { seed: 6 });
    for (const q of test.slice(0, 10)) expect(a.logits(q.text)).toEqual(b.logits(q.text));
    expect(test.slice(0, 10).some((q) => a.logits(q.text).some((v, i) => v !== c.logits(q.text)[i]))).toBe(true);
  });

  it("names every bad input at once", () => {
    expect(() => MfScorer.fit([])).toThrow(ConfigError);
    try {
      MfScorer.fit([{ text: "a", scores: { m: 1.5 } }, { text: "b", scores: { m: Number.NaN } }], { dimensions: 0, epochs: 1.5, learningRate: -1 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems.join("\n");
      for (const part of ["item 0: score of m is 1.5", "item 1: score of m is NaN", "dimensions", "epochs", "learningRate"]) expect(problems).toContain(part);
    }
    const scorer = MfScorer.fit([{ text: "a b c", scores: { m: 1 } }]);
    expect(() => scorer.logits("a", ["m", "nobody"])).toThrow(/no results were fitted for nobody/);
  });
});

describe("MfRouter", () => {
  it("chooses the blend on held-out evidence and routes by it where the vote alone cannot", () => {
    const items = evidence(1);
    const router = new MfRouter(items, { experts: ["x", "y"], mf: { epochs: 30, learningRate: 0.3 }, seed: 4, minimumGain: 0 });
    // Every setting tried is reported, and the chosen one is the best cross-validated value.
    expect(router.crossValidation).toHaveLength(2 * 5);
    expect(router.chosen.value).toBe(Math.max(...router.crossValidation.map((c) => c.value)));
    const decision = router.route(test[0].text);
    expect(decision.ranked.map((r) => r.expert).sort()).toEqual(["x", "y"]);
    expect(decision.confidence).toBeGreaterThan(0);
    expect(decision.confidence).toBeLessThan(1);
    // On held-out pool-scored questions the MF scorer adds what the vote misses, so the blend is
    // chosen, and it carries to questions whose words no pool-scored question has.
    expect(router.chosen.weight).toBeGreaterThan(0);
    expect(router.scorer).toBeDefined();
    expect(test.filter((q) => router.route(q.text).ranked[0].expert === q.expected).length).toBeGreaterThanOrEqual(90);
  });

  it("keeps the kNN vote alone when a blend's held-out gain is within noise", () => {
    // The held-out pool questions share words with other pool questions, so the vote gets them
    // about as right as the blend does there: a gain of 2 items in 120, under 2 standard errors.
    const items = evidence(1);
    const router = new MfRouter(items, { experts: ["x", "y"], mf: { epochs: 30, learningRate: 0.3 }, seed: 4 });
    const best = router.crossValidation.reduce((a, b) => (b.value > a.value ? b : a));
    expect(best.weight).toBeGreaterThan(0);
    expect(best.gain).toBeLessThan(2 * best.standardError);
    expect(router.chosen.weight).toBe(0);
    expect(router.scorer).toBeUndefined();
    const knn = new Router(items, { experts: ["x", "y"] });
    for (const q of test.slice(0, 20)) expect(router.route(q.text).ranked[0].expert).toBe(knn.route(q.text).ranked[0].expert);
  });

  it("is the kNN router alone when the only weight allowed is 0", () => {
    const items = evidence(2);
    const router = new MfRouter(items, { experts: ["x", "y"], blendWeights: [0], penalties: [1e-3], seed: 1 });
    const knn = new Router(items, { experts: ["x", "y"] });
    expect(router.scorer).toBeUndefined();
    for (const q of test.slice(0, 20)) expect(router.route(q.text).ranked[0].expert).toBe(knn.route(q.text).ranked[0].expert);
  });

  it("names every bad option at once", () => {
    try {
      new MfRouter(evidence(1), { experts: ["x", "y"], folds: 1, blendWeights: [2], penalties: [], validationItems: 0, seed: 0.5, minimumGain: -1 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems.join("\n");
      for (const part of ["penalties", "blendWeights", "folds", "validationItems", "seed", "minimumGain"]) expect(problems).toContain(part);
    }
  });
});
