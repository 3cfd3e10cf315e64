import { num, type MergeMethod } from "./types.js";

export const NEARSWAP_DIFF_CLAMP = 1e-6;

/**
 * NearSwap: take the other model's value where it is close to the base:
 * w = clamp(t / max(|base − x|, 1e-6), 0, 1), out = w·x + (1 − w)·base.
 */
export const nearswap: MergeMethod = {
  name: "nearswap",
  summary: "Swap in the other model's weights where they are within t of the base",
  base: "required",
  models: { min: 0, max: 1 },
  elementwise: true,
  params: [{ name: "t", perModel: false, required: true }],
  merge({ tensors, base, global }) {
    const a = base!;
    if (tensors.length === 0) return a.slice();
    const x = tensors[0];
    const t = num(global.t, "t");
    const out = new Float32Array(a.length);
    for (let i = 0; i < a.length; i++) {
      const w = Math.min(1, Math.max(0, t / Math.max(Math.abs(a[i] - x[i]), NEARSWAP_DIFF_CLAMP)));
      out[i] = w * x[i] + (1 - w) * a[i];
    }
    return out;
  },
};
