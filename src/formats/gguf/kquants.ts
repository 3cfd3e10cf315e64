/**
 * Dequantization of ggml's K-quants, bit-exact with ggml's reference code (the encoders are in
 * kquants-encode.ts). Each super-block holds 256 elements as 8 sub-blocks of 32 (Q4_K, Q5_K) or
 * 16 of 16 (Q2_K, Q3_K, Q6_K):
 *
 * - Q2_K (84 bytes): scales u8[16] (low nibble scale, high nibble min), qs u8[64], d f16, dmin f16;
 *   x = d·sc·q − dmin·m with 2-bit q; each 32 bytes of qs give 128 elements, 2 bits per pass.
 * - Q3_K (110 bytes): hmask u8[32], qs u8[64], scales u8[12] (sixteen 6-bit scales), d f16;
 *   3-bit q = 2 low bits from qs and the high bit from hmask (clear means −4); x = d·(sc − 32)·q.
 *
 * - Q4_K (144 bytes): d f16, dmin f16, scales u8[12], qs u8[128]. Sub-block i has a 6-bit scale
 *   and a 6-bit min packed in `scales` (see `scaleMinK4`); x = d·sc·q − dmin·m with q a nibble.
 *   Each 32 bytes of qs give 64 elements: low nibbles first, then high nibbles.
 * - Q5_K (176 bytes): as Q4_K plus qh u8[32] before qs; bit (2k) / (2k+1) of qh[l] adds 16 to the
 *   low / high nibble of the k-th 32-byte group.
 * - Q6_K (210 bytes): ql u8[128], qh u8[64], scales i8[16], d f16; 6-bit q = 4 low bits from ql
 *   and 2 high bits from qh, minus 32; x = d·scale·q.
 */
import { fromHalfBits } from "./quants.js";

export const QK_K = 256;
export const Q4_K_BLOCK_BYTES = 144;
export const Q5_K_BLOCK_BYTES = 176;
export const Q6_K_BLOCK_BYTES = 210;
export const Q2_K_BLOCK_BYTES = 84;
export const Q3_K_BLOCK_BYTES = 110;

const f32 = Math.fround;

/** The 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes at `s[o..o+12)`. */
export function scaleMinK4(j: number, s: Uint8Array, o: number): [scale: number, min: number] {
  if (j < 4) return [s[o + j] & 63, s[o + j + 4] & 63];
  const scale = (s[o + j + 4] & 0x0f) | ((s[o + j - 4] >> 6) << 4);
  const min = (s[o + j + 4] >> 4) | ((s[o + j] >> 6) << 4);
  return [scale, min];
}

function half(bytes: Uint8Array, o: number): number {
  return fromHalfBits(bytes[o] | (bytes[o + 1] << 8));
}

export function dequantizeQ4_K(bytes: Uint8Array, count: number, out: Float32Array = new Float32Array(count)): Float32Array {
  for (let b = 0; b < count / QK_K; b++) {
    const o = b * Q4_K_BLOCK_BYTES;
    const d = half(bytes, o);
    const dmin = half(bytes, o + 2);
    const scales = o + 4;
    let q = o + 16;
    let y = b * QK_K;
    for (let j = 0; j < 4; j++) {
      const [sc1, m1] = scaleMinK4(2 * j, bytes, scales);
      const [sc2, m2] = scaleMinK4(2 * j + 1, bytes, scales);
      const d1 = f32(d * sc1), min1 = f32(dmin * m1);
      const d2 = f32(d * sc2), min2 = f32(dmin * m2);
      for (let l = 0; l < 32; l++) out[y + l] = f32(f32(d1 * (bytes[q + l] & 0x0f)) - min1);
      for (let l = 0; l < 32; l++) out[y + 32 + l] = f32(f32(d2 * (bytes[q + l] >> 4)) - min2);
      q += 32;
      y += 64;
    }
  }
  return out;
}

export function dequantizeQ5_K(bytes: Uint8Array, count: number, out: Float32Array = new Float32Array(count)): Float32Array {
  for (let b = 0; b < count / QK_K; b++) {
    const o = b * Q5_K_BLOCK_BYTES;
    const d = half(bytes, o);
    const dmin = half(bytes, o + 2);
    const scales = o + 4;
    const qh = o + 16;
    let ql = o + 48;
    let y = b * QK_K;
    let u1 = 1;
    let u2 = 2;
    for (let j = 0; j < 4; j++) {
      const [sc1, m1] = scaleMinK4(2 * j, bytes, scales);
      const [sc2, m2] = scaleMinK4(2 * j + 1, bytes, scales);
      const d1 = f32(d * sc1), min1 = f32(dmin * m1);
      const d2 = f32(d * sc2), min2 = f32(dmin * m2);
      for (let l = 0; l < 32; l++) {
        const q = (bytes[ql + l] & 0x0f) + (bytes[qh + l] & u1 ? 16 : 0);
        out[y + l] = f32(f32(d1 * q) - min1);
      }
      for (let l = 0; l < 32; l++) {
        const q = (bytes[ql + l] >> 4) + (bytes[qh + l] & u2 ? 16 : 0);
        out[y + 32 + l] = f32(f32(d2 * q) - min2);
      }
      ql += 32;
      y += 64;
      u1 <<= 2;
      u2 <<= 2;
    }
  }
  return out;
}

export function dequantizeQ6_K(bytes: Uint8Array, count: number, out: Float32Array = new Float32Array(count)): Float32Array {
  for (let b = 0; b < count / QK_K; b++) {
    const o = b * Q6_K_BLOCK_BYTES;
    const d = half(bytes, o + 208);
    let ql = o;
    let qh = o + 128;
    let sc = o + 192;
    let y = b * QK_K;
    for (let n = 0; n < 2; n++) {
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = bytes[qh + l];
        const q1 = ((bytes[ql + l] & 0x0f) | ((h & 3) << 4)) - 32;
        const q2 = ((bytes[ql + l + 32] & 0x0f) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((bytes[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((bytes[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
        out[y + l] = f32(f32(d * int8(bytes[sc + is])) * q1);
        out[y + l + 32] = f32(f32(d * int8(bytes[sc + is + 2])) * q2);
        out[y + l + 64] = f32(f32(d * int8(bytes[sc + is + 4])) * q3);
        out[y + l + 96] = f32(f32(d * int8(bytes[sc + is + 6])) * q4);
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
  return out;
}

export function dequantizeQ2_K(bytes: Uint8Array, count: number, out: Float32Array = new Float32Array(count)): Float32Array {
  for (let b = 0; b < count / QK_K; b++) {
    const o = b * Q2_K_BLOCK_BYTES;
    const d = half(bytes, o + 80);
    const dmin = half(bytes, o + 82);
    let y = b * QK_K;
    let is = o;
    for (let q = o + 16; q < o + 80; q += 32) {
      for (let shift = 0; shift < 8; shift += 2) {
        for (let half16 = 0; half16 <= 16; half16 += 16) {
          const sc = bytes[is++];
          const dl = f32(d * (sc & 0x0f));
          const ml = f32(dmin * (sc >> 4));
          for (let l = 0; l < 16; l++) out[y++] = f32(f32(dl * ((bytes[q + half16 + l] >> shift) & 3)) - ml);
        }
      }
    }
  }
  return out;
}

const Q3_SCALES = new Int8Array(16);

/** The sixteen 6-bit Q3_K scales (minus 32) from the 12 packed bytes at `s[o..o+12)` (a shared scratch array). */
function scalesQ3_K(s: Uint8Array, o: number): Int8Array {
  const out = Q3_SCALES;
  for (let j = 0; j < 16; j++) {
    const low = j < 8 ? (s[o + j] & 0x0f) : (s[o + j - 8] >> 4);
    const high = (s[o + 8 + (j % 4)] >> (2 * (j >> 2))) & 3;
    out[j] = (low | (high << 4)) - 32;
  }
  return out;
}

export function dequantizeQ3_K(bytes: Uint8Array, count: number, out: Float32Array = new Float32Array(count)): Float32Array {
  for (let b = 0; b < count / QK_K; b++) {
    const o = b * Q3_K_BLOCK_BYTES;
    const d = half(bytes, o + 108);
    const scales = scalesQ3_K(bytes, o + 96);
    let y = b * QK_K;
    let is = 0;
    let m = 1;
    for (let q = o + 32; q < o + 96; q += 32) {
      for (let shift = 0; shift < 8; shift += 2) {
        for (let half16 = 0; half16 <= 16; half16 += 16) {
          const dl = f32(d * scales[is++]);
          for (let l = 0; l < 16; l++) {
            const hm = o + half16 + l;
            const v = ((bytes[q + half16 + l] >> shift) & 3) - (bytes[hm] & m ? 0 : 4);
            out[y++] = f32(dl * v);
          }
        }
        m <<= 1;
      }
    }
  }
  return out;
}

function int8(u: number): number {
  return u > 127 ? u - 256 : u;
}
