/**
 * The generalized task-arithmetic family (task_arithmetic, ties, dare_*, breadcrumbs*, della*):
 * one implementation, configured per method by a consensus rule, a sparsifier and defaults.
 *
 *   d_i = x_i − base;  d_i ← sparsify(d_i);  W_i = weight_i · d_i
 *   consensus "sum":  s = sign(Σ W_i) (0 → +1),  mask_i = [sign(W_i) = s]
 *   mixed = Σ mask_i · W_i;  normalize: mixed /= Σ weight_i · mask_i (0 → 1)
 *   out = base + lambda · mixed
 */
import { MethodError, bool, num, type MergeInput, type MergeMethod, type ParamDef } from "./types.js";
import { RESCALE_EPSILON, sparsify, type Sparsifier } from "./sparsify.js";
import { keepTopKInPlace } from "./topk.js";

/** Without consensus, a total weight below this is treated as 1 (mergekit's guard). */
export const WEIGHT_SUM_EPSILON = 1e-8;

export interface TaskVectorVariant {
  name: string;
  summary: string;
  consensus?: "sum";
  sparsifier?: Sparsifier;
  normalize: boolean;
  rescale: boolean;
}

export function taskVectorMethod(variant: TaskVectorVariant): MergeMethod {
  const params: ParamDef[] = [
    { name: "weight", perModel: true, required: true },
    { name: "density", perModel: true, required: false, default: 1, min: 0, max: 1 },
    { name: "normalize", perModel: false, required: false, default: variant.normalize },
    { name: "rescale", perModel: false, required: false, default: variant.rescale },
    { name: "lambda", perModel: false, required: false, default: 1 },
    { name: "int8_mask", perModel: false, required: false, default: false },
  ];
  if (variant.sparsifier === "outliers") params.push({ name: "gamma", perModel: true, required: false, default: 0.01, min: 0, max: 1 });
  if (variant.sparsifier === "della") params.push({ name: "epsilon", perModel: true, required: false, default: 0.15, min: 0, max: 1 });
  return {
    name: variant.name,
    summary: variant.summary,
    base: "required",
    models: { min: 0 },
    params,
    elementwise: variant.sparsifier === undefined && variant.consensus === undefined,
    taskVector: variant,
    merge: (input) => mergeTaskVectors(variant, input),
  };
}

/** DELLA's keep probabilities density ± epsilon must be probabilities. */
export function checkDellaEpsilon(variant: TaskVectorVariant, density: number, epsilon: number): void {
  if (variant.sparsifier === "della" && density < 1 && density > 0 && (density + epsilon >= 1 || density - epsilon <= 0)) {
    throw new MethodError(`della: density ± epsilon must lie in (0, 1), got density ${density}, epsilon ${epsilon}`);
  }
}

export function mergeTaskVectors(variant: TaskVectorVariant, input: MergeInput): Float32Array {
  const base = input.base;
  if (!base) throw new MethodError(`${variant.name} needs a base model`);
  const n = base.length;
  const count = input.tensors.length;
  if (count === 0) return base.slice();
  const normalize = bool(input.global.normalize);
  const rescale = bool(input.global.rescale);
  const lambda = num(input.global.lambda ?? 1, "lambda");
  const rowLength = input.shape.length >= 1 ? input.shape[input.shape.length - 1] : n;

  const weights: number[] = [];
  const weighted: Float32Array[] = [];
  for (let m = 0; m < count; m++) {
    const p = input.modelParams[m];
    const x = input.tensors[m];
    let d: Float32Array = new Float32Array(n);
    for (let i = 0; i < n; i++) d[i] = x[i] - base[i];
    const w = num(p.weight, "weight");
    const density = num(p.density ?? 1, "density");
    if (variant.sparsifier === "magnitude" && density < 1) {
      // Fused fast path (TIES): select, mask and weight in one pass over d.
      const { before, after } = keepTopKInPlace(d, Math.trunc(density * n), w);
      const f = rescaleFactor(rescale, before, after);
      if (f !== undefined) for (let i = 0; i < n; i++) d[i] *= f;
    } else {
      if (variant.sparsifier) {
        const epsilon = num(p.epsilon ?? 0.15, "epsilon");
        checkDellaEpsilon(variant, density, epsilon);
        d = sparsify(d, variant.sparsifier, {
          density, rescale, gamma: num(p.gamma ?? 0.01, "gamma"), epsilon, rowLength, rng: input.rng,
        });
      }
      for (let i = 0; i < n; i++) d[i] *= w;
    }
    weights.push(w);
    weighted.push(d);
  }

  const out = new Float32Array(n);
  combineTaskVectors(variant, { weighted, weights, base, out, normalize, lambda });
  return out;
}

/**
 * The rescale factor of a sparsified task vector from its L1 norms before and after masking, or
 * undefined when rescaling is off or skipped (mergekit's epsilon guard).
 */
export function rescaleFactor(rescale: boolean, before: number, after: number): number | undefined {
  return rescale && before >= RESCALE_EPSILON && after >= RESCALE_EPSILON ? before / after : undefined;
}

/**
 * Election and mixing: out = base + lambda · mixed over the weighted task vectors. Elementwise,
 * so it runs on a whole tensor or on any slice of one (chunked merging gives the same bytes).
 */
export function combineTaskVectors(
  variant: TaskVectorVariant,
  a: { weighted: Float32Array[]; weights: number[]; base: Float32Array; out: Float32Array; normalize: boolean; lambda: number },
): void {
  const { weighted, weights, base, out, normalize, lambda } = a;
  const n = out.length;
  const count = weighted.length;
  if (variant.consensus === "sum") {
    for (let i = 0; i < n; i++) {
      let total = 0;
      for (let m = 0; m < count; m++) total += weighted[m][i];
      const positive = total >= 0;
      let mixed = 0;
      let divisor = 0;
      for (let m = 0; m < count; m++) {
        const v = weighted[m][i];
        if (positive ? v > 0 : v < 0) {
          mixed += v;
          divisor += weights[m];
        }
      }
      if (normalize) mixed /= divisor === 0 ? 1 : divisor;
      out[i] = base[i] + lambda * mixed;
    }
  } else {
    let divisor = 0;
    for (const w of weights) divisor += w;
    if (Math.abs(divisor) < WEIGHT_SUM_EPSILON) divisor = 1;
    const scale = (normalize ? 1 / divisor : 1) * lambda;
    for (let i = 0; i < n; i++) {
      let mixed = 0;
      for (let m = 0; m < count; m++) mixed += weighted[m][i];
      out[i] = base[i] + scale * mixed;
    }
  }
}
