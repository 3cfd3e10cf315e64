import { MethodError, bool, num, type MergeMethod } from "./types.js";

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
    const weights = modelParams.map((p) => num(p.weight, "weight"));
    let total = 0;
    for (const w of weights) total += w;
    if (bool(global.normalize) && total === 0) throw new MethodError("linear: the weights sum to zero and normalize is on");
    const scale = bool(global.normalize) ? 1 / total : 1;
    // Model by model into a double accumulator: simple loops the JIT compiles tightly.
    const acc = new Float64Array(n);
    for (let m = 0; m < tensors.length; m++) {
      const x = tensors[m];
      const w = weights[m];
      for (let i = 0; i < n; i++) acc[i] += w * x[i];
    }
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = acc[i] * scale;
    return out;
  },
};
