import { describe, expect, it } from "vitest";
import { f32ToF16 } from "../../../src/core/half.js";
import { Rng } from "../../../src/core/rng.js";
import { dequantize } from "../../../src/formats/gguf/codec.js";

/**
 * K-quant super-blocks built by hand from chosen scales, mins and quants, described in "natural"
 * element order (element e of 256 belongs to sub-block e >> 5, or e >> 4 for Q6_K), and packed
 * here independently of the library's unpacking loops.
 */
const half = (v: number): number => f32ToF16(new Float32Array([v]))[0];
const putHalf = (out: Uint8Array, at: number, v: number): void => {
  const h = half(v);
  out[at] = h & 0xff;
  out[at + 1] = h >> 8;
};

/** Pack 8 six-bit scales and mins into 12 bytes (the inverse of ggml's get_scale_min_k4). */
function packScalesMins(sc: number[], m: number[]): number[] {
  const b = new Array(12).fill(0);
  for (let j = 0; j < 8; j++) {
    if (j < 4) {
      b[j] |= sc[j];
      b[j + 4] |= m[j];
    } else {
      b[j + 4] |= (sc[j] & 0x0f) | ((m[j] & 0x0f) << 4);
      b[j - 4] |= (sc[j] >> 4) << 6;
      b[j] |= (m[j] >> 4) << 6;
    }
  }
  return b;
}

/** Element e's 4-bit quant lives in byte 32·(s >> 1) + (e & 31) of qs, low nibble for even sub-blocks s. */
function packNibbles(q: number[]): Uint8Array {
  const qs = new Uint8Array(128);
  for (let e = 0; e < 256; e++) {
    const s = e >> 5;
    const byte = 32 * (s >> 1) + (e & 31);
    qs[byte] |= s % 2 === 0 ? q[e] & 0x0f : (q[e] & 0x0f) << 4;
  }
  return qs;
}

function buildQ4K(d: number, dmin: number, sc: number[], m: number[], q: number[]): Uint8Array {
  const out = new Uint8Array(144);
  putHalf(out, 0, d);
  putHalf(out, 2, dmin);
  out.set(packScalesMins(sc, m), 4);
  out.set(packNibbles(q), 16);
  return out;
}

function buildQ5K(d: number, dmin: number, sc: number[], m: number[], q: number[]): Uint8Array {
  const out = new Uint8Array(176);
  putHalf(out, 0, d);
  putHalf(out, 2, dmin);
  out.set(packScalesMins(sc, m), 4);
  // The fifth bit of element e is bit (e >> 5) of qh[e & 31].
  for (let e = 0; e < 256; e++) if (q[e] & 16) out[16 + (e & 31)] |= 1 << (e >> 5);
  out.set(packNibbles(q), 48);
  return out;
}

function buildQ6K(d: number, scales: number[], q: number[]): Uint8Array {
  const out = new Uint8Array(210);
  for (let e = 0; e < 256; e++) {
    const half128 = e >> 7; // which 128-element half
    const k = (e >> 5) & 3; // which 32-element quarter of it
    const l = e & 31;
    const low = q[e] & 0x0f;
    const high = q[e] >> 4;
    const qlByte = 64 * half128 + (k & 1) * 32 + l;
    out[qlByte] |= k < 2 ? low : low << 4;
    out[128 + 32 * half128 + l] |= high << (2 * k);
  }
  scales.forEach((s, i) => (out[192 + i] = s & 0xff));
  putHalf(out, 208, d);
  return out;
}

const F = new Float32Array(1);
const fl = (v: number): number => ((F[0] = v), F[0]);

describe("K-quant dequantization", () => {
  const rng = new Rng(5);
  const sc = [1, 17, 63, 32, 45, 5, 60, 16];
  const m = [0, 9, 2, 63, 33, 48, 1, 31];

  it("Q4_K: x = d·scale·q − dmin·min per 32-element sub-block", () => {
    const q = Array.from({ length: 256 }, () => rng.int(16));
    q[0] = 15; // sub-block 0: 1·1·15 − 0.5·0
    q[165] = 7; // sub-block 5 (high nibbles of group 2): scale 5, min 48 → 1·5·7 − 0.5·48 = 11
    q[130] = 3; // sub-block 4: scale 45, min 33 → 135 − 16.5 = 118.5
    const y = dequantize(buildQ4K(1, 0.5, sc, m, q), "Q4_K", 256);
    expect(y[0]).toBe(15);
    expect(y[165]).toBe(11);
    expect(y[130]).toBe(118.5);
    for (let e = 0; e < 256; e++) expect(y[e]).toBe(fl(fl(sc[e >> 5] * q[e]) - fl(0.5 * m[e >> 5])));
  });

  it("Q4_K: fractional super-block scales round like float32 code", () => {
    const q = Array.from({ length: 512 }, () => rng.int(16));
    const d = 0.0123, dmin = 0.00071;
    const blocks = new Uint8Array(288);
    blocks.set(buildQ4K(d, dmin, sc, m, q.slice(0, 256)), 0);
    blocks.set(buildQ4K(d * 2, dmin, [...sc].reverse(), m, q.slice(256)), 144);
    const y = dequantize(blocks, "Q4_K", 512);
    const dh = fl(f32ToF16Value(d)), d2 = fl(f32ToF16Value(d * 2)), mh = fl(f32ToF16Value(dmin));
    const scRev = [...sc].reverse();
    for (let e = 0; e < 256; e++) expect(y[e]).toBe(fl(fl(fl(dh * sc[e >> 5]) * q[e]) - fl(mh * m[e >> 5])));
    for (let e = 0; e < 256; e++) expect(y[256 + e]).toBe(fl(fl(fl(d2 * scRev[e >> 5]) * q[256 + e]) - fl(mh * m[e >> 5])));
  });

  it("Q5_K: the fifth bit comes from qh", () => {
    const q = Array.from({ length: 256 }, () => rng.int(32));
    q[0] = 31; // 1·1·31 − 0
    q[255] = 16; // sub-block 7: scale 16, min 31 → 256 − 0.5·31 = 240.5
    q[100] = 17; // sub-block 3: scale 32, min 63 → 544 − 31.5 = 512.5
    const y = dequantize(buildQ5K(1, 0.5, sc, m, q), "Q5_K", 256);
    expect(y[0]).toBe(31);
    expect(y[255]).toBe(240.5);
    expect(y[100]).toBe(512.5);
    for (let e = 0; e < 256; e++) expect(y[e]).toBe(fl(fl(sc[e >> 5] * q[e]) - fl(0.5 * m[e >> 5])));
  });

  it("Q6_K: x = d·scale·(q − 32) with signed 8-bit scales per 16 elements", () => {
    const scales = [1, -1, 2, -3, 127, -128, 5, 7, 9, 11, -13, 15, 17, 19, 21, 23];
    const q = Array.from({ length: 256 }, () => rng.int(64));
    q[0] = 63; // scale 1: 31
    q[20] = 0; // scale −1: 32
    q[90] = 40; // scale index 5 = −128: −1024
    q[200] = 33; // scale index 12 = 17: 17
    const y = dequantize(buildQ6K(1, scales, q), "Q6_K", 256);
    expect([y[0], y[20], y[90], y[200]]).toEqual([31, 32, -1024, 17]);
    for (let e = 0; e < 256; e++) expect(y[e]).toBe(scales[e >> 4] * (q[e] - 32));
    const y2 = dequantize(buildQ6K(0.25, scales, q), "Q6_K", 256);
    for (let e = 0; e < 256; e++) expect(y2[e]).toBe(0.25 * scales[e >> 4] * (q[e] - 32));
  });
});

function f32ToF16Value(v: number): number {
  const h = half(v);
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  return exp === 0 ? sign * mant * 2 ** -24 : sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
