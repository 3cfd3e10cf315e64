import { describe, expect, it } from "vitest";
import { bf16ToF32, f32ToBf16 } from "../../src/core/half.js";
import { Rng } from "../../src/core/rng.js";
import { mergeStoredChunks, type ChunkJob } from "../../src/merge/chunked.js";
import { linearBf16 } from "../../src/merge/linear-bf16.js";
import type { ParamValue } from "../../src/merge/methods/types.js";
import { runMethod } from "../../src/merge/run-method.js";

/**
 * bf16 bit patterns: random values from subnormal to 2^120 (sums of three cannot overflow), and
 * ±0, the smallest subnormals, ±1 and large values often.
 */
function bf16Tensor(rng: Rng, n: number): Uint16Array {
  const out = new Uint16Array(n);
  const special = [0x0000, 0x8000, 0x0001, 0x8001, 0x7b7f, 0xfb7f, 0x3f80, 0xbf80];
  for (let i = 0; i < n; i++) out[i] = rng.next() < 0.1 ? special[rng.int(special.length)] : (rng.int(0x7b80) | (rng.int(2) << 15));
  return out;
}

function job(tensors: Uint16Array[], weights: number[], normalize: boolean, hasBase = false): ChunkJob {
  return {
    method: "linear", modelParams: weights.map((weight) => ({ weight })), global: { normalize } as Record<string, ParamValue>, shape: [tensors[0].length], seed: 1,
    raws: tensors.map((t) => new Uint8Array(t.slice().buffer)), dtypes: tensors.map(() => "BF16" as const), hasBase, outDtype: "BF16", elements: tensors[0].length,
  };
}

/** What the method gives on the whole decoded tensors, rounded to bf16: the reference bytes. */
function inMemory(tensors: Uint16Array[], weights: number[], normalize: boolean): Uint16Array {
  const merged = runMethod({
    method: "linear", modelParams: weights.map((weight) => ({ weight })), global: { normalize }, shape: [tensors[0].length], seed: 1,
    tensors: tensors.map((t) => bf16ToF32(t)),
  });
  return f32ToBf16(merged);
}

describe("fused bf16 linear merge", () => {
  const rng = new Rng(15);
  for (const models of [1, 2, 3]) {
    for (const n of [1, 2, 7, 4096, 70001]) {
      for (const normalize of [true, false]) {
        it(`${models} model(s), ${n} elements, normalize ${normalize}: the in-memory method's bytes`, () => {
          const tensors = Array.from({ length: models }, () => bf16Tensor(rng, n));
          const weights = [0.3, -1.7, 2.5].slice(0, models);
          const result = linearBf16(job(tensors, weights, normalize));
          if (!result || !("out" in result)) throw new Error("the fused kernel declined a finite bf16 job");
          expect(new Uint16Array(result.out.buffer)).toEqual(inMemory(tensors, weights, normalize));
        });
      }
    }
  }

  it("keeps the sign of zero as the method does (−0 · w stays −0)", () => {
    const zeros = [Uint16Array.of(0x8000, 0x8000, 0x0000), Uint16Array.of(0x8000, 0x0000, 0x8000)];
    const result = linearBf16(job(zeros, [1, 1], true));
    if (!result || !("out" in result)) throw new Error("declined");
    expect(Array.from(new Uint16Array(result.out.buffer))).toEqual([0x8000, 0x0000, 0x0000]);
  });

  it("ignores a base model, as linear does", () => {
    const tensors = [bf16Tensor(rng, 33), bf16Tensor(rng, 33)];
    const base = bf16Tensor(rng, 33);
    const result = linearBf16(job([...tensors, base], [1, 2], true, true));
    if (!result || !("out" in result)) throw new Error("declined");
    expect(new Uint16Array(result.out.buffer)).toEqual(inMemory(tensors, [1, 2], true));
  });

  it("declines a non-finite input, and the chunked path then names it", () => {
    const a = bf16Tensor(rng, 101);
    const b = bf16Tensor(rng, 101);
    b[100] = 0x7fc0; // NaN, in the odd last element
    const j = job([a, b], [1, 1], true);
    expect(linearBf16(j)).toBeUndefined();
    expect(mergeStoredChunks(j)).toEqual({ nanInput: 1, element: 100 });
  });

  it("declines a sum that overflows float32; the chunked path reports the output", () => {
    const big = Uint16Array.of(0x3f80, 0x7f7f);
    const j = job([big, big], [1, 1], false);
    expect(linearBf16(j)).toBeUndefined();
    expect(mergeStoredChunks(j)).toEqual({ nanOutput: 1 });
  });

  it("declines what it does not handle: four models, other dtypes, a misaligned input", () => {
    const t = () => bf16Tensor(rng, 16);
    expect(linearBf16(job([t(), t(), t(), t()], [1, 1, 1, 1], true))).toBeUndefined();
    expect(linearBf16({ ...job([t(), t()], [1, 1], true), outDtype: "F32" })).toBeUndefined();
    expect(linearBf16({ ...job([t(), t()], [1, 1], true), dtypes: ["BF16", "F16"] })).toBeUndefined();
    const shifted = new Uint8Array(34);
    shifted.set(new Uint8Array(t().buffer), 2);
    const misaligned = job([t(), t()], [1, 1], true);
    misaligned.raws[1] = shifted.subarray(2);
    expect(linearBf16(misaligned)).toBeUndefined();
    expect("out" in mergeStoredChunks(misaligned)).toBe(true);
  });
});
