import { MethodError, bool, num, type MergeMethod, type ParamValue } from "./types.js";

/**
 * The models' weights and the factor the weighted sum is multiplied by (1 / Σ w when normalizing).
 * Shared with the fused bf16 kernel (merge/linear-bf16.ts), which must give the same bytes.
 */
export function linearWeights(modelParams: Record<string, ParamValue>[], global: Record<string, ParamValue>): { weights: number[]; scale: number } {
  const weights = modelParams.map((p) => num(p.weight, "weight"));
  let total = 0;
  for (const w of weights) total += w;
  if (bool(global.normalize) && total === 0) throw new MethodError("linear: the weights sum to zero and normalize is on");
  return { weights, scale: bool(global.normalize) ? 1 / total : 1 };
}

/** Weighted average Σ w_i·x_i, divided by Σ w_i when `normalize` (default true). */
export const linear: MergeMethod = {
  name: "linear",
  summary: "Weighted average of the models",
  base: "unused",
  models: { min: 1 },
  elementwise: true,
  params: [
    { name: "weight", perModel: true, required: true },
    { name: "normalize", perModel: false, required: false, default: true },
  ],
  merge({ tensors, modelParams, global }) {
    const n = tensors[0].length;
    const { weights, scale } = linearWeights(modelParams, global);
    const out = new Float32Array(n);
    // Sums in double precision, models in order (the same bytes for any split into chunks). Up
    // to three models in one pass with the sum in a register; more through a double accumulator.
    if (tensors.length <= 3) {
      const [x0, x1, x2] = [tensors[0], tensors[1] ?? tensors[0], tensors[2] ?? tensors[0]];
      const [w0, w1, w2] = [weights[0], weights[1] ?? 0, weights[2] ?? 0];
      if (tensors.length === 1) for (let i = 0; i < n; i++) out[i] = w0 * x0[i] * scale;
      else if (tensors.length === 2) for (let i = 0; i < n; i++) out[i] = (w0 * x0[i] + w1 * x1[i]) * scale;
      else for (let i = 0; i < n; i++) out[i] = (w0 * x0[i] + w1 * x1[i] + w2 * x2[i]) * scale;
      return out;
    }
    const acc = new Float64Array(n);
    for (let m = 0; m < tensors.length; m++) {
      const x = tensors[m];
      const w = weights[m];
      for (let i = 0; i < n; i++) acc[i] += w * x[i];
    }
    for (let i = 0; i < n; i++) out[i] = acc[i] * scale;
    return out;
  },
};
