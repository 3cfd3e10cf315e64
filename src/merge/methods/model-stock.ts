import { bool, MethodError, type MergeMethod } from "./types.js";

/** Norm products are clamped to at least this before dividing (mergekit's guard). */
export const MODEL_STOCK_NORM_CLAMP = 1e-6;

/**
 * Model Stock: with c the mean pairwise cosine between task vectors (whole tensor, or per row when
 * `filter_wise`), t = N·c / (1 + (N−1)·c) and out = t·mean(x_i) + (1−t)·base.
 */
export const modelStock: MergeMethod = {
  name: "model_stock",
  summary: "Interpolate the models' mean toward the base by their task vectors' angle",
  base: "required",
  models: { min: 2 },
  params: [{ name: "filter_wise", perModel: false, required: false, default: false }],
  merge({ tensors, base, global, shape }) {
    const b = base!;
    const count = tensors.length;
    if (count < 2) throw new MethodError("model_stock needs at least two models besides the base");
    const n = b.length;
    const rowLength = bool(global.filter_wise) && shape.length >= 1 ? shape[shape.length - 1] : n;
    const out = new Float32Array(n);
    const pairs = (count * (count - 1)) / 2;
    for (let start = 0; start < n; start += rowLength) {
      const end = start + rowLength;
      const norms: number[] = [];
      for (let m = 0; m < count; m++) {
        let s = 0;
        for (let i = start; i < end; i++) {
          const d = tensors[m][i] - b[i];
          s += d * d;
        }
        norms.push(Math.sqrt(s));
      }
      let cosSum = 0;
      for (let p = 0; p < count; p++) {
        for (let q = p + 1; q < count; q++) {
          let s = 0;
          for (let i = start; i < end; i++) s += (tensors[p][i] - b[i]) * (tensors[q][i] - b[i]);
          const c = s / Math.max(norms[p] * norms[q], MODEL_STOCK_NORM_CLAMP);
          cosSum += Math.min(1, Math.max(-1, c));
        }
      }
      const c = cosSum / pairs;
      const t = (count * c) / (1 + (count - 1) * c);
      for (let i = start; i < end; i++) {
        let mean = 0;
        for (let m = 0; m < count; m++) mean += tensors[m][i];
        out[i] = t * (mean / count) + (1 - t) * b[i];
      }
    }
    return out;
  },
};
