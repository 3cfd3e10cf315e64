import { bool, num, MethodError, type MergeMethod } from "./types.js";

export const NUSLERP_NORM_CLAMP = 1e-7;
export const NUSLERP_COLINEAR_EPSILON = 1e-8;
export const NUSLERP_WEIGHT_EPSILON = 1e-6;

/**
 * Spherical interpolation of v0 → v1 along vectors of `length` elements spaced `stride` apart:
 * the whole tensor (flatten), each row (stride 1), or each column (row-wise, stride = columns).
 */
function slerpGroups(t: number, v0: Float32Array, v1: Float32Array, shape: readonly number[], flatten: boolean, rowWise: boolean): Float32Array {
  const n = v0.length;
  const out = new Float32Array(n);
  const last = shape.length ? shape[shape.length - 1] : n;
  let groups: number, length: number, stride: number, groupStep: number;
  if (flatten || shape.length < 2) {
    groups = 1; length = n; stride = 1; groupStep = 0;
  } else if (rowWise) {
    // vectors along dim 0: for [rows, cols] each column is one vector (higher dims folded into cols)
    length = shape[0]; groups = n / length; stride = groups; groupStep = 1;
  } else {
    length = last; groups = n / length; stride = 1; groupStep = length;
  }
  for (let g = 0; g < groups; g++) {
    const start = g * groupStep;
    let a = 0, b = 0, ab = 0;
    for (let j = 0, i = start; j < length; j++, i += stride) {
      a += v0[i] * v0[i];
      b += v1[i] * v1[i];
      ab += v0[i] * v1[i];
    }
    const cos = ab / (Math.max(Math.sqrt(a), NUSLERP_NORM_CLAMP) * Math.max(Math.sqrt(b), NUSLERP_NORM_CLAMP));
    const theta = Math.acos(Math.min(1, Math.max(-1, cos)));
    const sinTheta = Math.sin(theta);
    let s0: number, s1: number;
    if (Math.abs(sinTheta) < NUSLERP_COLINEAR_EPSILON) {
      s0 = 1 - t; s1 = t;
    } else {
      s0 = Math.sin((1 - t) * theta) / sinTheta;
      s1 = Math.sin(t * theta) / sinTheta;
    }
    for (let j = 0, i = start; j < length; j++, i += stride) out[i] = s0 * v0[i] + s1 * v1[i];
  }
  return out;
}

/**
 * NuSLERP: slerp between two models with t = w₁/(w₀+w₁) (0.5 when the weights cancel); with a
 * base model, slerp of the task vectors added back to the base.
 */
export const nuslerp: MergeMethod = {
  name: "nuslerp",
  summary: "Slerp of two models (or their task vectors) weighted by per-model weight",
  base: "optional",
  models: { min: 1, max: 2 },
  params: [
    { name: "weight", perModel: true, required: true },
    { name: "nuslerp_row_wise", perModel: false, required: false, default: false },
    { name: "nuslerp_flatten", perModel: false, required: false, default: true },
  ],
  merge({ tensors, modelParams, base, global, shape }) {
    if (tensors.length === 1 && !base) return tensors[0].slice();
    if (tensors.length !== 2) throw new MethodError("nuslerp needs exactly two models besides the base");
    const w0 = num(modelParams[0].weight, "weight");
    const w1 = num(modelParams[1].weight, "weight");
    const t = Math.abs(w0 + w1) < NUSLERP_WEIGHT_EPSILON ? 0.5 : w1 / (w0 + w1);
    const flatten = bool(global.nuslerp_flatten);
    const rowWise = bool(global.nuslerp_row_wise);
    if (!base) return slerpGroups(t, tensors[0], tensors[1], shape, flatten, rowWise);
    const n = base.length;
    const d0 = new Float32Array(n);
    const d1 = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      d0[i] = tensors[0][i] - base[i];
      d1[i] = tensors[1][i] - base[i];
    }
    const mixed = slerpGroups(t, d0, d1, shape, flatten, rowWise);
    for (let i = 0; i < n; i++) mixed[i] += base[i];
    return mixed;
  },
};
