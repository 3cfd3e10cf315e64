import { describe, expect, it } from "vitest";
import { f16ToF32, f32ToF16 } from "../../../src/core/half.js";
import { Rng } from "../../../src/core/rng.js";
import { dequantize, encodeTensor } from "../../../src/formats/gguf/codec.js";

/** Independent reference quantizers, written from ggml's description with Float32Array stores for rounding. */
const F = new Float32Array(4);
const fl = (v: number): number => ((F[0] = v), F[0]);
const half = (v: number): number => f32ToF16(new Float32Array([v]))[0];
const roundHalfAway = (v: number): number => Math.sign(v) * Math.floor(Math.abs(v) + 0.5);

function refQ8_0(x: Float32Array): Uint8Array {
  const out: number[] = [];
  for (let b = 0; b < x.length; b += 32) {
    const block = x.subarray(b, b + 32);
    const amax = Math.max(...Array.from(block, Math.abs));
    const d = fl(amax / 127);
    const id = d === 0 ? 0 : fl(1 / d);
    const h = half(d);
    out.push(h & 0xff, h >> 8, ...Array.from(block, (v) => roundHalfAway(fl(v * id)) & 0xff));
  }
  return Uint8Array.from(out);
}

function refQ4_0(x: Float32Array): Uint8Array {
  const out: number[] = [];
  for (let b = 0; b < x.length; b += 32) {
    const block = Array.from(x.subarray(b, b + 32));
    let max = 0;
    for (const v of block) if (Math.abs(v) > Math.abs(max)) max = v;
    const d = fl(max / -8);
    const id = d === 0 ? 0 : fl(1 / d);
    const q = block.map((v) => Math.min(15, Math.trunc(fl(fl(v * id) + 8.5))));
    const h = half(d);
    out.push(h & 0xff, h >> 8);
    for (let j = 0; j < 16; j++) out.push(q[j] | (q[j + 16] << 4));
  }
  return Uint8Array.from(out);
}

function randomData(rng: Rng, n: number): Float32Array {
  // Mixed scales, exact ties and zero blocks exercise rounding and the d = 0 path.
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const kind = (i >> 5) % 4;
    x[i] = kind === 0 ? rng.normal() * 10 ** (rng.int(7) - 3) : kind === 1 ? (rng.int(255) - 127) / 2 : kind === 2 ? 0 : rng.normal();
  }
  return x;
}

describe("Q8_0 and Q4_0 quantization", () => {
  it("matches hand-computed Q8_0 blocks (ties away from zero, f16 scale)", () => {
    const x = new Float32Array(32);
    x.set([127, -63.5, 1, 0.5, -0.49]);
    const bytes = encodeTensor(x, "Q8_0");
    // d = 127/127 = 1 → f16 0x3c00; q = round(x): 127, -64, 1, 1, 0.
    expect(Array.from(bytes.subarray(0, 7))).toEqual([0x00, 0x3c, 127, 0xc0, 1, 1, 0]);
    expect(Array.from(dequantize(bytes, "Q8_0", 32).subarray(0, 5))).toEqual([127, -64, 1, 1, 0]);
    const zeros = encodeTensor(new Float32Array(32), "Q8_0");
    expect(zeros.every((b) => b === 0)).toBe(true);
  });

  it("matches hand-computed Q4_0 blocks (d = max / -8, clamp to 15, nibble layout)", () => {
    const x = new Float32Array(32);
    x.set([-8, 4, 1, 0, -3.99]);
    x[16] = 7.9; // d = -8/-8 = 1, id = 1: q = trunc(7.9 + 8.5) = 16 → clamped to 15
    x[17] = 8; // a tie in magnitude does not replace max (the first of largest magnitude wins)
    x[18] = -0.6; // trunc(7.9) = 7
    const bytes = encodeTensor(x, "Q4_0");
    // q: -8→0, 4→12, 1→9, 0→8, -3.99→4; high half: 15, 15, 7, rest 8.
    expect(Array.from(bytes.subarray(0, 2))).toEqual([0x00, 0x3c]);
    expect(Array.from(bytes.subarray(2, 8))).toEqual([0x00 | (15 << 4), 12 | (15 << 4), 9 | (7 << 4), 8 | (8 << 4), 4 | (8 << 4), 8 | (8 << 4)]);
    const back = dequantize(bytes, "Q4_0", 32);
    expect(Array.from(back.subarray(0, 5))).toEqual([-8, 4, 1, 0, -4]);
    expect(Array.from(back.subarray(16, 19))).toEqual([7, 7, -1]);
    expect(Array.from(encodeTensor(new Float32Array(32), "Q4_0").subarray(2))).toEqual(new Array(16).fill(0x88));
  });

  it("is bit-exact against the independent reference quantizers on varied data", () => {
    const rng = new Rng(11);
    const x = randomData(rng, 32 * 400);
    expect(encodeTensor(x, "Q8_0")).toEqual(refQ8_0(x));
    expect(encodeTensor(x, "Q4_0")).toEqual(refQ4_0(x));
  });

  it("dequantizes as d · q with the stored f16 scale", () => {
    const rng = new Rng(12);
    const x = randomData(rng, 32 * 50);
    const q8 = encodeTensor(x, "Q8_0");
    const y = dequantize(q8, "Q8_0", x.length);
    for (let b = 0; b < x.length / 32; b++) {
      const d = f16ToF32(new Uint16Array([q8[b * 34] | (q8[b * 34 + 1] << 8)]))[0];
      for (let j = 0; j < 32; j++) expect(y[b * 32 + j]).toBe(fl(d * ((q8[b * 34 + 2 + j] << 24) >> 24)));
    }
  });

  it("refuses non-finite values and partial blocks", () => {
    const x = new Float32Array(32);
    x[3] = NaN;
    expect(() => encodeTensor(x, "Q8_0")).toThrow(/non-finite value NaN at element 3/);
    expect(() => encodeTensor(new Float32Array(33), "Q4_0")).toThrow(/multiple of 32/);
    expect(() => encodeTensor(new Float32Array(4), "Q6_K")).toThrow(/Q6_K needs a multiple of 256 elements, got 4/);
    expect(() => encodeTensor(new Float32Array(256), "Q3_K")).toThrow(/cannot encode Q3_K/);
  });

  it("encodes F16 and BF16 from unaligned views", () => {
    const backing = new Float32Array([9, 1.5, -2, 3]);
    const view = new Float32Array(backing.buffer, 4, 3);
    expect(Array.from(dequantize(encodeTensor(view, "F16"), "F16", 3))).toEqual([1.5, -2, 3]);
    const bytes = encodeTensor(view, "BF16");
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(Array.from(dequantize(shifted.subarray(1), "BF16", 3))).toEqual([1.5, -2, 3]);
  });
});
