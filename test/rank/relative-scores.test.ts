import { describe, expect, it } from "vitest";
import { relativeMatrix, relativeScores } from "../../src/rank/relative-scores.js";
import { buildResponseMatrix } from "../../src/rank/responses.js";
import { rankResults } from "../../src/rank/per-item.js";
import { Rng } from "../../src/core/rng.js";
import type { ItemResult } from "../../src/core/evidence.js";

describe("relative scores", () => {
  it("rescales each item's scores to [0, 1] across models and leaves ties alone", () => {
    const out = relativeScores([
      { model: "a", item: "x", score: 0.2, domain: "d" },
      { model: "b", item: "x", score: 0.25, domain: "d" },
      { model: "c", item: "x", score: 0.22, domain: "d" },
      { model: "a", item: "y", score: 1, domain: "d" },
      { model: "b", item: "y", score: 1, domain: "d" },
    ]);
    expect(out.map((r) => r.score)).toEqual([0, 1, expect.closeTo(0.4, 10), 1, 1]);
  });

  it("rescales a response matrix the same way, leaving the input untouched", () => {
    const results: ItemResult[] = [
      { model: "a", item: "x", score: 0.2, domain: "d" },
      { model: "b", item: "x", score: 0.25, domain: "d" },
      { model: "c", item: "x", score: 0.22, domain: "d" },
      { model: "a", item: "y", score: 1, domain: "d" },
      { model: "b", item: "y", score: 1, domain: "d" },
    ];
    const matrix = buildResponseMatrix(results);
    const before = Float32Array.from(matrix.score);
    const scaled = relativeMatrix(matrix);
    expect(matrix.score).toEqual(before);
    const expected = buildResponseMatrix(relativeScores(results)).score;
    scaled.score.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
  });

  it("lets the ranking see who is better on narrow-band continuous scores", () => {
    // Three models whose per-item scores differ by a few hundredths, plus item noise.
    const rng = new Rng(3);
    const results: ItemResult[] = [];
    for (let i = 0; i < 60; i++) {
      const base = 0.15 + 0.1 * rng.next();
      for (const [model, edge] of [["weak", 0], ["mid", 0.01], ["strong", 0.02]] as const) {
        results.push({ model, item: `i${i}`, domain: "d", score: base + edge + 0.004 * rng.normal() });
      }
    }
    const order = (rs: ItemResult[]) => rankResults(rs).ranking.models.map((m) => m.model);
    expect(order(relativeScores(results))).toEqual(["strong", "mid", "weak"]);
  });
});
