/**
 * ggml's 32-element block quantizations, bit-exact with ggml's reference (non-SIMD) code:
 *
 * - Q8_0: 34-byte blocks `{ d: f16, qs: i8[32] }`; d = amax / 127, q = round(x / d) (ties away
 *   from zero, computed as x · (1/d) in float32); x ≈ d · q.
 * - Q4_0: 18-byte blocks `{ d: f16, qs: u8[16] }`; d = max / -8 where max is the signed value of
 *   largest magnitude (the first one on ties), q = min(15, trunc(x / d + 8.5)); byte j holds
 *   element j in its low nibble and element j + 16 in its high nibble; x ≈ d · (q − 8).
 *
 * All arithmetic is float32 (Math.fround) so results match C `float` code exactly.
 */
import { f16ToF32, f32BitsToF16 } from "../../core/half.js";

export const QK = 32;
export const Q8_0_BLOCK_BYTES = 34;
export const Q4_0_BLOCK_BYTES = 18;

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

function checkFinite(x: Float32Array, dtype: string): void {
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

export function quantizeQ4_0(x: Float32Array): Uint8Array {
  checkBlocks(x.length, "Q4_0");
  checkFinite(x, "Q4_0");
  const nb = x.length / QK;
  const out = new Uint8Array(nb * Q4_0_BLOCK_BYTES);
  for (let b = 0; b < nb; b++) {
    const base = b * QK;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[base + j];
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
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
