import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { parseResultsCsv } from "../../src/formats/results.js";
import { findAnchors, fullScores, predictScores, selectAnchors } from "../../src/rank/anchors.js";
import { buildResponseMatrix } from "../../src/rank/responses.js";
import { fixtureFile } from "../reference-data.js";

// ChemBench × 22 models, the committed excerpt of every fifth item (571 items).
const CHEMBENCH = fixtureFile("chembench", "binary_matrix-every-5th-item.csv");

describe("anchor items", () => {
  const matrix = buildResponseMatrix(parseResultsCsv(readFileSync(CHEMBENCH, "utf8"), CHEMBENCH));
  const truth = fullScores(matrix);

  it("predicts held-out models' ChemBench scores better than random items of the same number", () => {
    const k = 30;
    const report = selectAnchors(matrix, k, { seed: 1 });
    expect(report.anchors).toHaveLength(k);
    expect(report.folds).toBe(5);
    expect(report.anchors.reduce((s, a) => s + a.weight, 0)).toBeCloseTo(1, 10);
    // Reference: k random items, equal weights, scored on every model (no held-out penalty).
    let random = 0;
    for (let seed = 0; seed < 20; seed++) {
      const items = new Rng(seed).shuffle([...matrix.items.keys()]).slice(0, k);
      const predicted = predictScores(matrix, { items, weights: items.map(() => 1 / k) });
      random += predicted.reduce((s, p, m) => s + Math.abs(p - truth[m]), 0) / predicted.length / 20;
    }
    expect(report.heldOutMae).toBeLessThan(0.06);
    expect(report.heldOutMae).toBeLessThan(random * 0.85);
  });

  it("is deterministic for a seed, and exact when every item is an anchor", () => {
    expect(selectAnchors(matrix, 5, { seed: 3 })).toEqual(selectAnchors(matrix, 5, { seed: 3 }));
    const small = buildResponseMatrix([
      { model: "x", item: "1", score: 1, domain: "d" }, { model: "x", item: "2", score: 0, domain: "d" }, { model: "x", item: "3", score: 1, domain: "d" },
      { model: "y", item: "1", score: 0, domain: "d" }, { model: "y", item: "2", score: 0, domain: "d" }, { model: "y", item: "3", score: 1, domain: "d" },
    ]);
    const anchors = findAnchors(small, [0, 1], 3);
    const predicted = predictScores(small, anchors);
    expect(predicted[0]).toBeCloseTo(2 / 3, 12);
    expect(predicted[1]).toBeCloseTo(1 / 3, 12);
  });

  it("rejects a K that cannot work", () => {
    expect(() => selectAnchors(matrix, 0)).toThrow(/whole number/);
    expect(() => selectAnchors(matrix, 10_000)).toThrow(/more than the 571 items/);
  });
});
