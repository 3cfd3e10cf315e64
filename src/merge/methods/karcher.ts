import { num, type MergeMethod } from "./types.js";

/**
 * Karcher (Riemannian) mean of the models' directions on the unit sphere, with equal weights,
 * by at most `max_iter` fixed-point steps (stop when the tangent step is below `tol`); the result
 * is scaled by the mean of the norms.
 */
export const karcher: MergeMethod = {
  name: "karcher",
  summary: "Riemannian (Karcher) mean of the models on the hypersphere",
  base: "unused",
  models: { min: 1 },
  params: [
    { name: "max_iter", perModel: false, required: false, default: 10, min: 0 },
    { name: "tol", perModel: false, required: false, default: 1e-5, min: 0 },
  ],
  merge({ tensors, global }) {
    const count = tensors.length;
    if (count === 1) return tensors[0].slice();
    const maxIter = num(global.max_iter ?? 10, "max_iter");
    const tol = num(global.tol ?? 1e-5, "tol");
    const n = tensors[0].length;
    const alpha = 1 / count;
    const norms = tensors.map((x) => Math.sqrt(sq(x)));
    const valid = tensors.map((_, i) => i).filter((i) => norms[i] > tol);
    const out = new Float32Array(n);
    if (valid.length === 0) return out;
    const a = 1 / valid.length;
    const units = valid.map((i) => scaled(tensors[i], 1 / norms[i]));
    let u = new Float64Array(n);
    for (const unit of units) for (let i = 0; i < n; i++) u[i] += a * unit[i];
    const nu = Math.sqrt(sq(u));
    if (nu < tol) u = Float64Array.from(units[0]);
    else for (let i = 0; i < n; i++) u[i] /= nu;
    const step = new Float64Array(n);
    for (let iter = 0; iter < maxIter; iter++) {
      step.fill(0);
      for (const unit of units) {
        let d = 0;
        for (let i = 0; i < n; i++) d += u[i] * unit[i];
        d = Math.min(1, Math.max(-1, d));
        const theta = Math.acos(d);
        if (theta < tol) continue;
        const f = (a * theta) / Math.sin(theta);
        for (let i = 0; i < n; i++) step[i] += f * (unit[i] - d * u[i]);
      }
      const ns = Math.sqrt(sq(step));
      if (ns < tol) break;
      const c = Math.cos(ns);
      const s = Math.sin(ns) / ns;
      for (let i = 0; i < n; i++) u[i] = c * u[i] + s * step[i];
      const nn = Math.sqrt(sq(u));
      if (nn > tol) for (let i = 0; i < n; i++) u[i] /= nn;
    }
    let scale = 0;
    for (const x of norms) scale += alpha * x;
    for (let i = 0; i < n; i++) out[i] = scale * u[i];
    return out;
  },
};

function sq(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return s;
}

function scaled(x: Float32Array, f: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * f;
  return out;
}
