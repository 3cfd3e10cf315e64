/**
 * The task-arithmetic family (ties, dare_*, breadcrumbs*, della*, task_arithmetic) merged chunk by
 * chunk on stored bytes, giving the same bytes as the in-memory method (task-vectors.ts) while
 * holding only the stored inputs, the output and (DARE, DELLA) one packed keep-bit per element
 * and model.
 *
 * Per model, in config order (the in-memory path's order, so DARE's and DELLA's random stream is
 * consumed identically):
 *  - magnitude / outliers: count a histogram of |d| bit patterns over all chunks, then a second
 *    one inside the chosen bin, to find the exact k-th largest |d| and how many of the entries
 *    equal to it belong to the top k, kept lowest index first (topk.ts) while mixing; with
 *    rescale, one more pass sums the L1 norms before and after masking, in index order.
 *  - random / della: the masks of sparsify.ts, computed chunk by chunk (whole rows for DELLA)
 *    into packed bits, with the L1 norms.
 * A last pass applies masks, weights and rescale factors in the in-memory order of operations,
 * elects and mixes (combineTaskVectors) and encodes each chunk.
 */
import { Rng } from "../core/rng.js";
import { encodeStored, outputBytes, storedDecoder, CHUNK_ELEMENTS, type ChunkJob, type ChunkResult } from "./chunked.js";
import { bernoulliMask, dellaMask } from "./methods/sparsify.js";
import { checkDellaEpsilon, combineTaskVectors, rescaleFactor, type TaskVectorVariant } from "./methods/task-vectors.js";
import { ABS_HISTOGRAM_BINS, countHighBits, countLowBits, pickHighBin, pickThreshold } from "./methods/topk.js";
import { MethodError, bool, num } from "./methods/types.js";

/** A non-finite input element: reported by the caller with the file's name. */
class NonFinite {
  constructor(readonly input: number, readonly element: number) {}
}

interface ModelPlan {
  weight: number;
  /** DARE / DELLA: packed keep bits (bit i & 7 of byte i >> 3). */
  keep?: Uint8Array;
  /** TIES / breadcrumbs: the kept band by |d| rank, decided again in index order while mixing. */
  band?: Band;
  /** TIES's fused path weighs before rescaling; the other sparsifiers rescale, then weigh. */
  weightFirst: boolean;
  factor?: number;
}

export function mergeTaskVectorChunks(job: ChunkJob, variant: TaskVectorVariant): ChunkResult {
  if (!job.hasBase) throw new MethodError(`${variant.name} needs a base model`);
  const n = job.elements;
  const count = job.raws.length - 1;
  const rowLength = job.shape.length >= 1 ? job.shape[job.shape.length - 1] : n;
  // Whole rows per chunk: DELLA ranks within rows.
  const rows = Math.max(1, Math.floor((job.chunkElements ?? CHUNK_ELEMENTS) / Math.max(1, rowLength)));
  const step = Math.max(1, Math.min(n, rows * rowLength));
  const decode = storedDecoder(job);
  const out = outputBytes(job);
  const base = new Float32Array(step);
  const x = new Float32Array(step);
  const d = new Float32Array(step);
  const chunks = (visit: (start: number, len: number) => void) => {
    for (let start = 0; start < n; start += step) visit(start, Math.min(step, n - start));
  };
  /** d = x_m − base over one chunk, with the in-memory rounding (a float32 store). */
  const taskVector = (m: number, start: number, len: number, dst = d, decodedBase?: Float32Array): Float32Array => {
    const b = decodedBase ?? decode(count, start, base.subarray(0, len));
    const v = decode(m, start, x.subarray(0, len));
    const out = dst.subarray(0, len);
    let check = 0;
    for (let i = 0; i < len; i++) {
      out[i] = v[i] - b[i];
      check += out[i] - out[i];
    }
    if (check !== 0) {
      for (let i = 0; i < len; i++) {
        if (!Number.isFinite(v[i])) throw new NonFinite(m, start + i);
        if (!Number.isFinite(b[i])) throw new NonFinite(count, start + i);
      }
    }
    return out;
  };

  try {
    if (count === 0) {
      chunks((start, len) => encodeStored(decode(0, start, base.subarray(0, len)), job.outDtype, out, start));
      return { out };
    }
    const rescale = bool(job.global.rescale);
    const rng = new Rng(job.seed);
    // TIES / breadcrumbs thresholds of every model at once (no random stream involved), so each
    // histogram pass decodes the base once per chunk.
    const rankModels = new Map<number, number[]>();
    for (let m = 0; m < count; m++) {
      const p = job.modelParams[m];
      const density = num(p.density ?? 1, "density");
      if (density >= 1) continue;
      if (variant.sparsifier === "magnitude") rankModels.set(m, [Math.trunc(density * n)]);
      if (variant.sparsifier === "outliers") rankModels.set(m, outlierRanks(n, density, num(p.gamma ?? 0.01, "gamma")));
    }
    const thresholds = selectTopK(rankModels, n, (visit) => chunks((start, len) => {
      const b = decode(count, start, base.subarray(0, len));
      for (const m of rankModels.keys()) visit(m, bitsOf(taskVector(m, start, len, d, b)));
    }));
    const plans: ModelPlan[] = [];
    for (let m = 0; m < count; m++) {
      const p = job.modelParams[m];
      const weight = num(p.weight, "weight");
      const density = num(p.density ?? 1, "density");
      const sparsifier = variant.sparsifier;
      if (!sparsifier || density >= 1) {
        plans.push({ weight, weightFirst: true });
        continue;
      }
      checkDellaEpsilon(variant, density, num(p.epsilon ?? 0.15, "epsilon"));
      if (sparsifier === "magnitude" || sparsifier === "outliers") {
        const [upper, top = NONE] = thresholds.get(m)!;
        const band: Band = { upper: upper.threshold, upperTies: upper.ties, top: top.threshold, topTies: top.ties };
        // The mask is recomputed from the thresholds when mixing; only rescale needs a pass now.
        let factor: number | undefined;
        if (rescale) {
          const probe = { ...band };
          let before = 0;
          let after = 0;
          chunks((start, len) => {
            const t = taskVector(m, start, len);
            const bits = bitsOf(t);
            for (let i = 0; i < len; i++) {
              const mag = Math.abs(t[i]);
              before += mag;
              if (inBand(probe, bits[i] & 0x7fffffff)) after += mag;
            }
          });
          factor = rescaleFactor(rescale, before, after);
        }
        plans.push({ weight, band, weightFirst: sparsifier === "magnitude", ...(factor !== undefined ? { factor } : {}) });
        continue;
      }
      const keep = new Uint8Array((n + 7) >>> 3);
      let before = 0;
      let after = 0;
      const epsilon = num(p.epsilon ?? 0.15, "epsilon");
      chunks((start, len) => {
        const t = taskVector(m, start, len);
        const mask = sparsifier === "random"
          ? bernoulliMask(len, density, rng)
          : density <= 0 ? new Uint8Array(len) : dellaMask(t, density, epsilon, rowLength, rng);
        for (let i = 0; i < len; i++) {
          const mag = Math.abs(t[i]);
          before += mag;
          if (mask[i]) {
            after += mag;
            keep[(start + i) >>> 3] |= 1 << ((start + i) & 7);
          }
        }
      });
      const factor = rescaleFactor(rescale, before, after);
      plans.push({ weight, keep, weightFirst: false, ...(factor !== undefined ? { factor } : {}) });
    }

    const weighted = plans.map(() => new Float32Array(step));
    const merged = new Float32Array(step);
    const weights = plans.map((p) => p.weight);
    const normalize = bool(job.global.normalize);
    const lambda = num(job.global.lambda ?? 1, "lambda");
    let nanOutput = -1;
    chunks((start, len) => {
      if (nanOutput >= 0) return;
      const b = decode(count, start, base.subarray(0, len));
      for (let m = 0; m < count; m++) weigh(taskVector(m, start, len, weighted[m], b), plans[m], start);
      const o = merged.subarray(0, len);
      combineTaskVectors(variant, { weighted: weighted.map((w) => w.subarray(0, len)), weights, base: b, out: o, normalize, lambda });
      let check = 0;
      for (let i = 0; i < len; i++) check += o[i] - o[i];
      if (check !== 0) {
        nanOutput = start + o.findIndex((v) => !Number.isFinite(v));
        return;
      }
      encodeStored(o, job.outDtype, out, start);
    });
    if (nanOutput >= 0) return { nanOutput };
    return { out };
  } catch (e) {
    if (e instanceof NonFinite) return { nanInput: e.input, element: e.element };
    throw e;
  }
}

/**
 * The entries ranked (|d| descending, ties by lowest index) below the top `top` and within the top
 * `upper`, as bandMask: thresholds are bit patterns, tie counters count down in index order.
 */
interface Band {
  upper: number;
  upperTies: number;
  top: number;
  topTies: number;
}

/** Whether the next entry (in index order) with |d| bits `a` is in the band; advances the counters. */
function inBand(b: Band, a: number): boolean {
  // Both counters advance on every tie, as topKMask's two passes do in bandMask.
  const inUpper = a > b.upper || (a === b.upper && b.upperTies-- > 0);
  const inTop = a > b.top || (a === b.top && b.topTies-- > 0);
  return inUpper && !inTop;
}

/** In place: d becomes the model's weighted, masked, rescaled contribution, rounded as in memory. */
function weigh(d: Float32Array, plan: ModelPlan, start: number): void {
  const { weight, keep, band, factor } = plan;
  if (!keep && !band) {
    for (let i = 0; i < d.length; i++) d[i] *= weight;
    return;
  }
  const bits = bitsOf(d);
  for (let i = 0; i < d.length; i++) {
    const j = start + i;
    const kept = band ? inBand(band, bits[i] & 0x7fffffff) : (keep![j >>> 3] >>> (j & 7)) & 1;
    let v: number;
    if (plan.weightFirst) {
      v = kept ? Math.fround(d[i] * weight) : 0;
      if (factor !== undefined) v = Math.fround(v * factor);
    } else {
      v = kept ? d[i] : 0;
      if (factor !== undefined) v = Math.fround(v * factor);
      v *= weight;
    }
    d[i] = v;
  }
}

function bitsOf(x: Float32Array): Uint32Array {
  return new Uint32Array(x.buffer, x.byteOffset, x.length);
}

/** Breadcrumbs (outliersMask in sparsify.ts): keep the top (skip + target), minus the top skip. */
function outlierRanks(n: number, density: number, gamma: number): number[] {
  const target = Math.trunc(density * n);
  let top = Math.trunc(gamma * n);
  if (n - target - top < 0) top = n - target;
  return [top + target, top];
}

/** Keeps nothing: no 31-bit |d| pattern exceeds or equals it. */
const NONE = { threshold: 0x80000000, ties: 0 };
/** Keeps everything. */
const ALL = { threshold: -1, ties: 0 };

/**
 * For each model and each of its ranks k, the k-th largest |d| bit pattern and how many entries
 * equal to it belong to the top k (lowest index first), as topKMask decides: an entry is kept when
 * its |d| exceeds the threshold, or equals it while ties remain (counted down in index order).
 * `scan` visits every model's bit patterns chunk by chunk in index order; it runs twice (two
 * histogram passes).
 */
function selectTopK(
  ranks: Map<number, number[]>,
  n: number,
  scan: (visit: (model: number, bits: Uint32Array) => void) => void,
): Map<number, { threshold: number; ties: number }[]> {
  const active = new Map([...ranks].map(([m, ks]) => [m, ks.filter((k) => k > 0 && k < n)] as const).filter(([, ks]) => ks.length > 0));
  const found = new Map<number, Map<number, { threshold: number; ties: number }>>();
  if (active.size) {
    const high = new Map([...active.keys()].map((m) => [m, new Uint32Array(ABS_HISTOGRAM_BINS)]));
    scan((m, bits) => {
      const h = high.get(m);
      if (h) countHighBits(bits, h);
    });
    const picks = new Map([...active].map(([m, ks]) => [m, ks.map((k) => ({ k, pick: pickHighBin(high.get(m)!, k), low: new Uint32Array(ABS_HISTOGRAM_BINS) }))]));
    high.clear();
    scan((m, bits) => {
      for (const p of picks.get(m) ?? []) countLowBits(bits, p.pick.bin, p.low);
    });
    for (const [m, ps] of picks) found.set(m, new Map(ps.map((p) => [p.k, pickThreshold(p.low, p.pick)])));
  }
  return new Map([...ranks].map(([m, ks]) => [m, ks.map((k) => (k <= 0 ? NONE : k >= n ? ALL : found.get(m)!.get(k)!))]));
}
