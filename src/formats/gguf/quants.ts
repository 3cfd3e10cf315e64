/**
 * ggml's 32-element block quantizations, bit-exact with ggml's reference (non-SIMD) code:
 *
 * - Q8_0: 34-byte blocks `{ d: f16, qs: i8[32] }`; d = amax / 127, q = round(x / d) (ties away
 *   from zero, computed as x · (1/d) in float32); x ≈ d · q.
 * - Q4_0: 18-byte blocks `{ d: f16, qs: u8[16] }`; d = max / -8 where max is the signed value of
 *   largest magnitude (the first one on ties), q = min(15, trunc(x / d + 8.5)); byte j holds
 *   element j in its low nibble and element j + 16 in its high nibble; x ≈ d · (q − 8).
 *
 * - Q4_1: 20-byte blocks `{ d: f16, m: f16, qs: u8[16] }`; m = min, d = (max − min) / 15,
 *   q = min(15, trunc((x − m) / d + 0.5)); x ≈ d · q + m. Nibbles laid out as Q4_0.
 * - Q5_0: 22-byte blocks `{ d: f16, qh: u32, qs: u8[16] }`; as Q4_0 with d = max / −16 and
 *   q = min(31, trunc(x / d + 16.5)); bit j of qh is the fifth bit of element j; x ≈ d · (q − 16).
 * - Q5_1: 24-byte blocks `{ d: f16, m: f16, qh: u32, qs: u8[16] }`; as Q4_1 with d = (max − min) / 31.
 *
 * All arithmetic is float32 (Math.fround) so results match C `float` code exactly.
 */
import { f16ToF32, f32BitsToF16 } from "../../core/half.js";

export const QK = 32;
export const Q8_0_BLOCK_BYTES = 34;
export const Q4_0_BLOCK_BYTES = 18;
export const Q4_1_BLOCK_BYTES = 20;
export const Q5_0_BLOCK_BYTES = 22;
export const Q5_1_BLOCK_BYTES = 24;

const f32 = Math.fround;
const scratchF32 = new Float32Array(1);
const scratchBits = new Uint32Array(scratchF32.buffer);

/** float32 → f16 bits, round to nearest even. */
export function toHalfBits(x: number): number {
  scratchF32[0] = x;
  return f32BitsToF16(scratchBits[0]);
}

let halfTable: Float32Array | undefined;

/** f16 bits → value (a table of all 65,536 halves, built once through core/half.ts). */
export function fromHalfBits(h: number): number {
  halfTable ??= f16ToF32(Uint16Array.from({ length: 65536 }, (_, i) => i));
  return halfTable[h];
}

/** C `roundf`: nearest integer, ties away from zero. */
function roundAway(v: number): number {
  return v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
}

/** Write an f16 at `out[o..o+2)`, little-endian. */
export function putHalf(out: Uint8Array, o: number, x: number): void {
  const h = toHalfBits(x);
  out[o] = h & 0xff;
  out[o + 1] = h >> 8;
}

/** Read the f16 at `bytes[o..o+2)`. */
export function getHalf(bytes: Uint8Array, o: number): number {
  return fromHalfBits(bytes[o] | (bytes[o + 1] << 8));
}

export function checkFinite(x: Float32Array, dtype: string): void {
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw new RangeError(`cannot quantize non-finite value ${x[i]} at element ${i} to ${dtype}`);
  }
}

function checkBlocks(n: number, dtype: string): void {
  if (n % QK !== 0) throw new RangeError(`${dtype} needs a multiple of ${QK} elements, got ${n}`);
}

export function quantizeQ8_0(x: Float32Array): Uint8Array {
  checkBlocks(x.length, "Q8_0");
  checkFinite(x, "Q8_0");
  const nb = x.length / QK;
  const out = new Uint8Array(nb * Q8_0_BLOCK_BYTES);
  const qs = new Int8Array(out.buffer);
  for (let b = 0; b < nb; b++) {
    const base = b * QK;
    let amax = 0;
    for (let j = 0; j < QK; j++) {
      const a = Math.abs(x[base + j]);
      if (a > amax) amax = a;
    }
    const d = f32(amax / 127);
    const id = d !== 0 ? f32(1 / d) : 0;
    const o = b * Q8_0_BLOCK_BYTES;
    const h = toHalfBits(d);
    out[o] = h & 0xff;
    out[o + 1] = h >> 8;
    for (let j = 0; j < QK; j++) qs[o + 2 + j] = roundAway(f32(x[base + j] * id));
  }
  return out;
}

export function dequantizeQ8_0(bytes: Uint8Array, count: number, out: Float32Array = new Float32Array(count)): Float32Array {
  const qs = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < count / QK; b++) {
    const o = b * Q8_0_BLOCK_BYTES;
    const d = fromHalfBits(bytes[o] | (bytes[o + 1] << 8));
    for (let j = 0; j < QK; j++) out[b * QK + j] = f32(d * qs[o + 2 + j]);
  }
  return out;
}

/** The block's value of largest magnitude, with its sign (the first one on ties, as ggml does). */
function signedAbsMax(x: Float32Array, base: number): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < QK; j++) {
    const v = x[base + j];
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

export function quantizeQ4_0(x: Float32Array): Uint8Array {
  checkBlocks(x.length, "Q4_0");
  checkFinite(x, "Q4_0");
  const nb = x.length / QK;
  const out = new Uint8Array(nb * Q4_0_BLOCK_BYTES);
  for (let b = 0; b < nb; b++) {
    const base = b * QK;
    const max = signedAbsMax(x, base);
    const d = f32(max / -8);
    const id = d !== 0 ? f32(1 / d) : 0;
    const o = b * Q4_0_BLOCK_BYTES;
    const h = toHalfBits(d);
    out[o] = h & 0xff;
    out[o + 1] = h >> 8;
    for (let j = 0; j < QK / 2; j++) {
      const lo = Math.min(15, Math.trunc(f32(f32(x[base + j] * id) + 8.5)));
      const hi = Math.min(15, Math.trunc(f32(f32(x[base + j + QK / 2] * id) + 8.5)));
      out[o + 2 + j] = lo | (hi << 4);
    }
  }
  return out;
}

export function dequantizeQ4_0(bytes: Uint8Array, count: number, out: Float32Array = new Float32Array(count)): Float32Array {
  for (let b = 0; b < count / QK; b++) {
    const o = b * Q4_0_BLOCK_BYTES;
    const d = fromHalfBits(bytes[o] | (bytes[o + 1] << 8));
    for (let j = 0; j < QK / 2; j++) {
      const q = bytes[o + 2 + j];
      out[b * QK + j] = f32(((q & 0x0f) - 8) * d);
      out[b * QK + j + QK / 2] = f32(((q >> 4) - 8) * d);
    }
  }
  return out;
}

/** Lowest and highest value of one 32-element block. */
function blockRange(x: Float32Array, base: number): [min: number, max: number] {
  let min = Infinity;
  let max = -Infinity;
  for (let j = 0; j < QK; j++) {
    const v = x[base + j];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

/** Q4_1 (`bits` 4) and Q5_1 (`bits` 5): an offset and a scale per block, unsigned codes. */
function quantizeWithMin(x: Float32Array, bits: 4 | 5): Uint8Array {
  const dtype = bits === 4 ? "Q4_1" : "Q5_1";
  checkBlocks(x.length, dtype);
  checkFinite(x, dtype);
  const blockBytes = bits === 4 ? Q4_1_BLOCK_BYTES : Q5_1_BLOCK_BYTES;
  const qsAt = bits === 4 ? 4 : 8;
  const nb = x.length / QK;
  const out = new Uint8Array(nb * blockBytes);
  for (let b = 0; b < nb; b++) {
    const base = b * QK;
    const [min, max] = blockRange(x, base);
    const d = f32(f32(max - min) / ((1 << bits) - 1));
    const id = d !== 0 ? f32(1 / d) : 0;
    const o = b * blockBytes;
    putHalf(out, o, d);
    putHalf(out, o + 2, min);
    let qh = 0;
    for (let j = 0; j < QK / 2; j++) {
      const q0 = Math.trunc(f32(f32(f32(x[base + j] - min) * id) + 0.5));
      const q1 = Math.trunc(f32(f32(f32(x[base + j + QK / 2] - min) * id) + 0.5));
      // ggml clamps only the 4-bit codes (its 5-bit codes cannot exceed 31 + rounding).
      const lo = bits === 4 ? Math.min(15, q0) : q0 & 31;
      const hi = bits === 4 ? Math.min(15, q1) : q1 & 31;
      out[o + qsAt + j] = (lo & 0x0f) | ((hi & 0x0f) << 4);
      qh |= ((lo >> 4) << j) | ((hi >> 4) << (j + QK / 2));
    }
    if (bits === 5) putU32(out, o + 4, qh);
  }
  return out;
}

function putU32(out: Uint8Array, o: number, v: number): void {
  out[o] = v & 0xff;
  out[o + 1] = (v >>> 8) & 0xff;
  out[o + 2] = (v >>> 16) & 0xff;
  out[o + 3] = (v >>> 24) & 0xff;
}

function getU32(bytes: Uint8Array, o: number): number {
  return (bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16) | (bytes[o + 3] << 24)) >>> 0;
}

export function quantizeQ4_1(x: Float32Array): Uint8Array {
  return quantizeWithMin(x, 4);
}

export function quantizeQ5_1(x: Float32Array): Uint8Array {
  return quantizeWithMin(x, 5);
}

export function quantizeQ5_0(x: Float32Array): Uint8Array {
  checkBlocks(x.length, "Q5_0");
  checkFinite(x, "Q5_0");
  const nb = x.length / QK;
  const out = new Uint8Array(nb * Q5_0_BLOCK_BYTES);
  for (let b = 0; b < nb; b++) {
    const base = b * QK;
    const max = signedAbsMax(x, base);
    const d = f32(max / -16);
    const id = d !== 0 ? f32(1 / d) : 0;
    const o = b * Q5_0_BLOCK_BYTES;
    putHalf(out, o, d);
    let qh = 0;
    for (let j = 0; j < QK / 2; j++) {
      const lo = Math.min(31, Math.trunc(f32(f32(x[base + j] * id) + 16.5)));
      const hi = Math.min(31, Math.trunc(f32(f32(x[base + j + QK / 2] * id) + 16.5)));
      out[o + 6 + j] = (lo & 0x0f) | ((hi & 0x0f) << 4);
      qh |= ((lo >> 4) << j) | ((hi >> 4) << (j + QK / 2));
    }
    putU32(out, o + 2, qh);
  }
  return out;
}

export function dequantizeQ4_1(bytes: Uint8Array, count: number, out: Float32Array = new Float32Array(count)): Float32Array {
  for (let b = 0; b < count / QK; b++) {
    const o = b * Q4_1_BLOCK_BYTES;
    const d = getHalf(bytes, o);
    const m = getHalf(bytes, o + 2);
    for (let j = 0; j < QK / 2; j++) {
      const q = bytes[o + 4 + j];
      out[b * QK + j] = f32(f32((q & 0x0f) * d) + m);
      out[b * QK + j + QK / 2] = f32(f32((q >> 4) * d) + m);
    }
  }
  return out;
}

/** Q5_0 (`withMin` false: x = d·(q − 16)) and Q5_1 (x = d·q + m). */
function dequantize5(bytes: Uint8Array, count: number, out: Float32Array, withMin: boolean): Float32Array {
  const blockBytes = withMin ? Q5_1_BLOCK_BYTES : Q5_0_BLOCK_BYTES;
  const qhAt = withMin ? 4 : 2;
  for (let b = 0; b < count / QK; b++) {
    const o = b * blockBytes;
    const d = getHalf(bytes, o);
    const m = withMin ? getHalf(bytes, o + 2) : 0;
    const qh = getU32(bytes, o + qhAt);
    for (let j = 0; j < QK / 2; j++) {
      const q = bytes[o + qhAt + 4 + j];
      const q0 = (q & 0x0f) | (((qh >>> j) & 1) << 4);
      const q1 = (q >> 4) | (((qh >>> (j + QK / 2)) & 1) << 4);
      out[b * QK + j] = withMin ? f32(f32(q0 * d) + m) : f32((q0 - 16) * d);
      out[b * QK + j + QK / 2] = withMin ? f32(f32(q1 * d) + m) : f32((q1 - 16) * d);
    }
  }
  return out;
}

export function dequantizeQ5_0(bytes: Uint8Array, count: number, out: Float32Array = new Float32Array(count)): Float32Array {
  return dequantize5(bytes, count, out, false);
}

export function dequantizeQ5_1(bytes: Uint8Array, count: number, out: Float32Array = new Float32Array(count)): Float32Array {
  return dequantize5(bytes, count, out, true);
}
