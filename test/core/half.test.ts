import { describe, expect, it } from "vitest";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "../../src/core/half.js";

describe("half precision", () => {
  it("round-trips every finite f16 bit pattern exactly", () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = f32ToF16(f16ToF32(all));
    for (let i = 0; i < 65536; i++) {
      const exponent = (i >> 10) & 0x1f;
      const isNaN = exponent === 31 && (i & 0x3ff) !== 0;
      if (isNaN) expect((back[i] >> 10) & 0x1f).toBe(31);
      else expect(back[i]).toBe(i);
    }
  });

  it("rounds f32 to f16 to nearest even, with overflow to infinity and underflow to zero", () => {
    // 1 + 2^-11 is exactly halfway between 1 and the next f16 (1 + 2^-10): ties to even → 1.
    expect(f32ToF16(new Float32Array([1 + 2 ** -11]))[0]).toBe(0x3c00);
    expect(f32ToF16(new Float32Array([1 + 3 * 2 ** -11]))[0]).toBe(0x3c02);
    expect(f32ToF16(new Float32Array([65520]))[0]).toBe(0x7c00);
    expect(f32ToF16(new Float32Array([65519]))[0]).toBe(0x7bff);
    expect(f32ToF16(new Float32Array([2 ** -26]))[0]).toBe(0);
    expect(f32ToF16(new Float32Array([2 ** -24]))[0]).toBe(1);
    expect(f32ToF16(new Float32Array([-0]))[0]).toBe(0x8000);
  });

  it("converts bf16 by rounding to nearest even and keeps NaN", () => {
    const values = new Float32Array([1, -2.5, 3.14159, NaN, Infinity, 1 + 2 ** -8, 1 + 3 * 2 ** -8]);
    const back = bf16ToF32(f32ToBf16(values));
    expect(back[0]).toBe(1);
    expect(back[1]).toBe(-2.5);
    expect(Math.abs(back[2] - 3.14159)).toBeLessThan(0.02);
    expect(Number.isNaN(back[3])).toBe(true);
    expect(back[4]).toBe(Infinity);
    expect(back[5]).toBe(1); // tie → even
    expect(back[6]).toBe(1 + 2 ** -6);
  });
});

describe("half precision fast paths", () => {
  const halves = [0x3c00, 0xc000, 0x7c00, 0xfc00, 0x7e01, 0x0001, 0x8000, 0x3555, 0x7bff];
  const expected = Array.from(f16ToF32(new Uint16Array(halves)));

  it("gives the same results for odd lengths and 2-byte-aligned (not 4-byte-aligned) views", () => {
    const buffer = new Uint16Array(halves.length + 1);
    buffer.set(halves, 1);
    const unaligned = buffer.subarray(1); // byteOffset 2
    expect(Array.from(f16ToF32(unaligned))).toEqual(expected);
    expect(Array.from(bf16ToF32(unaligned))).toEqual(Array.from(bf16ToF32(new Uint16Array(halves))));
    const floats = new Float32Array([1, -2, 65504, 1e-7, NaN]);
    const out = new Uint16Array(6).subarray(1);
    expect(Array.from(f32ToF16(floats, out))).toEqual(Array.from(f32ToF16(floats)));
    expect(Array.from(f32ToBf16(floats, out))).toEqual(Array.from(f32ToBf16(floats)));
    expect(expected[4]).toBeNaN();
    expect(expected[5]).toBe(2 ** -24);
    expect(expected[6]).toBe(-0);
  });

  it("keeps NaN payloads when widening f16 to f32", () => {
    const bits = new Uint32Array(f16ToF32(new Uint16Array([0x7e01, 0xfd55])).buffer);
    expect(bits[0]).toBe(0x7fc02000);
    expect(bits[1]).toBe(0xffaaa000);
  });

  it("decodes in place when src is the upper half of dst's bytes", () => {
    for (const [decode, n] of [[f16ToF32, halves.length], [bf16ToF32, halves.length], [f16ToF32, 8]] as const) {
      const dst = new Float32Array(n);
      const src = new Uint16Array(dst.buffer, 2 * n, n);
      src.set(halves.slice(0, n));
      const reference = decode(new Uint16Array(halves.slice(0, n)));
      expect(Array.from(decode(src, dst))).toEqual(Array.from(reference));
    }
  });
});
