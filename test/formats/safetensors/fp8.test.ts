import { describe, expect, it } from "vitest";
import { f8e4m3ToF32, f8e5m2ToF32 } from "../../../src/formats/safetensors/index.js";

// Hand-computed from the OCP 8-bit floating point spec (v1.0):
// E4M3FN: bias 7, subnormal = m/8 · 2^-6, no infinities, S.1111.111 = NaN, max 448.
// E5M2:   bias 15, subnormal = m/4 · 2^-14, exponent 31 = ±inf (m = 0) or NaN, max 57344.
const e4m3: [number, number][] = [
  [0x00, 0], [0x80, -0], [0x01, 2 ** -9], [0x07, (7 / 8) * 2 ** -6], [0x08, 2 ** -6],
  [0x38, 1], [0x3c, 1.5], [0x40, 2], [0xc0, -2], [0x78, 256], [0x7e, 448], [0xfe, -448], [0x33, 0.6875],
];
const e5m2: [number, number][] = [
  [0x00, 0], [0x80, -0], [0x01, 2 ** -16], [0x03, 0.75 * 2 ** -14], [0x04, 2 ** -14],
  [0x3c, 1], [0x3e, 1.5], [0xbd, -1.25], [0x7b, 57344], [0x7c, Infinity], [0xfc, -Infinity], [0x49, 10],
];

describe("OCP FP8 decoding", () => {
  it("decodes E4M3FN values, with no infinities and only S.1111.111 as NaN", () => {
    const out = f8e4m3ToF32(new Uint8Array(e4m3.map(([b]) => b)));
    e4m3.forEach(([, v], i) => expect(Object.is(out[i], v), `byte ${e4m3[i][0].toString(16)}`).toBe(true));
    const all = f8e4m3ToF32(new Uint8Array(256).map((_, i) => i));
    const nans = [...all.keys()].filter((i) => Number.isNaN(all[i]));
    expect(nans).toEqual([0x7f, 0xff]);
    expect(all.every((v) => v !== Infinity && v !== -Infinity)).toBe(true);
  });

  it("decodes E5M2 values, IEEE-like with infinities and NaNs at exponent 31", () => {
    const out = f8e5m2ToF32(new Uint8Array(e5m2.map(([b]) => b)));
    e5m2.forEach(([, v], i) => expect(Object.is(out[i], v), `byte ${e5m2[i][0].toString(16)}`).toBe(true));
    const all = f8e5m2ToF32(new Uint8Array(256).map((_, i) => i));
    const nans = [...all.keys()].filter((i) => Number.isNaN(all[i]));
    expect(nans).toEqual([0x7d, 0x7e, 0x7f, 0xfd, 0xfe, 0xff]);
  });

  it("is monotonic over the positive finite codes (no misplaced exponent or mantissa bits)", () => {
    for (const [decode, last] of [[f8e4m3ToF32, 0x7e], [f8e5m2ToF32, 0x7b]] as const) {
      const all = decode(new Uint8Array(256).map((_, i) => i));
      for (let b = 1; b <= last; b++) expect(all[b]).toBeGreaterThan(all[b - 1]);
      for (let b = 0; b <= last; b++) expect(all[b | 0x80]).toBe(-all[b]);
    }
  });
});
