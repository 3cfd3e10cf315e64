import { describe, expect, it } from "vitest";
import { binomial, logFactorial, multinomial } from "../../src/core/binomial.js";
import { Rng } from "../../src/core/rng.js";

/** ln k! for k = 0..n by summing logs (independent of the sampler's table and series). */
function logFactorials(n: number): Float64Array {
  const out = new Float64Array(n + 1);
  for (let k = 2; k <= n; k++) out[k] = out[k - 1] + Math.log(k);
  return out;
}

/** Exact Binomial(n, p) probabilities. */
function pmf(n: number, p: number): Float64Array {
  const lf = logFactorials(n);
  return Float64Array.from({ length: n + 1 }, (_, k) => Math.exp(lf[n] - lf[k] - lf[n - k] + k * Math.log(p) + (n - k) * Math.log1p(-p)));
}

/**
 * Pearson's χ² of `draws` against the exact pmf, with the tails pooled so every bin expects ≥ 20;
 * returns the statistic and the χ² quantile at 1 − 1e−6 for its degrees of freedom
 * (Wilson–Hilferty), so a correct sampler fails one case in a million per seed.
 */
function chiSquare(draws: Int32Array, n: number, p: number): { statistic: number; critical: number } {
  const probs = pmf(n, p);
  const observed = new Float64Array(n + 1);
  for (const x of draws) observed[x]++;
  const total = draws.length;
  const bins: { o: number; e: number }[] = [];
  let o = 0;
  let e = 0;
  let below = 0; // P(X ≤ k)
  for (let k = 0; k <= n; k++) {
    o += observed[k];
    e += probs[k] * total;
    below += probs[k];
    if (e >= 20 && (1 - below) * total >= 20) {
      bins.push({ o, e });
      o = 0;
      e = 0;
    }
  }
  bins.push({ o, e });
  const statistic = bins.reduce((s, b) => s + (b.o - b.e) ** 2 / b.e, 0);
  const df = bins.length - 1;
  const z = 4.753; // standard normal quantile at 1 − 1e−6
  const critical = df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;
  return { statistic, critical };
}

function draw(seed: number, count: number, n: number, p: number): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: count }, () => binomial(rng, n, p));
}

// Both methods (inversion below mean 10, BTRS above), both halves of p, and Arena-sized n.
const CASES: [number, number][] = [
  [20, 0.2],
  [1000, 0.004],
  [30, 0.5],
  [60, 0.25],
  [1000, 0.9],
  [135_000, 0.0005],
  [135_000, 0.02],
  [2_000_000, 0.3],
];

describe("binomial", () => {
  it.each(CASES)("Binomial(%i, %f) has the binomial's mean and variance", (n, p) => {
    const count = 100_000;
    const xs = draw(1, count, n, p);
    let mean = 0;
    for (const x of xs) mean += x;
    mean /= count;
    let variance = 0;
    for (const x of xs) variance += (x - mean) ** 2;
    variance /= count - 1;
    const sd = Math.sqrt(n * p * (1 - p));
    // Mean within 5 standard errors; the sample variance's relative SE is ≈ √(2/count) (+ kurtosis).
    expect(Math.abs(mean - n * p)).toBeLessThan((5 * sd) / Math.sqrt(count));
    expect(Math.abs(variance / (sd * sd) - 1)).toBeLessThan(0.03);
    expect(xs.every((x) => x >= 0 && x <= n)).toBe(true);
  });

  it.each(CASES.filter(([n]) => n <= 135_000))("Binomial(%i, %f) matches the exact pmf (χ² goodness of fit)", (n, p) => {
    const { statistic, critical } = chiSquare(draw(2, 200_000, n, p), n, p);
    expect(statistic).toBeLessThan(critical);
  });

  it("handles the degenerate cases and rejects bad arguments", () => {
    const rng = new Rng(3);
    expect(binomial(rng, 0, 0.4)).toBe(0);
    expect(binomial(rng, 17, 0)).toBe(0);
    expect(binomial(rng, 17, 1)).toBe(17);
    expect(() => binomial(rng, -1, 0.5)).toThrow(/n must be a whole number/);
    expect(() => binomial(rng, 2.5, 0.5)).toThrow(/n must be a whole number/);
    expect(() => binomial(rng, 10, 1.5)).toThrow(/p must be in \[0, 1\]/);
    expect(() => binomial(rng, 10, NaN)).toThrow(/p must be in \[0, 1\]/);
  });

  it("is deterministic for a seed", () => {
    expect(draw(7, 50, 5000, 0.1)).toEqual(draw(7, 50, 5000, 0.1));
    expect(draw(7, 50, 5000, 0.1)).not.toEqual(draw(8, 50, 5000, 0.1));
  });
});

describe("logFactorial", () => {
  it("agrees with summed logarithms across the table's edge and far beyond", () => {
    const exact = logFactorials(200_000);
    for (const k of [0, 1, 2, 10, 255, 256, 257, 1000, 65_537, 200_000]) {
      expect(Math.abs(logFactorial(k) - exact[k])).toBeLessThanOrEqual(1e-13 * Math.max(1, exact[k]));
    }
  });
});

describe("multinomial", () => {
  it("spends every trial, leaves zero weights empty, and has the multinomial's means and covariances", () => {
    const w = [5, 0, 1, 30, 0.5, 0, 12];
    const total = w.reduce((s, x) => s + x, 0);
    const n = 1000;
    const rng = new Rng(4);
    const rounds = 20_000;
    const sums = new Float64Array(w.length);
    let cross = 0; // Σ x_0 · x_3, for their covariance −n p_0 p_3
    const out = new Int32Array(w.length);
    for (let r = 0; r < rounds; r++) {
      multinomial(rng, n, w, out);
      expect(out.reduce((s, x) => s + x, 0)).toBe(n);
      expect([out[1], out[5]]).toEqual([0, 0]);
      for (let c = 0; c < w.length; c++) sums[c] += out[c];
      cross += out[0] * out[3];
    }
    for (let c = 0; c < w.length; c++) {
      const p = w[c] / total;
      const se = Math.sqrt((n * p * (1 - p)) / rounds);
      expect(Math.abs(sums[c] / rounds - n * p)).toBeLessThanOrEqual(5 * se + 1e-12);
    }
    const p0 = w[0] / total;
    const p3 = w[3] / total;
    const covariance = cross / rounds - (sums[0] / rounds) * (sums[3] / rounds);
    expect(covariance).toBeCloseTo(-n * p0 * p3, -0.3); // −7.1 expected; a sampler drawing cells independently gives ≈ 0
    expect(covariance).toBeLessThan(-4);
  });

  it("gives every trial to the only category with weight, and rejects bad weights", () => {
    const rng = new Rng(5);
    expect(Array.from(multinomial(rng, 9, [0, 0.1, 0], new Float64Array(3)))).toEqual([0, 9, 0]);
    expect(Array.from(multinomial(rng, 0, [0, 0], new Float64Array(2)))).toEqual([0, 0]);
    expect(() => multinomial(rng, 3, [0, 0], new Float64Array(2))).toThrow(/sum to zero/);
    expect(() => multinomial(rng, 3, [1, -1], new Float64Array(2))).toThrow(/weight 1 must be finite and ≥ 0/);
    expect(() => multinomial(rng, 3, [1, 2], new Float64Array(3))).toThrow(/2 weights but 3 outputs/);
    expect(() => multinomial(rng, 2.5, [1, 2], new Float64Array(2))).toThrow(/n must be a whole number/);
  });
});
