import { dot, norm } from "./vector.js";
import { num, type MergeMethod } from "./types.js";

/** Above this |cos|, the two vectors count as colinear and slerp falls back to lerp. */
export const SLERP_DOT_THRESHOLD = 0.9995;
/** Norms at or below this are not normalized. */
export const SLERP_NORM_EPSILON = 1e-8;

/**
 * Spherical interpolation between v0 and v1 treating each whole tensor as one flat vector:
 * t = 0 gives v0, t = 1 gives v1; |cos θ| > 0.9995 uses linear interpolation.
 */
export function slerpVectors(t: number, v0: Float32Array, v1: Float32Array): Float32Array {
  const n0 = norm(v0);
  const n1 = norm(v1);
  const c = dot(v0, v1) / ((n0 > SLERP_NORM_EPSILON ? n0 : 1) * (n1 > SLERP_NORM_EPSILON ? n1 : 1));
  const out = new Float32Array(v0.length);
  let s0: number;
  let s1: number;
  if (Math.abs(c) > SLERP_DOT_THRESHOLD) {
    s0 = 1 - t;
    s1 = t;
  } else {
    const theta = Math.acos(c);
    const sinTheta = Math.sin(theta);
    s0 = Math.sin(theta - theta * t) / sinTheta;
    s1 = Math.sin(theta * t) / sinTheta;
  }
  for (let i = 0; i < out.length; i++) out[i] = s0 * v0[i] + s1 * v1[i];
  return out;
}

/** SLERP between the base model (t = 0) and one other model (t = 1). */
export const slerp: MergeMethod = {
  name: "slerp",
  summary: "Spherical interpolation between the base and one other model",
  base: "required",
  models: { min: 0, max: 1 },
  params: [{ name: "t", perModel: false, required: true }],
  merge({ tensors, base, global }) {
    if (tensors.length === 0) return base!.slice();
    return slerpVectors(num(global.t, "t"), base!, tensors[0]);
  },
};
