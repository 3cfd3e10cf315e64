import { describe, expect, it } from "vitest";
import { CmaEs, cmaesMinimize } from "../../src/adapt/cmaes.js";
import { ConfigError } from "../../src/core/errors.js";

const sphere = (x: number[]) => x.reduce((s, v) => s + v * v, 0);
const rosenbrock = (x: number[]) => x.slice(0, -1).reduce((s, v, i) => s + 100 * (x[i + 1] - v * v) ** 2 + (1 - v) ** 2, 0);
/** Axis-parallel ellipsoid with condition number 1e6: needs the covariance to adapt. */
const ellipsoid = (x: number[]) => x.reduce((s, v, i) => s + 10 ** ((6 * i) / (x.length - 1)) * v * v, 0);

describe("CMA-ES", () => {
  it("solves the sphere in 10-D to 1e-10", async () => {
    const r = await cmaesMinimize(sphere, { x0: Array(10).fill(1), sigma0: 0.5, seed: 1, maxEvaluations: 6000 });
    expect(r.bestValue).toBeLessThan(1e-10);
  });

  it("solves Rosenbrock in 6-D (the minimum at all ones)", async () => {
    const r = await cmaesMinimize(rosenbrock, { x0: Array(6).fill(0), sigma0: 0.5, seed: 2, maxEvaluations: 20000 });
    expect(r.bestValue).toBeLessThan(1e-8);
    for (const v of r.best) expect(v).toBeCloseTo(1, 3);
  });

  it("solves an ellipsoid of condition 1e6 (needs covariance adaptation)", async () => {
    const r = await cmaesMinimize(ellipsoid, { x0: Array(8).fill(1), sigma0: 1, seed: 3, maxEvaluations: 8000 });
    expect(r.bestValue).toBeLessThan(1e-8);
  });

  it("keeps candidates inside the box and finds a minimum on its boundary", async () => {
    const seen: number[][] = [];
    const f = (x: number[]) => {
      seen.push(x);
      return (x[0] - 3) ** 2 + (x[1] + 0.5) ** 2;
    };
    const r = await cmaesMinimize(f, { x0: [0, 0], sigma0: 1, seed: 4, maxEvaluations: 600, bounds: { lower: -1.5, upper: 1.5 } });
    for (const x of seen) for (const v of x) expect(Math.abs(v)).toBeLessThanOrEqual(1.5);
    expect(r.best[0]).toBeCloseTo(1.5, 6);
    expect(r.best[1]).toBeCloseTo(-0.5, 3);
  });

  it("is deterministic for a seed and differs across seeds", async () => {
    const run = (seed: number) => cmaesMinimize(rosenbrock, { x0: [0, 0, 0], sigma0: 0.3, seed, maxEvaluations: 70 });
    expect(await run(5)).toEqual(await run(5));
    expect((await run(5)).best).not.toEqual((await run(6)).best);
  });

  it("refuses bad settings all at once", () => {
    expect(() => new CmaEs({ x0: [], sigma0: 0, seed: 0, lambda: 1 })).toThrow(ConfigError);
    expect(() => new CmaEs({ x0: [], sigma0: 0, seed: 0, lambda: 1 })).toThrow(/x0[\s\S]*sigma0[\s\S]*lambda/);
  });
});
