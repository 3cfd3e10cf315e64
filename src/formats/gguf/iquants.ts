/**
 * Dequantization of ggml's non-linear 4-bit types (read only), bit-exact with ggml's reference
 * code. Both map a 4-bit code through the same 16-entry table of signed levels:
 *
 * - IQ4_NL (18 bytes per 32 elements): d f16, qs u8[16] laid out as Q4_0; x = d · level[q].
 * - IQ4_XS (136 bytes per 256): d f16, scales_h u16, scales_l u8[4], qs u8[128]; sub-block i of 32
 *   has a 6-bit scale (low nibble from scales_l, two high bits from scales_h); x = d·(sc − 32)·level[q].
 */
import { getHalf } from "./quants.js";

export const IQ4_NL_BLOCK_BYTES = 18;
export const IQ4_XS_BLOCK_BYTES = 136;

/** The non-linear levels, as published with ggml's IQ4_NL. */
const LEVELS = new Int8Array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]);

const f32 = Math.fround;

/** 32 elements from 16 nibble-packed bytes at `q`, scaled by `d`. */
function decode32(bytes: Uint8Array, q: number, d: number, out: Float32Array, y: number): void {
  for (let j = 0; j < 16; j++) {
    out[y + j] = f32(d * LEVELS[bytes[q + j] & 0x0f]);
    out[y + j + 16] = f32(d * LEVELS[bytes[q + j] >> 4]);
  }
}

export function dequantizeIQ4_NL(bytes: Uint8Array, count: number, out: Float32Array = new Float32Array(count)): Float32Array {
  for (let b = 0; b < count / 32; b++) {
    const o = b * IQ4_NL_BLOCK_BYTES;
    decode32(bytes, o + 2, getHalf(bytes, o), out, b * 32);
  }
  return out;
}

export function dequantizeIQ4_XS(bytes: Uint8Array, count: number, out: Float32Array = new Float32Array(count)): Float32Array {
  for (let b = 0; b < count / 256; b++) {
    const o = b * IQ4_XS_BLOCK_BYTES;
    const d = getHalf(bytes, o);
    const scalesH = bytes[o + 2] | (bytes[o + 3] << 8);
    for (let i = 0; i < 8; i++) {
      const ls = ((bytes[o + 4 + (i >> 1)] >> (4 * (i & 1))) & 0x0f) | (((scalesH >> (2 * i)) & 3) << 4);
      decode32(bytes, o + 8 + 16 * i, f32(d * (ls - 32)), out, b * 256 + 32 * i);
    }
  }
  return out;
}
