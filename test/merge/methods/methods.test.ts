import { describe, expect, it } from "vitest";
import { Rng } from "../../../src/core/rng.js";
import { findMethod, methodNames } from "../../../src/merge/methods/registry.js";
import type { MergeInput, ParamValue } from "../../../src/merge/methods/types.js";
import * as ref from "./reference.js";

function randomVec(rng: Rng, n: number, scale = 1): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal() * scale;
  return v;
}

/** base plus small perturbations, as fine-tuned models relate to their base. */
function fixture(seed: number, n: number, models: number) {
  const rng = new Rng(seed);
  const base = randomVec(rng, n);
  const xs = Array.from({ length: models }, () => {
    const d = randomVec(rng, n, 0.1);
    return base.map((b, i) => b + d[i]);
  });
  return { base, xs };
}

function run(method: string, xs: Float32Array[], base: Float32Array | undefined, modelParams: Record<string, ParamValue>[], global: Record<string, ParamValue> = {}, shape = [xs[0].length], seed = 1): Float32Array {
  const m = findMethod(method)!;
  const g: Record<string, ParamValue> = {};
  for (const p of m.params) if (!p.perModel && p.default !== undefined) g[p.name] = p.default;
  const mp = modelParams.map((p) => {
    const out: Record<string, ParamValue> = {};
    for (const d of m.params) if (d.perModel && d.default !== undefined) out[d.name] = d.default;
    return { ...out, ...p };
  });
  const input: MergeInput = { tensors: xs, base, modelParams: mp, global: { ...g, ...global }, shape, rng: new Rng(seed) };
  return m.merge(input);
}

function expectClose(actual: Float32Array, expected: number[], tol = 1e-6) {
  expect(actual.length).toBe(expected.length);
  let scale = 0;
  let err = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
  }
  expect(Number.isFinite(err)).toBe(true);
  expect(err / Math.max(scale, 1e-30)).toBeLessThanOrEqual(tol);
}

const arr = (v: Float32Array) => Array.from(v);

describe("merge methods equal independent implementations", () => {
  const { base, xs } = fixture(7, 1000, 3);
  const B = arr(base);
  const X = xs.map(arr);
  const weights = [0.5, 0.3, 0.7];

  it("registry has every method with unique names", () => {
    expect(methodNames()).toEqual(["linear", "task_arithmetic", "ties", "dare_ties", "dare_linear", "breadcrumbs", "breadcrumbs_ties", "della", "della_linear", "slerp", "nuslerp", "multislerp", "karcher", "model_stock", "sce", "nearswap", "passthrough", "arcee_fusion"]);
  });

  it("linear (normalize default true, and false)", () => {
    const expected = B.map((_, i) => X.reduce((s, x, m) => s + x[i] * weights[m], 0) / 1.5);
    expectClose(run("linear", xs, undefined, weights.map((weight) => ({ weight }))), expected);
    const unnorm = B.map((_, i) => X.reduce((s, x, m) => s + x[i] * weights[m], 0));
    expectClose(run("linear", xs, undefined, weights.map((weight) => ({ weight })), { normalize: false }), unnorm);
  });

  it("linear with one, two and four models (each count has its own loop)", () => {
    for (const count of [1, 2, 4]) {
      const models = Array.from({ length: count }, (_, m) => X[m % X.length]);
      const w = Array.from({ length: count }, (_, m) => 0.25 + 0.5 * m);
      const total = w.reduce((a, b) => a + b, 0);
      const expected = B.map((_, i) => models.reduce((s, x, m) => s + x[i] * w[m], 0) / total);
      expectClose(run("linear", models.map((x) => Float32Array.from(x)), undefined, w.map((weight) => ({ weight }))), expected);
    }
  });

  it("task_arithmetic with lambda", () => {
    const expected = ref.refTaskVectors(B, X, weights, { consensus: false, normalize: false, lambda: 0.8 });
    expectClose(run("task_arithmetic", xs, base, weights.map((weight) => ({ weight })), { lambda: 0.8 }), expected);
  });

  it("ties: magnitude top-k, sign election, normalized by the agreeing weights", () => {
    const dens = [0.3, 0.5, 0.7];
    const expected = ref.refTaskVectors(B, X, weights, { consensus: true, normalize: true, sparsify: (d, m) => ref.refMagnitude(d, dens[m]) });
    expectClose(run("ties", xs, base, weights.map((weight, m) => ({ weight, density: dens[m] }))), expected);
  });

  it("ties with negative weights elects by the weighted sign", () => {
    const w = [0.5, -0.4, 0.9];
    const expected = ref.refTaskVectors(B, X, w, { consensus: true, normalize: true, sparsify: (d) => ref.refMagnitude(d, 0.5) });
    expectClose(run("ties", xs, base, w.map((weight) => ({ weight, density: 0.5 }))), expected);
  });

  it("breadcrumbs and breadcrumbs_ties drop the top gamma and the bottom", () => {
    const expected = ref.refTaskVectors(B, X, weights, { consensus: false, normalize: false, sparsify: (d) => ref.refOutliers(d, 0.6, 0.05) });
    expectClose(run("breadcrumbs", xs, base, weights.map((weight) => ({ weight, density: 0.6, gamma: 0.05 }))), expected);
    const expectedTies = ref.refTaskVectors(B, X, weights, { consensus: true, normalize: false, sparsify: (d) => ref.refOutliers(d, 0.6, 0.05) });
    expectClose(run("breadcrumbs_ties", xs, base, weights.map((weight) => ({ weight, density: 0.6, gamma: 0.05 }))), expectedTies);
  });

  it("breadcrumbs with gamma = 0 keeps the top entries (mergekit would zero the task vector)", () => {
    const out = run("breadcrumbs", [xs[0]], base, [{ weight: 1, density: 0.5, gamma: 0 }]);
    const expected = ref.refTaskVectors(B, [X[0]], [1], { consensus: false, normalize: false, sparsify: (d) => ref.refMagnitude(d, 0.5) });
    expectClose(out, expected);
    let changed = 0;
    for (let i = 0; i < out.length; i++) if (out[i] !== base[i]) changed++;
    expect(changed).toBe(500);
  });

  it("slerp: t = 0 is the base, t = 1 the other model, and the formula in between", () => {
    expectClose(run("slerp", [xs[0]], base, [{}], { t: 0 }), B);
    expectClose(run("slerp", [xs[0]], base, [{}], { t: 1 }), X[0], 1e-6);
    const other = randomVec(new Rng(3), 1000);
    expectClose(run("slerp", [other], base, [{}], { t: 0.3 }), ref.refSlerp(0.3, B, arr(other)));
    // nearly colinear vectors fall back to lerp
    const near = base.map((v) => v * 1.0001);
    expectClose(run("slerp", [near], base, [{}], { t: 0.4 }), B.map((v, i) => 0.6 * v + 0.4 * near[i]));
  });

  it("nuslerp: flattened slerp of task vectors with t = w1/(w0+w1); row-wise and per-row variants", () => {
    const tv = (x: number[]) => x.map((v, i) => v - B[i]);
    const t = 0.7 / (0.3 + 0.7);
    const slerped = ref.refSlerpNoThreshold(t, tv(X[0]), tv(X[1]));
    expectClose(run("nuslerp", [xs[0], xs[1]], base, [{ weight: 0.3 }, { weight: 0.7 }]), slerped.map((v, i) => v + B[i]));
    // per row (nuslerp_flatten false) on a 10×100 matrix: each row slerped on its own
    const shape = [10, 100];
    const rows = run("nuslerp", [xs[0], xs[1]], undefined, [{ weight: 1 }, { weight: 1 }], { nuslerp_flatten: false }, shape);
    const expectRows: number[] = [];
    for (let r = 0; r < 10; r++) expectRows.push(...ref.refSlerpNoThreshold(0.5, X[0].slice(r * 100, r * 100 + 100), X[1].slice(r * 100, r * 100 + 100)));
    expectClose(rows, expectRows);
    const cols = run("nuslerp", [xs[0], xs[1]], undefined, [{ weight: 1 }, { weight: 3 }], { nuslerp_flatten: false, nuslerp_row_wise: true }, shape);
    const expectCols = new Array<number>(1000);
    for (let c = 0; c < 100; c++) {
      const a = Array.from({ length: 10 }, (_, r) => X[0][r * 100 + c]);
      const b = Array.from({ length: 10 }, (_, r) => X[1][r * 100 + c]);
      ref.refSlerpNoThreshold(0.75, a, b).forEach((v, r) => (expectCols[r * 100 + c] = v));
    }
    expectClose(cols, expectCols);
  });

  it("multislerp with and without a base", () => {
    expectClose(run("multislerp", xs, undefined, weights.map((weight) => ({ weight }))), ref.refMultislerp(X, weights), 1e-5);
    expectClose(run("multislerp", xs, base, weights.map((weight) => ({ weight }))), ref.refMultislerp(X, weights, B), 1e-5);
  });

  it("karcher converges to the Riemannian mean", () => {
    const spread = Array.from({ length: 3 }, (_, m) => randomVec(new Rng(40 + m), 200));
    const out = run("karcher", spread, undefined, [{}, {}, {}], { max_iter: 100, tol: 1e-12 });
    expectClose(out, ref.refKarcher(spread.map(arr)), 1e-6);
  });

  it("model_stock: t from the mean pairwise cosine", () => {
    expectClose(run("model_stock", xs, base, [{}, {}, {}]), ref.refModelStock(B, X));
  });

  it("model_stock filter_wise works row by row", () => {
    const out = run("model_stock", xs, base, [{}, {}, {}], { filter_wise: true }, [10, 100]);
    const expected: number[] = [];
    for (let r = 0; r < 10; r++) expected.push(...ref.refModelStock(B.slice(r * 100, r * 100 + 100), X.map((x) => x.slice(r * 100, r * 100 + 100))));
    expectClose(out, expected);
  });

  it("sce with and without variance selection", () => {
    expectClose(run("sce", xs, base, [{}, {}, {}]), ref.refSce(B, X, 1));
    expectClose(run("sce", xs, base, [{}, {}, {}], { select_topk: 0.4 }), ref.refSce(B, X, 0.4));
  });

  it("nearswap", () => {
    expectClose(run("nearswap", [xs[0]], base, [{}], { t: 0.05 }), ref.refNearswap(0.05, B, X[0]));
  });

  it("arcee_fusion keeps the other model's outlier changes only", () => {
    // 10 rows of 100; some rows changed a lot so their KL (and importance) stands out.
    const b = X[0].map((v, i) => (Math.floor(i / 100) % 4 === 0 ? v + 0.5 * Math.sin(i) : v));
    const out = run("arcee_fusion", [Float32Array.from(b)], base, [{}], {}, [10, 100]);
    const expected = ref.refArceeFusion(B, b, 10);
    expectClose(out, expected);
    const taken = expected.filter((v, i) => v === b[i] && v !== B[i]).length;
    expect(taken).toBeGreaterThan(10);
    expect(taken).toBeLessThan(500);
  });

  it("passthrough copies and scales; scale 0 gives zeros", () => {
    expectClose(run("passthrough", [xs[0]], undefined, [{}]), X[0]);
    expectClose(run("passthrough", [xs[0]], undefined, [{ scale: 0.5 }]), X[0].map((v) => v * 0.5));
    expect(run("passthrough", [xs[0]], undefined, [{ scale: 0 }]).every((v) => v === 0)).toBe(true);
  });

  it("della rejects density ± epsilon outside (0, 1)", () => {
    expect(() => run("della", xs, base, weights.map((weight) => ({ weight, density: 0.1, epsilon: 0.15 })))).toThrow(/density ± epsilon/);
  });
});
