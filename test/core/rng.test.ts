import { describe, expect, it } from "vitest";
import { Rng, seedFromLabel } from "../../src/core/rng.js";

describe("Rng.below", () => {
  it("draws every value of [0, n) about equally often, and nothing outside", () => {
    const rng = new Rng(7);
    const n = 7;
    const counts = new Array<number>(n).fill(0);
    const draws = 70_000;
    for (let k = 0; k < draws; k++) {
      const x = rng.below(n);
      expect(Number.isInteger(x) && x >= 0 && x < n).toBe(true);
      counts[x]++;
    }
    // 10,000 expected per value; 5 standard deviations is about ±470.
    for (const c of counts) expect(Math.abs(c - draws / n)).toBeLessThan(500);
  });

  it("is deterministic per seed and covers large ranges", () => {
    const a = new Rng(3);
    const b = new Rng(3);
    const n = 1_500_000;
    let max = 0;
    for (let k = 0; k < 10_000; k++) {
      const x = a.below(n);
      expect(b.below(n)).toBe(x);
      max = Math.max(max, x);
    }
    expect(max).toBeGreaterThan(n * 0.99);
    expect(max).toBeLessThan(n);
    expect(new Rng(1).below(1)).toBe(0);
  });
});

describe("seedFromLabel", () => {
  it("is the label's SHA-256 first 32 bits, little-endian (the zoo's committed pairs and pivots were drawn with it)", () => {
    expect(seedFromLabel("pivots/7/law")).toBe(1646051217);
    expect(seedFromLabel("pivots/7/law ")).not.toBe(1646051217);
  });
});
