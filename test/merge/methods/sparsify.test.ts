import { describe, expect, it } from "vitest";
import { Rng } from "../../../src/core/rng.js";
import { sparsify } from "../../../src/merge/methods/sparsify.js";
import { topKMask } from "../../../src/merge/methods/topk.js";

function vec(seed: number, n: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}
const l1 = (v: Float32Array) => v.reduce((s, x) => s + Math.abs(x), 0);
const kept = (v: Float32Array) => v.reduce((s, x) => s + (x !== 0 ? 1 : 0), 0);

describe("topKMask", () => {
  it("keeps exactly k entries of largest magnitude, ties by lowest index", () => {
    const x = Float32Array.from([1, -3, 2, 3, 0, -2, 3]);
    expect(Array.from(topKMask(x, 2))).toEqual([0, 1, 0, 1, 0, 0, 0]);
    expect(Array.from(topKMask(x, 4))).toEqual([0, 1, 1, 1, 0, 0, 1]);
    expect(Array.from(topKMask(x, 0))).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(topKMask(x, 9))).toEqual([1, 1, 1, 1, 1, 1, 1]);
  });
  it("agrees with a full sort on random data", () => {
    const x = vec(5, 5000);
    const order = Array.from(x.keys()).sort((a, b) => Math.abs(x[b]) - Math.abs(x[a]) || a - b);
    const mask = topKMask(x, 1234);
    const expected = new Uint8Array(5000);
    for (const i of order.slice(0, 1234)) expected[i] = 1;
    expect(mask).toEqual(expected);
  });
});

describe("DARE (random) sparsification, statistically over many seeds", () => {
  const d = vec(1, 2000);
  const density = 0.3;
  const runs = Array.from({ length: 200 }, (_, s) => sparsify(d, "random", { density, rescale: true, rng: new Rng(1000 + s) }));

  it("keeps a density fraction of entries (within 4 standard errors)", () => {
    const fractions = runs.map((r) => kept(r) / d.length);
    const mean = fractions.reduce((a, b) => a + b, 0) / fractions.length;
    const se = Math.sqrt((density * (1 - density)) / d.length / fractions.length);
    expect(Math.abs(mean - density)).toBeLessThan(4 * se);
  });

  it("with rescale preserves the L1 norm exactly; kept entries are the originals scaled", () => {
    for (const r of runs.slice(0, 20)) expect(l1(r) / l1(d)).toBeCloseTo(1, 5);
  });

  it("without rescale, kept entries equal the original values", () => {
    const r = sparsify(d, "random", { density, rescale: false, rng: new Rng(3) });
    for (let i = 0; i < d.length; i++) expect(r[i] === 0 || r[i] === d[i]).toBe(true);
  });

  it("without rescale, E[L1] = density·L1 (within 3%)", () => {
    const r = runs.map((_, s) => sparsify(d, "random", { density, rescale: false, rng: new Rng(700 + s) }));
    const mean = r.reduce((s, v) => s + l1(v), 0) / r.length;
    expect(Math.abs(mean / (density * l1(d)) - 1)).toBeLessThan(0.03);
  });

  it("the same seed gives the same mask; another seed a different one", () => {
    const a = sparsify(d, "random", { density, rescale: true, rng: new Rng(9) });
    const b = sparsify(d, "random", { density, rescale: true, rng: new Rng(9) });
    const c = sparsify(d, "random", { density, rescale: true, rng: new Rng(10) });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
});

describe("DELLA sparsification", () => {
  const rows = 20;
  const cols = 100;
  const d = vec(2, rows * cols);
  const density = 0.4;
  const epsilon = 0.2;
  const runs = Array.from({ length: 200 }, (_, s) => sparsify(d, "della", { density, epsilon, rescale: true, rowLength: cols, rng: new Rng(500 + s) }));

  it("keeps density on average, with keep probability rising with magnitude rank in each row", () => {
    const keptCount = new Float64Array(d.length);
    for (const r of runs) for (let i = 0; i < r.length; i++) if (r[i] !== 0) keptCount[i]++;
    const total = keptCount.reduce((a, b) => a + b, 0) / runs.length / d.length;
    expect(Math.abs(total - density)).toBeLessThan(0.01);
    // In each row the smallest-|d| entry is kept with p ≈ density − ε, the largest with ≈ density + ε.
    let smallest = 0;
    let largest = 0;
    for (let r = 0; r < rows; r++) {
      const row = Array.from({ length: cols }, (_, j) => r * cols + j).sort((a, b) => Math.abs(d[a]) - Math.abs(d[b]));
      smallest += keptCount[row[0]] / runs.length;
      largest += keptCount[row[cols - 1]] / runs.length;
    }
    expect(smallest / rows).toBeGreaterThan(density - epsilon - 0.05);
    expect(smallest / rows).toBeLessThan(density - epsilon + 0.05);
    expect(largest / rows).toBeGreaterThan(density + epsilon - 0.05);
    expect(largest / rows).toBeLessThan(density + epsilon + 0.05);
  });

  it("rescale preserves the L1 norm", () => {
    for (const r of runs.slice(0, 20)) expect(l1(r) / l1(d)).toBeCloseTo(1, 5);
  });

  it("without rescale, E[L1] = Σ p_i·|d_i| with p_i from the rank (within 3%)", () => {
    let expected = 0;
    for (let r = 0; r < rows; r++) {
      const row = Array.from({ length: cols }, (_, j) => r * cols + j).sort((a, b) => Math.abs(d[a]) - Math.abs(d[b]));
      row.forEach((i, rank) => (expected += Math.abs(d[i]) * (density - epsilon + (rank / (cols - 1)) * 2 * epsilon)));
    }
    const r = runs.map((_, s) => sparsify(d, "della", { density, epsilon, rescale: false, rowLength: cols, rng: new Rng(900 + s) }));
    const mean = r.reduce((s, v) => s + l1(v), 0) / r.length;
    expect(Math.abs(mean / expected - 1)).toBeLessThan(0.03);
  });
});
