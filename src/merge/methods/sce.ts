import { num, type MergeMethod } from "./types.js";
import { topKMask } from "./topk.js";

export const SCE_WEIGHT_EPSILON = 1e-6;

/**
 * SCE: Select (keep the top `select_topk` fraction of entries by variance across the task vectors),
 * Calculate (weight each model by its mean squared task vector, normalized), Erase (TIES sign
 * election), then a weighted mean of the surviving entries added to the base.
 */
export const sce: MergeMethod = {
  name: "sce",
  summary: "Select by variance, weight by energy, erase by sign election",
  base: "required",
  models: { min: 0 },
  params: [
    { name: "select_topk", perModel: false, required: false, default: 1, min: 0, max: 1 },
    { name: "int8_mask", perModel: false, required: false, default: false },
  ],
  merge({ tensors, base, global }) {
    const b = base!;
    const n = b.length;
    const count = tensors.length;
    if (count === 0) return b.slice();
    const tvs = tensors.map((x) => {
      const d = new Float32Array(n);
      for (let i = 0; i < n; i++) d[i] = x[i] - b[i];
      return d;
    });
    const density = num(global.select_topk ?? 1, "select_topk");
    if (density < 1) {
      const variance = new Float32Array(n);
      let nonzero = 0;
      for (let i = 0; i < n; i++) {
        let mean = 0;
        for (let m = 0; m < count; m++) mean += tvs[m][i];
        mean /= count;
        let v = 0;
        for (let m = 0; m < count; m++) v += (tvs[m][i] - mean) ** 2;
        variance[i] = v / count;
        if (variance[i] !== 0) nonzero++;
      }
      const keep = density <= 0 ? new Uint8Array(n) : topKMask(variance, Math.trunc(nonzero * density));
      for (const d of tvs) for (let i = 0; i < n; i++) if (!keep[i]) d[i] = 0;
    }
    const energy = tvs.map((d) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += d[i] * d[i];
      return s / n;
    });
    const total = energy.reduce((a, c) => a + c, 0);
    const weights = Math.abs(total) < SCE_WEIGHT_EPSILON ? energy.map(() => 1 / count) : energy.map((e) => e / total);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let m = 0; m < count; m++) sum += tvs[m][i];
      const positive = sum >= 0;
      let mixed = 0;
      let divisor = 0;
      for (let m = 0; m < count; m++) {
        const v = tvs[m][i];
        if (positive ? v > 0 : v < 0) {
          mixed += v * weights[m];
          divisor += weights[m];
        }
      }
      out[i] = b[i] + mixed / Math.max(divisor, SCE_WEIGHT_EPSILON);
    }
    return out;
  },
};
