/**
 * Linear merging of up to three bf16 tensors into bf16 in one fused pass over the stored words:
 * each 32-bit load brings two elements of a model, widened by shifts, summed in double precision in
 * the order of methods/linear.ts, stored as float32 and rounded to bf16 (nearest even) in registers.
 * Nothing is decoded into intermediate arrays and nothing is allocated per chunk, which made the
 * generic chunked path (decode, merge, check, encode: four passes) about twice as slow.
 *
 * Gives the same bytes as the generic path; a non-finite value anywhere makes it decline, and the
 * generic path then names the input (or reports the output) as it always did.
 */
import { outputBytes, type ChunkJob, type ChunkResult } from "./chunked.js";
import { linearWeights } from "./methods/linear.js";

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The merged bytes, or undefined when this job is not one the fused kernel handles. */
export function linearBf16(job: ChunkJob): ChunkResult | undefined {
  const count = job.hasBase ? job.raws.length - 1 : job.raws.length;
  if (job.method !== "linear" || !littleEndian || count < 1 || count > 3 || job.outDtype !== "BF16") return undefined;
  for (let m = 0; m < count; m++) if (job.dtypes[m] !== "BF16" || job.raws[m].byteOffset % 4 !== 0) return undefined;
  const { weights, scale } = linearWeights(job.modelParams, job.global);
  const n = job.elements;
  const pairs = n >>> 1;
  const out = outputBytes(job);
  if (out.byteOffset % 4 !== 0) return undefined;
  const words = job.raws.slice(0, count).map((r) => new Uint32Array(r.buffer, r.byteOffset, pairs));
  let check = mergePairs(words, new Uint32Array(out.buffer, out.byteOffset, pairs), pairs, weights, scale);
  if (n & 1) {
    // The odd last element: as the low half of a pair whose high half is +0.
    const last = job.raws.slice(0, count).map((r) => Uint32Array.of(new Uint16Array(r.buffer, r.byteOffset, n)[n - 1]));
    const word = new Uint32Array(1);
    check += mergePairs(last, word, 1, weights, scale);
    new Uint16Array(out.buffer, out.byteOffset, n)[n - 1] = word[0] & 0xffff;
  }
  // x − x is 0 for finite x and NaN otherwise.
  return check === 0 ? { out } : undefined;
}

/**
 * Merges `pairs` words of two bf16 elements each into `o`; returns Σ (y − y) over the float32
 * results (0 unless one is not finite). `bits` is scratch whose float32 view `f` reads the widened
 * bits: lanes 0–2 and 3–5 the models' low and high elements, 6 and 7 the results. One loop per
 * model count, so the sum has the exact shape of methods/linear.ts.
 */
function mergePairs(x: Uint32Array[], o: Uint32Array, pairs: number, weights: number[], scale: number): number {
  const bits = new Uint32Array(8);
  const f = new Float32Array(bits.buffer);
  const [x0, x1, x2] = [x[0], x[1] ?? x[0], x[2] ?? x[0]];
  const [w0, w1, w2] = [weights[0], weights[1] ?? 0, weights[2] ?? 0];
  let check = 0;
  if (x.length === 3) {
    for (let p = 0; p < pairs; p++) {
      const a = x0[p], b = x1[p], c = x2[p];
      bits[0] = a << 16; bits[1] = b << 16; bits[2] = c << 16;
      bits[3] = a & 0xffff0000; bits[4] = b & 0xffff0000; bits[5] = c & 0xffff0000;
      f[6] = (w0 * f[0] + w1 * f[1] + w2 * f[2]) * scale;
      f[7] = (w0 * f[3] + w1 * f[4] + w2 * f[5]) * scale;
      check += f[6] - f[6] + (f[7] - f[7]);
      o[p] = roundPair(bits[6], bits[7]);
    }
  } else if (x.length === 2) {
    for (let p = 0; p < pairs; p++) {
      const a = x0[p], b = x1[p];
      bits[0] = a << 16; bits[1] = b << 16;
      bits[3] = a & 0xffff0000; bits[4] = b & 0xffff0000;
      f[6] = (w0 * f[0] + w1 * f[1]) * scale;
      f[7] = (w0 * f[3] + w1 * f[4]) * scale;
      check += f[6] - f[6] + (f[7] - f[7]);
      o[p] = roundPair(bits[6], bits[7]);
    }
  } else {
    for (let p = 0; p < pairs; p++) {
      const a = x0[p];
      bits[0] = a << 16;
      bits[3] = a & 0xffff0000;
      f[6] = w0 * f[0] * scale;
      f[7] = w0 * f[3] * scale;
      check += f[6] - f[6] + (f[7] - f[7]);
      o[p] = roundPair(bits[6], bits[7]);
    }
  }
  return check;
}

/**
 * Two finite float32 bit patterns rounded to bf16 (nearest even: add 0x7fff plus the lowest kept
 * bit, keep the upper 16 bits), packed low then high.
 */
function roundPair(lo: number, hi: number): number {
  return (((lo + 0x7fff + ((lo >>> 16) & 1)) >>> 16) | ((hi + 0x7fff + ((hi >>> 16) & 1)) & 0xffff0000)) >>> 0;
}
