import { bool, num, MethodError, type MergeMethod } from "./types.js";

export const MULTISLERP_EPSILON = 1e-8;

/**
 * Multi-SLERP: barycentric interpolation on the hypersphere. Each (task) vector is projected to
 * the unit sphere, mapped to the tangent space at the normalized weighted mean, averaged there,
 * mapped back with the exponential map and scaled by the weighted mean norm.
 */
export const multislerp: MergeMethod = {
  name: "multislerp",
  summary: "Spherical barycentric interpolation of any number of models",
  base: "optional",
  models: { min: 1 },
  params: [
    { name: "weight", perModel: true, required: true },
    { name: "normalize_weights", perModel: false, required: false, default: true },
    { name: "eps", perModel: false, required: false, default: MULTISLERP_EPSILON },
  ],
  merge({ tensors, modelParams, base, global }) {
    if (tensors.length === 1) return tensors[0].slice();
    const eps = num(global.eps ?? MULTISLERP_EPSILON, "eps");
    const n = tensors[0].length;
    const count = tensors.length;
    const vs = tensors.map((x) => {
      if (!base) return x;
      const d = new Float32Array(n);
      for (let i = 0; i < n; i++) d[i] = x[i] - base[i];
      return d;
    });
    let weights = modelParams.map((p) => num(p.weight, "weight"));
    if (bool(global.normalize_weights)) {
      const total = weights.reduce((a, b) => a + b, 0);
      weights = weights.map((w) => w / total);
    }
    const norms = vs.map((v) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += v[i] * v[i];
      return Math.sqrt(s);
    });
    const inv = norms.map((x) => 1 / (x + eps));
    const mean = new Float64Array(n);
    for (let m = 0; m < count; m++) for (let i = 0; i < n; i++) mean[i] += vs[m][i] * inv[m] * weights[m];
    let meanNorm = 0;
    for (let i = 0; i < n; i++) meanNorm += mean[i] * mean[i];
    meanNorm = Math.sqrt(meanNorm);
    const out = new Float32Array(n);
    if (meanNorm < eps) {
      if (count !== 2) throw new MethodError("multislerp: the weighted mean direction is zero (antipodal inputs with balancing weights)");
      for (let i = 0; i < n; i++) out[i] = vs[0][i] * weights[0] + vs[1][i] * weights[1] + (base ? base[i] : 0);
      return out;
    }
    for (let i = 0; i < n; i++) mean[i] /= meanNorm;
    const dots = vs.map((v, m) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += v[i] * inv[m] * mean[i];
      return s;
    });
    const tangent = new Float64Array(n);
    for (let m = 0; m < count; m++) {
      for (let i = 0; i < n; i++) tangent[i] += (vs[m][i] * inv[m] - dots[m] * mean[i]) * weights[m];
    }
    let tNorm = 0;
    for (let i = 0; i < n; i++) tNorm += tangent[i] * tangent[i];
    tNorm = Math.sqrt(tNorm) + eps;
    let avgNorm = 0;
    for (let m = 0; m < count; m++) avgNorm += norms[m] * weights[m];
    const c = Math.cos(tNorm);
    const s = Math.sin(tNorm) / tNorm;
    for (let i = 0; i < n; i++) out[i] = (mean[i] * c + tangent[i] * s) * avgNorm + (base ? base[i] : 0);
    return out;
  },
};
