import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import type { Comparison } from "../../../src/core/evidence.js";
import { readBattles } from "../../../src/formats/battles.js";
import { parseCsvTable } from "../../../src/formats/csv.js";
import { countPairs } from "../../../src/rank/pairwise/counts.js";
import { fitBradleyTerry, toRating } from "../../../src/rank/pairwise/bradley-terry.js";
import { referenceFile } from "../../reference-data.js";

const LLMFAO = referenceFile("llmfao", "llmfao.csv");
const GOLDEN = referenceFile("llmfao", "llmfao-golden.csv");
import { simulateVotes } from "./simulate.js";

describe("fitBradleyTerry", () => {
  it.skipIf(!LLMFAO.available || !GOLDEN.available)(`reproduces the llmfao golden Bradley–Terry scores (ties as half a win) to 1e-6 relative error${LLMFAO.skipNote || GOLDEN.skipNote}`, async () => {
    // Golden: evalica's converged MLE, scores π_i / Σπ (llmfao-golden.csv, algorithm bradley_terry).
    const battles = await readBattles(LLMFAO.path);
    const counts = countPairs(battles.comparisons);
    const fit = fitBradleyTerry(counts);
    expect(fit.converged).toBe(true);
    const golden = parseCsvTable(readFileSync(GOLDEN.path, "utf8"), GOLDEN.path).rows
      .filter((r) => r.fields[0] === "bradley_terry")
      .map((r) => [r.fields[1], Number(r.fields[2])] as const);
    expect(golden.length).toBe(59);
    const pi = Array.from(fit.theta, Math.exp);
    const total = pi.reduce((s, x) => s + x, 0);
    for (const [model, score] of golden) {
      const k = counts.models.indexOf(model);
      expect(k, model).toBeGreaterThanOrEqual(0);
      expect(Math.abs(pi[k] / total - score) / score, model).toBeLessThan(1e-6);
    }
  });

  it("solves a two-model case in closed form: 3 wins to 1 gives a rating gap of 400·log10(3)", () => {
    const votes: Comparison[] = [
      { a: "x", b: "y", outcome: "a" },
      { a: "y", b: "x", outcome: "b" },
      { a: "x", b: "y", outcome: "tie" },
      { a: "x", b: "y", outcome: "tie" },
      { a: "y", b: "x", outcome: "a" },
    ];
    // x: 2 wins + 2 half-ties = 3; y: 1 win + 2 half-ties = 2.
    const fit = fitBradleyTerry(countPairs(votes));
    expect(toRating(fit.theta[0]) - toRating(fit.theta[1])).toBeCloseTo(400 * Math.log10(3 / 2), 9);
    expect(toRating(fit.theta[0]) + toRating(fit.theta[1])).toBeCloseTo(2000, 9);
  });

  it("recovers planted ratings from simulated votes", () => {
    const planted = { a: 1200, b: 1100, c: 1000, d: 950, e: 750 };
    const votes = simulateVotes(planted, 40000, 7);
    const counts = countPairs(votes);
    const fit = fitBradleyTerry(counts);
    const mean = Object.values(planted).reduce((s, x) => s + x, 0) / 5;
    counts.models.forEach((m, k) => {
      const expected = planted[m as keyof typeof planted] - mean + 1000;
      expect(Math.abs(toRating(fit.theta[k]) - expected), m).toBeLessThan(12);
    });
  });
});
