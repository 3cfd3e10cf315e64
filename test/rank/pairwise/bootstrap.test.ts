import { describe, expect, it } from "vitest";
import { Rng } from "../../../src/core/rng.js";
import { bootstrapStrengths } from "../../../src/rank/pairwise/bootstrap.js";
import { fitBradleyTerry } from "../../../src/rank/pairwise/bradley-terry.js";
import { cellsOf, countPairs, type PairCounts } from "../../../src/rank/pairwise/counts.js";
import { simulateVotes } from "./simulate.js";

describe("bootstrapStrengths", () => {
  it("resamples the battles: each round's cells have the counts of N battles drawn with replacement", () => {
    // Three models; cells (pair·3 + slot) hold 40, 25, 0 | 10, 0, 5 | 70, 30, 20 votes: N = 200.
    const counts: PairCounts = {
      models: ["a", "b", "c"],
      i: Int32Array.from([0, 0, 1]),
      j: Int32Array.from([1, 2, 2]),
      winsI: Float64Array.from([40, 10, 70]),
      winsJ: Float64Array.from([25, 0, 30]),
      ties: Float64Array.from([0, 5, 20]),
    };
    const observed = cellsOf(counts);
    const n = 200;
    const rounds = 20_000;
    const sum = new Float64Array(9);
    const sumSq = new Float64Array(9);
    let cross = 0; // cells 0 and 6, whose covariance under resampling is −n_0·n_6/N
    bootstrapStrengths(
      counts,
      (c) => {
        const cells = cellsOf(c);
        expect(cells.reduce((s, x) => s + x, 0)).toBe(n);
        expect([cells[2], cells[4]]).toEqual([0, 0]);
        for (let k = 0; k < 9; k++) {
          sum[k] += cells[k];
          sumSq[k] += cells[k] * cells[k];
        }
        cross += cells[0] * cells[6];
        return new Float64Array(3);
      },
      { rounds, seed: 1 },
    );
    for (let k = 0; k < 9; k++) {
      const mean = sum[k] / rounds;
      const variance = sumSq[k] / rounds - mean * mean;
      const p = observed[k] / n;
      // Per cell: Binomial(N, n_c/N), so mean n_c and variance n_c(1 − n_c/N).
      expect(Math.abs(mean - observed[k])).toBeLessThanOrEqual(5 * Math.sqrt((n * p * (1 - p)) / rounds));
      if (p > 0) expect(variance / (n * p * (1 - p))).toBeCloseTo(1, 1);
    }
    const covariance = cross / rounds - (sum[0] / rounds) * (sum[6] / rounds);
    expect(covariance / ((-observed[0] * observed[6]) / n)).toBeCloseTo(1, 1);
  });

  it("gives the spread of the textbook bootstrap that resamples battle by battle", () => {
    const votes = simulateVotes({ top: 1200, mid: 1050, low: 1000, bottom: 850 }, 3000, 9);
    const counts = countPairs(votes);
    const full = fitBradleyTerry(counts).theta;
    const rounds = 600;
    const fit = (c: PairCounts) => fitBradleyTerry(c, { start: full }).theta;
    const ours = bootstrapStrengths(counts, fit, { rounds, seed: 2 });
    // Independent: draw N battle indices with replacement, recount, refit.
    const rng = new Rng(3);
    const textbook = new Float64Array(rounds * 4);
    for (let r = 0; r < rounds; r++) {
      const sample = Array.from({ length: votes.length }, () => votes[rng.int(votes.length)]);
      const c = countPairs(sample);
      // countPairs numbers models in order of first appearance: map back to the full data's order.
      const theta = fit(c);
      c.models.forEach((name, k) => (textbook[r * 4 + counts.models.indexOf(name)] = theta[k]));
    }
    const sd = (x: Float64Array, k: number) => {
      let mean = 0;
      for (let r = 0; r < rounds; r++) mean += x[r * 4 + k] / rounds;
      let s = 0;
      for (let r = 0; r < rounds; r++) s += (x[r * 4 + k] - mean) ** 2;
      return Math.sqrt(s / (rounds - 1));
    };
    for (let k = 0; k < 4; k++) {
      // 600 rounds estimate a standard deviation to about ±3% (1 SE): allow 5 SE.
      expect(sd(ours, k) / sd(textbook, k)).toBeGreaterThan(0.85);
      expect(sd(ours, k) / sd(textbook, k)).toBeLessThan(1.15);
    }
  });

  it("is deterministic for a seed", () => {
    const counts = countPairs(simulateVotes({ x: 1100, y: 1000, z: 900 }, 500, 4));
    const fit = (c: PairCounts) => fitBradleyTerry(c).theta;
    expect(bootstrapStrengths(counts, fit, { rounds: 5, seed: 7 })).toEqual(bootstrapStrengths(counts, fit, { rounds: 5, seed: 7 }));
    expect(bootstrapStrengths(counts, fit, { rounds: 5, seed: 7 })).not.toEqual(bootstrapStrengths(counts, fit, { rounds: 5, seed: 8 }));
  });
});
