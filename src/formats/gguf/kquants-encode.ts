/**
 * ggml's reference K-quant encoders (the `quantize_row_*_K_ref` path llama-quantize takes without
 * an importance matrix), bit-exact: every intermediate is a C `float` (Math.fround) and rounding
 * is ggml's `nearest_int` (round half to even through the 1.5·2²³ trick).
 *
 * - Q4_K / Q5_K: each 32-element sub-block gets a scale and a min by a weighted least-squares
 *   search over candidate grids (`fitScaleMin`, ggml's make_qkx2_quants); the eight scales and
 *   mins are then themselves quantized to 6 bits against the super-block's d and dmin.
 * - Q6_K: each 16-element sub-block gets a signed scale by an RMSE search over 19 grids
 *   (`fitSignedScale`, ggml's make_qx_quants with rmse_type 1); scales are quantized to int8.
 */
import { Q4_K_BLOCK_BYTES, Q5_K_BLOCK_BYTES, Q6_K_BLOCK_BYTES, QK_K, scaleMinK4 } from "./kquants.js";
import { checkFinite, getHalf, putHalf } from "./quants.js";

const f32 = Math.fround;
/** Below this a sub-block counts as all zero (ggml's GROUP_MAX_EPS). */
const GROUP_MAX_EPS = f32(1e-15);
/** Scratch codes of the candidate grid being scored (sub-blocks are at most 32 long). */
const AUX = new Uint8Array(32);
/** C's `0.1f`. */
const TENTH = f32(0.1);

/** ggml's nearest_int: float32 round half to even. */
function nearestInt(v: number): number {
  return f32(v + 12582912) - 12582912;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/**
 * Codes 0..nmax of `x[at..at+n)` in `L[0..n)` and (scale, −min) minimising Σ w·(scale·L + min − x)² over a
 * grid of `nstep + 1` candidate inverse scales.
 */
function fitScaleMin(
  x: Float32Array, at: number, n: number, nmax: number, w: Float32Array, L: Uint8Array,
  rmin: number, rdelta: number, nstep: number,
): [scale: number, negMin: number] {
  const aux = AUX.subarray(0, n);
  let min = x[at];
  let max = x[at];
  let sumW = w[0];
  let sumX = f32(sumW * x[at]);
  for (let i = 1; i < n; i++) {
    const v = x[at + i];
    if (v < min) min = v;
    if (v > max) max = v;
    sumW = f32(sumW + w[i]);
    sumX = f32(sumX + f32(w[i] * v));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, 0, n);
    return [0, -min];
  }
  let iscale = f32(nmax / f32(max - min));
  let scale = f32(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = clamp(nearestInt(f32(iscale * f32(x[at + i] - min))), 0, nmax);
    L[i] = l;
    const diff = f32(f32(f32(scale * l) + min) - x[at + i]);
    bestError = f32(bestError + f32(w[i] * f32(diff * diff)));
  }
  for (let is = 0; is <= nstep; is++) {
    // ggml moves `min` to each better fit, so later grids span max − (that min).
    iscale = f32(f32(f32(rmin + f32(rdelta * is)) + nmax) / f32(max - min));
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = clamp(nearestInt(f32(iscale * f32(x[at + i] - min))), 0, nmax);
      aux[i] = l;
      const wl = f32(w[i] * l);
      sumL = f32(sumL + wl);
      sumL2 = f32(sumL2 + f32(wl * l));
      sumXL = f32(sumXL + f32(wl * x[at + i]));
    }
    const D = f32(f32(sumW * sumL2) - f32(sumL * sumL));
    if (!(D > 0)) continue;
    let thisScale = f32(f32(f32(sumW * sumXL) - f32(sumX * sumL)) / D);
    let thisMin = f32(f32(f32(sumL2 * sumX) - f32(sumL * sumXL)) / D);
    if (thisMin > 0) {
      thisMin = 0;
      thisScale = f32(sumXL / sumL2);
    }
    let error = 0;
    for (let i = 0; i < n; i++) {
      const diff = f32(f32(f32(thisScale * aux[i]) + thisMin) - x[at + i]);
      error = f32(error + f32(w[i] * f32(diff * diff)));
    }
    if (error < bestError) {
      L.set(aux);
      bestError = error;
      scale = thisScale;
      min = thisMin;
    }
  }
  return [scale, -min];
}

/** The sqrt(mean x²) + |x| weights ggml gives each element of a 32-element sub-block. */
function subBlockWeights(x: Float32Array, at: number, w: Float32Array): void {
  let sumX2 = 0;
  for (let l = 0; l < 32; l++) sumX2 = f32(sumX2 + f32(x[at + l] * x[at + l]));
  const av = f32(Math.sqrt(f32(sumX2 / 32)));
  for (let l = 0; l < 32; l++) w[l] = f32(av + Math.abs(x[at + l]));
}

/** Shared body of Q4_K (nmax 15) and Q5_K (nmax 31): header, packed scales, codes in `L`. */
function encodeScaleMinBlock(x: Float32Array, at: number, out: Uint8Array, o: number, L: Uint8Array, nmax: 15 | 31): void {
  const w = new Float32Array(32);
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    subBlockWeights(x, at + 32 * j, w);
    const [scale, min] = nmax === 15
      ? fitScaleMin(x, at + 32 * j, 32, 15, w, L.subarray(32 * j), -1, TENTH, 20)
      : fitScaleMin(x, at + 32 * j, 32, 31, w, L.subarray(32 * j), -0.5, TENTH, 15);
    scales[j] = scale;
    mins[j] = min;
    if (scales[j] > maxScale) maxScale = scales[j];
    if (mins[j] > maxMin) maxMin = mins[j];
  }
  const invScale = maxScale > 0 ? f32(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? f32(63 / maxMin) : 0;
  const s = o + 4;
  for (let j = 0; j < 8; j++) {
    const ls = Math.min(63, nearestInt(f32(invScale * scales[j])) & 0xff);
    const lm = Math.min(63, nearestInt(f32(invMin * mins[j])) & 0xff);
    if (j < 4) {
      out[s + j] = ls;
      out[s + j + 4] = lm;
    } else {
      out[s + j + 4] = (ls & 0x0f) | ((lm & 0x0f) << 4);
      out[s + j - 4] |= (ls >> 4) << 6;
      out[s + j] |= (lm >> 4) << 6;
    }
  }
  putHalf(out, o, f32(maxScale / 63));
  putHalf(out, o + 2, f32(maxMin / 63));
  const d = getHalf(out, o);
  const dmin = getHalf(out, o + 2);
  for (let j = 0; j < 8; j++) {
    const [sc, m] = scaleMinK4(j, out, s);
    const dj = f32(d * sc);
    if (dj === 0) continue;
    const dm = f32(dmin * m);
    for (let i = 0; i < 32; i++) {
      L[32 * j + i] = clamp(nearestInt(f32(f32(x[at + 32 * j + i] + dm) / dj)), 0, nmax);
    }
  }
}

function checkSuperBlocks(x: Float32Array, dtype: string): void {
  if (x.length % QK_K !== 0) throw new RangeError(`${dtype} needs a multiple of ${QK_K} elements, got ${x.length}`);
  checkFinite(x, dtype);
}

export function quantizeQ4_K(x: Float32Array): Uint8Array {
  checkSuperBlocks(x, "Q4_K");
  const nb = x.length / QK_K;
  const out = new Uint8Array(nb * Q4_K_BLOCK_BYTES);
  const L = new Uint8Array(QK_K);
  for (let b = 0; b < nb; b++) {
    const o = b * Q4_K_BLOCK_BYTES;
    encodeScaleMinBlock(x, b * QK_K, out, o, L, 15);
    for (let j = 0; j < 4; j++) {
      for (let l = 0; l < 32; l++) out[o + 16 + 32 * j + l] = L[64 * j + l] | (L[64 * j + l + 32] << 4);
    }
  }
  return out;
}

export function quantizeQ5_K(x: Float32Array): Uint8Array {
  checkSuperBlocks(x, "Q5_K");
  const nb = x.length / QK_K;
  const out = new Uint8Array(nb * Q5_K_BLOCK_BYTES);
  const L = new Uint8Array(QK_K);
  for (let b = 0; b < nb; b++) {
    const o = b * Q5_K_BLOCK_BYTES;
    encodeScaleMinBlock(x, b * QK_K, out, o, L, 31);
    const qh = o + 16;
    for (let j = 0; j < 4; j++) {
      const m1 = 1 << (2 * j);
      const m2 = m1 << 1;
      for (let l = 0; l < 32; l++) {
        const l1 = L[64 * j + l];
        const l2 = L[64 * j + l + 32];
        if (l1 > 15) out[qh + l] |= m1;
        if (l2 > 15) out[qh + l] |= m2;
        out[o + 48 + 32 * j + l] = (l1 & 0x0f) | ((l2 & 0x0f) << 4);
      }
    }
  }
  return out;
}

/**
 * Codes −nmax..nmax−1 (stored +nmax) of `x[at..at+n)` in `L[0..n)` and the signed scale minimising the
 * x²-weighted error over 19 candidate grids around −nmax / (value of largest magnitude).
 */
function fitSignedScale(x: Float32Array, at: number, n: number, nmax: number, L: Uint8Array): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[at + i]);
    if (ax > amax) {
      amax = ax;
      max = x[at + i];
    }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, 0, n);
    return 0;
  }
  const sums = (iscale: number, store: boolean): [sumLX: number, sumL2: number] => {
    let sumLX = 0, sumL2 = 0;
    for (let i = 0; i < n; i++) {
      const v = x[at + i];
      const l = clamp(nearestInt(f32(iscale * v)), -nmax, nmax - 1);
      if (store) L[i] = l + nmax;
      const w = f32(v * v);
      sumLX = f32(sumLX + f32(f32(w * v) * l));
      sumL2 = f32(sumL2 + f32(f32(w * l) * l));
    }
    return [sumLX, sumL2];
  };
  let [sumLX, sumL2] = sums(f32(-nmax / max), true);
  let scale = sumL2 !== 0 ? f32(sumLX / sumL2) : 0;
  let best = f32(scale * sumLX);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    const iscale = f32(f32(-f32(nmax + f32(TENTH * is))) / max);
    [sumLX, sumL2] = sums(iscale, false);
    if (sumL2 > 0 && f32(sumLX * sumLX) > f32(best * sumL2)) {
      sums(iscale, true);
      scale = f32(sumLX / sumL2);
      best = f32(scale * sumLX);
    }
  }
  return scale;
}

export function quantizeQ6_K(x: Float32Array): Uint8Array {
  checkSuperBlocks(x, "Q6_K");
  const nb = x.length / QK_K;
  const out = new Uint8Array(nb * Q6_K_BLOCK_BYTES);
  const L = new Uint8Array(QK_K);
  const scales = new Float32Array(16);
  for (let b = 0; b < nb; b++) {
    const at = b * QK_K;
    const o = b * Q6_K_BLOCK_BYTES;
    let maxScale = 0;
    let maxAbsScale = 0;
    for (let ib = 0; ib < 16; ib++) {
      scales[ib] = fitSignedScale(x, at + 16 * ib, 16, 32, L.subarray(16 * ib));
      const abs = Math.abs(scales[ib]);
      if (abs > maxAbsScale) {
        maxAbsScale = abs;
        maxScale = scales[ib];
      }
    }
    if (maxAbsScale < GROUP_MAX_EPS) continue; // an all-zero block: every byte 0, d = +0
    const iscale = f32(-128 / maxScale);
    putHalf(out, o + 208, f32(1 / iscale));
    const d = getHalf(out, o + 208);
    for (let ib = 0; ib < 16; ib++) {
      const sc = Math.min(127, nearestInt(f32(iscale * scales[ib])));
      out[o + 192 + ib] = sc & 0xff;
      const dj = f32(d * sc);
      if (dj === 0) continue;
      for (let i = 0; i < 16; i++) L[16 * ib + i] = clamp(nearestInt(f32(x[at + 16 * ib + i] / dj)), -32, 31) + 32;
    }
    for (let half = 0; half < 2; half++) {
      const ql = o + 64 * half;
      const qh = o + 128 + 32 * half;
      const j = 128 * half;
      for (let l = 0; l < 32; l++) {
        const q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
        out[ql + l] = (q1 & 0x0f) | ((q3 & 0x0f) << 4);
        out[ql + l + 32] = (q2 & 0x0f) | ((q4 & 0x0f) << 4);
        out[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
      }
    }
  }
  return out;
}
