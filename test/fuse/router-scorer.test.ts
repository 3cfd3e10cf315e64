import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { answerFormatFeatures, ANSWER_FORMAT_FEATURES, splitOptions } from "../../src/fuse/router/answer-format.js";
import { CorrectnessScorer, fitLogistic, type CorrectnessExample } from "../../src/fuse/router/correctness.js";
import type { LabelledItem } from "../../src/fuse/router/knn.js";
import { Router } from "../../src/fuse/router/router.js";
import { StackedRouter } from "../../src/fuse/router/stacked-router.js";

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

describe("answer format", () => {
  it("splits the trailing run of lettered lines from the question", () => {
    const text = "Which is larger?\nA. this line is part of the question\nThen more question.\nA. 12 kg\nB. 7 kg\nC) nine";
    expect(splitOptions(text)).toEqual({ question: "Which is larger?\nA. this line is part of the question\nThen more question.", options: ["12 kg", "7 kg", "nine"] });
    expect(splitOptions("no options here")).toEqual({ question: "no options here", options: [] });
    // A run that does not start at A is not a list of options.
    expect(splitOptions("question\nB. one\nC. two").options).toEqual([]);
  });

  it("counts numeric options and question digits", () => {
    const f = answerFormatFeatures("Compute 2 + 2?\nA. 4\nB. 5 apples\nC. none of these");
    expect(f.length).toBe(ANSWER_FORMAT_FEATURES.length);
    expect(f[2]).toBeCloseTo(0.3);
    expect(f[3]).toBeCloseTo(2 / 3);
    expect(f[1]).toBeCloseTo(2 / "Compute 2 + 2?".length);
    expect(f[6]).toBe(1);
    expect(answerFormatFeatures("plain text")[3]).toBe(0);
  });
});

describe("fitLogistic", () => {
  it("recovers planted weights", () => {
    const rng = new Rng(3);
    const rows: Float64Array[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 4000; i++) {
      const x = Float64Array.from([rng.normal(), rng.normal(), 1]);
      rows.push(x);
      labels.push(rng.next() < sigmoid(2 * x[0] - x[1] + 0.5) ? 1 : 0);
    }
    const w = fitLogistic(rows, labels, 1e-4);
    expect(w[0]).toBeGreaterThan(1.7);
    expect(w[0]).toBeLessThan(2.3);
    expect(w[1]).toBeGreaterThan(-1.3);
    expect(w[1]).toBeLessThan(-0.7);
    expect(w[2]).toBeGreaterThan(0.3);
    expect(w[2]).toBeLessThan(0.7);
  });
});

/** Two experts; expert 0 is right when its first feature is high, expert 1 otherwise; a second feature is noise. */
function planted(n: number, seed: number): CorrectnessExample[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const signal = rng.next() < 0.5 ? 1 : 0;
    const noise = rng.normal();
    const right0 = rng.next() < (signal ? 0.9 : 0.2) ? 1 : 0;
    const right1 = rng.next() < (signal ? 0.3 : 0.8) ? 1 : 0;
    return { features: [Float64Array.from([signal, noise]), Float64Array.from([signal, rng.normal()])], scores: [right0, right1] };
  });
}

describe("CorrectnessScorer", () => {
  it("learns a planted per-expert signal and routes held-out items by it", () => {
    const scorer = CorrectnessScorer.fit(planted(600, 1), { seed: 5 });
    expect(scorer.crossValidation.map((c) => c.l2)).toEqual([1, 0.3, 0.1, 0.03, 0.01]);
    expect(scorer.crossValidation.find((c) => c.l2 === scorer.l2)!.value).toBe(Math.max(...scorer.crossValidation.map((c) => c.value)));
    let right = 0;
    const test = planted(400, 2);
    for (const example of test) {
      const logits = scorer.logits(example.features);
      const chosen = logits[0] > logits[1] ? 0 : 1;
      if (chosen === (example.features[0][0] === 1 ? 0 : 1)) right++;
    }
    expect(right).toBe(test.length);
  });

  it("is deterministic for a seed and skips missing scores", () => {
    const examples = planted(200, 4).map((e, i) => (i % 7 === 0 ? { ...e, scores: [e.scores[0], undefined] } : e));
    const a = CorrectnessScorer.fit(examples, { seed: 9 });
    const b = CorrectnessScorer.fit(examples, { seed: 9 });
    expect([...a.logits(examples[0].features)]).toEqual([...b.logits(examples[0].features)]);
    expect(a.crossValidation).toEqual(b.crossValidation);
  });

  it("names every problem of bad input at once", () => {
    const good = planted(10, 1);
    expect(() => CorrectnessScorer.fit([])).toThrow(ConfigError);
    const bad: CorrectnessExample[] = [
      ...good,
      { features: [Float64Array.from([1, NaN]), Float64Array.from([0, 0])], scores: [1, 0] },
      { features: [Float64Array.from([1, 0]), Float64Array.from([0, 0])], scores: [1.5, 0] },
      { features: [Float64Array.from([1]), Float64Array.from([0, 0])], scores: [1, 0] },
    ];
    let error: unknown;
    try {
      CorrectnessScorer.fit(bad, { l2: [-1], folds: 1 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const part of ["l2", "folds", "example 10, expert 0: a feature is not a finite number", "example 11, expert 0: score 1.5", "example 12, expert 0: 1 features"]) expect(message).toContain(part);
    const scorer = CorrectnessScorer.fit(good);
    expect(() => scorer.logits([Float64Array.from([1, 2])])).toThrow(/1 feature vectors for 2 experts/);
    expect(() => CorrectnessScorer.fit(good.map((e) => ({ ...e, scores: [e.scores[0], undefined] })))).toThrow(/expert 1 has no score/);
  });
});

describe("StackedRouter", () => {
  // The question texts say nothing about who is right (random words from one vocabulary); the
  // options do: "calc" gets the numeric ones right, "prose" the worded ones.
  const vocabulary = "alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega rho".split(" ");
  function items(n: number, seed: number): LabelledItem[] {
    const rng = new Rng(seed);
    return Array.from({ length: n }, (_, i) => {
      const words = Array.from({ length: 8 }, () => vocabulary[rng.below(vocabulary.length)]).join(" ");
      const numeric = rng.next() < 0.5;
      const options = numeric ? ["12", "7.5", "-3", "40"] : ["the first one", "a second", "neither", "all of them"];
      const text = [`${words}?`, ...options.map((o, j) => `${String.fromCharCode(65 + j)}. ${o}`)].join("\n");
      const calc = rng.next() < (numeric ? 0.85 : 0.25) ? 1 : 0;
      const prose = rng.next() < (numeric ? 0.3 : 0.8) ? 1 : 0;
      return { id: `q${seed}-${i}`, text, domain: "mixed", scores: { calc, prose } };
    });
  }

  it("routes by what the answer format says when the text alone cannot", () => {
    const evidence = items(400, 1);
    const stacked = new StackedRouter(evidence, { experts: ["calc", "prose"], neighbourCounts: [8, 32], scorer: { seed: 2 } });
    // The kNN router on the question alone (the stacked router's kNN sees no more) is at chance.
    const questionOnly = (text: string) => splitOptions(text).question;
    const plain = new Router(evidence.map((item) => ({ ...item, text: questionOnly(item.text) })), { experts: ["calc", "prose"] });
    const test = items(100, 2);
    const expected = (item: LabelledItem) => (/\nA\. 12/.test(item.text) ? "calc" : "prose");
    const stackedRight = test.filter((item) => stacked.route(item.text).ranked[0].expert === expected(item)).length;
    const plainRight = test.filter((item) => plain.route(questionOnly(item.text)).ranked[0].expert === expected(item)).length;
    expect(stackedRight).toBe(test.length);
    expect(plainRight).toBeLessThan(80);
    const decision = stacked.route(test[0].text);
    expect(decision.ranked.map((r) => r.expert).sort()).toEqual(["calc", "prose"]);
    expect(decision.confidence).toBeGreaterThan(0);
    expect(decision.confidence).toBeLessThan(1);
  });

  it("rejects bad options", () => {
    expect(() => new StackedRouter(items(20, 1), { experts: ["calc", "prose"], neighbourCounts: [], trainingItems: 1 })).toThrow(/neighbourCounts[\s\S]*trainingItems/);
    expect(() => new StackedRouter(items(20, 1), { experts: [] })).toThrow(ConfigError);
  });
});
