/**
 * Fast half-precision conversions. F16 → F32 goes through a 65,536-entry table of float32 bit
 * patterns (exact, NaN payloads kept); BF16 → F32 is a shift. F32 → F16 and F32 → BF16 round to
 * nearest even, as PyTorch and numpy do, and keep NaN a NaN.
 *
 * Speed: the loops work on 32-bit integer views (no float conversions) and, on little-endian
 * hosts with 4-byte-aligned 16-bit arrays, move two halves per 32-bit load or store.
 *
 * f16ToF32 and bf16ToF32 may decode in place: `src` may be a view of the upper half of `dst`'s
 * bytes (src = bytes [2n, 4n) of a 4n-byte dst), because the loops run forward and read each
 * element before the store that could overwrite it. The readers use this to avoid a temporary.
 */
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let f16Table: Uint32Array | undefined;

/** float32 bit pattern of every f16 bit pattern. */
function buildF16Table(): Uint32Array {
  const table = new Uint32Array(65536);
  const scratch = new Float32Array(1);
  const scratchBits = new Uint32Array(scratch.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 31) table[h] = (sign | 0x7f800000 | (mantissa << 13)) >>> 0; // inf, NaN (payload kept)
    else if (exponent !== 0) table[h] = (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
    else {
      scratch[0] = mantissa * 2 ** -24; // zero or subnormal, exact in float32
      table[h] = (sign | scratchBits[0]) >>> 0;
    }
  }
  return table;
}

/** A 32-bit view of a 16-bit array's pairs, when the host and alignment allow it. */
function pairView(src: Uint16Array): Uint32Array | undefined {
  if (!littleEndian || (src.byteOffset & 3) !== 0 || src.length < 2) return undefined;
  return new Uint32Array(src.buffer, src.byteOffset, src.length >>> 1);
}

export function f16ToF32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const table = (f16Table ??= buildF16Table());
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  const n = Math.min(src.length, dst.length);
  const words = pairView(src);
  let i = 0;
  if (words) {
    const pairs = n >>> 1;
    for (let p = 0; p < pairs; p++) {
      const w = words[p];
      out[2 * p] = table[w & 0xffff];
      out[2 * p + 1] = table[w >>> 16];
    }
    i = pairs * 2;
  }
  for (; i < n; i++) out[i] = table[src[i]];
  return dst;
}

export function bf16ToF32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  const n = Math.min(src.length, dst.length);
  const words = pairView(src);
  let i = 0;
  if (words) {
    const pairs = n >>> 1;
    for (let p = 0; p < pairs; p++) {
      const w = words[p];
      out[2 * p] = w << 16;
      out[2 * p + 1] = w & 0xffff0000;
    }
    i = pairs * 2;
  }
  for (; i < n; i++) out[i] = src[i] << 16;
  return dst;
}

function f32BitsToBf16(u: number): number {
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 0x40; // quiet NaN
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function f32ToBf16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const n = Math.min(src.length, dst.length);
  const words = pairView(dst);
  let i = 0;
  if (words) {
    const pairs = n >>> 1;
    for (let p = 0; p < pairs; p++) {
      words[p] = f32BitsToBf16(bits[2 * p]) | (f32BitsToBf16(bits[2 * p + 1]) << 16);
    }
    i = pairs * 2;
  }
  for (; i < n; i++) dst[i] = f32BitsToBf16(bits[i]);
  return dst;
}

export function f32ToF16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const n = Math.min(src.length, dst.length);
  const words = pairView(dst);
  let i = 0;
  if (words) {
    const pairs = n >>> 1;
    for (let p = 0; p < pairs; p++) {
      words[p] = f32BitsToF16(bits[2 * p]) | (f32BitsToF16(bits[2 * p + 1]) << 16);
    }
    i = pairs * 2;
  }
  for (; i < n; i++) dst[i] = f32BitsToF16(bits[i]);
  return dst;
}

export function f32BitsToF16(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const abs = u & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00; // NaN
  if (abs >= 0x477ff000) return sign | 0x7c00; // overflow (after rounding) → infinity
  if (abs < 0x38800000) {
    // Subnormal half (or zero): value = mantissa × 2^-24, rounded to nearest even.
    if (abs < 0x33000000) return sign; // below half the smallest subnormal
    const exponent = abs >>> 23;
    const mantissa = (abs & 0x7fffff) | 0x800000;
    const shift = 126 - exponent; // 14..24
    const halfway = 1 << (shift - 1);
    const remainder = mantissa & ((1 << shift) - 1);
    let result = mantissa >>> shift;
    if (remainder > halfway || (remainder === halfway && (result & 1))) result++;
    return sign | result;
  }
  // Normal: rebias exponent, round mantissa 23 → 10 bits to nearest even.
  const rounded = abs + 0xfff + ((abs >>> 13) & 1);
  return sign | ((rounded - 0x38000000) >>> 13);
}
