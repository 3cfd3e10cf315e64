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
