import { describe, expect, it } from "vitest";
import { f32ToBf16, bf16ToF32 } from "../../src/core/half.js";
import { Rng } from "../../src/core/rng.js";
import { mergeStoredChunks, type StoredDType } from "../../src/merge/chunked.js";
import { MethodError, type ParamValue } from "../../src/merge/methods/types.js";
import { runMethod } from "../../src/merge/run-method.js";

/**
 * Values on a coarse grid (multiples of 1/8 in a small range), so |x − base| ties often, also
 * across the k-th largest: where tie-breaking by index decides the output.
 */
function gridTensor(rng: Rng, n: number, levels: number): Float32Array {
  return Float32Array.from({ length: n }, () => (rng.int(2 * levels + 1) - levels) / 8);
}

function asBytes(x: Float32Array, dtype: StoredDType): Uint8Array {
  if (dtype === "F32") return new Uint8Array(x.slice().buffer);
  const h = f32ToBf16(x);
  return new Uint8Array(h.buffer);
}

function decoded(x: Float32Array, dtype: StoredDType): Float32Array {
  return dtype === "F32" ? x.slice() : bf16ToF32(f32ToBf16(x));
}

interface Case {
  method: string;
  models: Record<string, ParamValue>[];
  global: Record<string, ParamValue>;
  shape: number[];
  dtype: StoredDType;
  chunkElements: number;
  seed: number;
}

/** The chunked result and the in-memory method's result on the same (decoded) inputs, as bytes. */
function bothPaths(c: Case): { chunked: Uint8Array; inMemory: Uint8Array } {
  const n = c.shape.reduce((a, b) => a * b, 1);
  const rng = new Rng(c.seed);
  const base = gridTensor(rng, n, 6);
  const tensors = c.models.map(() => {
    const t = gridTensor(rng, n, 3);
    for (let i = 0; i < n; i++) t[i] += base[i];
    return t;
  });
  const all = [...tensors, base];
  const result = mergeStoredChunks({
    method: c.method, modelParams: c.models, global: c.global, shape: c.shape, seed: 9,
    raws: all.map((t) => asBytes(t, c.dtype)), dtypes: all.map(() => c.dtype), hasBase: true,
    outDtype: "F32", elements: n, chunkElements: c.chunkElements,
  });
  if (!("out" in result)) throw new Error(`unexpected ${JSON.stringify(result)}`);
  const expected = runMethod({
    method: c.method, modelParams: c.models, global: c.global, shape: c.shape, seed: 9,
    tensors: tensors.map((t) => decoded(t, c.dtype)), base: decoded(base, c.dtype),
  });
  return { chunked: result.out, inMemory: new Uint8Array(expected.buffer) };
}

const densities = [0, 0.013, 0.3, 0.5, 0.77, 1];

describe("task-vector methods in chunks: bit-identical to the in-memory path", () => {
  for (const method of ["ties", "breadcrumbs_ties", "breadcrumbs", "dare_ties", "dare_linear", "della", "della_linear", "task_arithmetic"]) {
    for (const rescale of [false, true]) {
      it(`${method}, rescale ${rescale}, densities ${densities.join("/")}, chunks of 1 and 3 rows`, () => {
        for (const [d, density] of densities.entries()) {
          for (const chunkElements of [1, 50]) {
            const models = [
              { weight: 0.5, density, gamma: 0.05, epsilon: density > 0.1 && density < 0.8 ? 0.1 : 0.01 },
              { weight: -0.25, density: Math.min(1, density + 0.2), gamma: 0, epsilon: 0.01 },
              { weight: 1, density: density / 2, gamma: 0.2, epsilon: 0.001 },
            ];
            const c: Case = {
              method, models, global: { normalize: true, rescale, lambda: 0.9 }, shape: [23, 17],
              dtype: d % 2 ? "BF16" : "F32", chunkElements, seed: 100 + d,
            };
            const { chunked, inMemory } = bothPaths(c);
            expect(Buffer.from(chunked).equals(Buffer.from(inMemory)), `${method} density ${density} chunk ${chunkElements}`).toBe(true);
          }
        }
      });
    }
  }

  it("ties: the rank-k entry's magnitude is shared by many entries, split by index across chunks", () => {
    // Every |d| is 0.25 or 0.5: the threshold falls inside a run of ties spanning every chunk.
    const n = 1000;
    const base = new Float32Array(n);
    const x = Float32Array.from({ length: n }, (_, i) => (i % 7 === 0 ? -0.5 : i % 2 ? 0.25 : -0.25));
    const job = {
      method: "ties", modelParams: [{ weight: 1, density: 0.4 }], global: { normalize: true, rescale: false, lambda: 1 },
      shape: [n], seed: 1, dtypes: ["F32", "F32"] as StoredDType[], hasBase: true, outDtype: "F32" as const, elements: n,
    };
    const result = mergeStoredChunks({ ...job, raws: [asBytes(x, "F32"), asBytes(base, "F32")], chunkElements: 64 });
    if (!("out" in result)) throw new Error("no output");
    const out = new Float32Array(result.out.buffer);
    const kept = [...out.keys()].filter((i) => out[i] !== 0);
    expect(kept.length).toBe(400);
    // All 143 entries of 0.5, then the lowest-index entries of 0.25.
    const quarters = kept.filter((i) => i % 7 !== 0);
    expect(quarters.length).toBe(400 - 143);
    expect(Math.max(...quarters)).toBeLessThan(n / 2);
    expect(quarters).toEqual([...Array(n).keys()].filter((i) => i % 7 !== 0).slice(0, 400 - 143));
  });

  it("reports a NaN input by input and element, and rejects a missing base", () => {
    const n = 40;
    const a = new Float32Array(n).fill(0.5);
    const base = new Float32Array(n);
    base[33] = NaN;
    const job = {
      method: "ties", modelParams: [{ weight: 1, density: 0.5 }], global: { normalize: true },
      shape: [4, 10], seed: 1, dtypes: ["F32", "F32"] as StoredDType[], outDtype: "F32" as const, elements: n, chunkElements: 10,
    };
    expect(mergeStoredChunks({ ...job, hasBase: true, raws: [asBytes(a, "F32"), asBytes(base, "F32")] })).toEqual({ nanInput: 1, element: 33 });
    expect(() => mergeStoredChunks({ ...job, hasBase: false, raws: [asBytes(a, "F32")], dtypes: ["F32"] })).toThrow(MethodError);
  });
});

describe("fused TIES top-k", () => {
  it("density 0 keeps nothing: the output is the base", () => {
    const base = Float32Array.from([1, 2, 3]);
    const out = runMethod({
      method: "ties", tensors: [Float32Array.from([4, 5, 6])], base, modelParams: [{ weight: 1, density: 0 }],
      global: { normalize: true, rescale: false, lambda: 1 }, shape: [3], seed: 0,
    });
    expect(Array.from(out)).toEqual([1, 2, 3]);
  });
});
