import { describe, expect, it } from "vitest";
import { fitIrt } from "../../src/rank/irt.js";
import { buildResponseMatrix } from "../../src/rank/responses.js";
import { simulate, spearman } from "./simulate.js";

describe("fitIrt", () => {
  it("recovers planted abilities and difficulties (Spearman ≥ 0.95) with 20% missing", () => {
    const sim = simulate({ models: 200, domainSizes: [400], seed: 7, missing: 0.2 });
    const matrix = buildResponseMatrix(sim.results);
    const fit = fitIrt(matrix);
    expect(fit.converged).toBe(true);
    const trueTheta = matrix.models.map((m) => sim.theta[0][sim.models.indexOf(m)]);
    expect(spearman(fit.theta, trueTheta)).toBeGreaterThanOrEqual(0.95);
    const informative = [...fit.informative.keys()].filter((i) => fit.informative[i]);
    expect(informative.length).toBeGreaterThan(380);
    const trueB = informative.map((i) => sim.b[Number(matrix.items[i].split("-q")[1])]);
    expect(spearman(informative.map((i) => fit.b[i]), trueB)).toBeGreaterThanOrEqual(0.95);
    const trueA = informative.map((i) => sim.a[Number(matrix.items[i].split("-q")[1])]);
    expect(spearman(informative.map((i) => fit.a[i]), trueA)).toBeGreaterThanOrEqual(0.75);
    // Standardised scale.
    const mean = fit.theta.reduce((s, t) => s + t, 0) / fit.theta.length;
    expect(Math.abs(mean)).toBeLessThan(1e-9);
    // Standard errors shrink with more responses: about 1/√(Σ a²P(1−P)) ≈ 1/√(320·0.2).
    for (const se of fit.thetaSe) {
      expect(se).toBeGreaterThan(0.05);
      expect(se).toBeLessThan(0.5);
    }
  });

  it("gives the same abilities when every item is duplicated (the ability prior scales with the data)", () => {
    const sim = simulate({ models: 30, domainSizes: [150], seed: 3, missing: 0.1 });
    const once = fitIrt(buildResponseMatrix(sim.results));
    const twice = fitIrt(buildResponseMatrix([...sim.results, ...sim.results.map((r) => ({ ...r, item: r.item + "-copy" }))]));
    for (let m = 0; m < once.theta.length; m++) expect(twice.theta[m]).toBeCloseTo(once.theta[m], 5);
  });

  it("leaves out items that every model gets right, and detects a reversed answer key", () => {
    const sim = simulate({ models: 40, domainSizes: [200], seed: 5 });
    const extra = sim.models.map((model) => ({ model, item: "easy", domain: "domain-0", score: 1 }));
    // Item d0-q0 with its key reversed: good models now get it wrong.
    const flipped = sim.results.map((r) => (r.item === "d0-q0" ? { ...r, score: 1 - r.score } : r));
    const base = fitIrt(buildResponseMatrix(sim.results));
    const fit = fitIrt(buildResponseMatrix([...flipped, ...extra]));
    const matrix = buildResponseMatrix([...flipped, ...extra]);
    const easy = matrix.items.indexOf("easy");
    expect(fit.informative[easy]).toBe(0);
    expect(Number.isNaN(fit.a[easy])).toBe(true);
    expect(fit.a[matrix.items.indexOf("d0-q0")]).toBeLessThan(0);
    expect(base.a[0]).toBeGreaterThan(0);
  });
});
