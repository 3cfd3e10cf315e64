import { num, type MergeMethod } from "./types.js";

/** Copies the single input tensor, multiplied by the model's optional `scale`. */
export const passthrough: MergeMethod = {
  name: "passthrough",
  summary: "Copy one model's tensors (layer stacking); optional per-model scale",
  base: "unused",
  models: { min: 1, max: 1 },
  elementwise: true,
  params: [{ name: "scale", perModel: true, required: false }],
  merge({ tensors, modelParams }) {
    const scale = modelParams[0].scale;
    const x = tensors[0];
    if (scale === undefined) return x.slice();
    const s = num(scale, "scale");
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = x[i] * s;
    return out;
  },
};
