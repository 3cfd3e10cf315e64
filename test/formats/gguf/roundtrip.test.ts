import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/core/errors.js";
import { Rng } from "../../../src/core/rng.js";
import type { DType } from "../../../src/core/tensor.js";
import { dequantize, encodeTensor } from "../../../src/formats/gguf/codec.js";
import { openGguf } from "../../../src/formats/gguf/reader.js";
import { ggufValue, type GgufValue } from "../../../src/formats/gguf/values.js";
import { writeGguf } from "../../../src/formats/gguf/writer.js";
import { tempDir } from "./helpers.js";

let dir = "";
let cleanup: () => Promise<void> = async () => {};
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(() => cleanup());

const everyType: [string, GgufValue][] = [
  ["general.architecture", ggufValue.string("llama")],
  ["t.u8", ggufValue.u8(255)],
  ["t.i8", ggufValue.i8(-128)],
  ["t.u16", ggufValue.u16(65535)],
  ["t.i16", ggufValue.i16(-32768)],
  ["t.u32", ggufValue.u32(4294967295)],
  ["t.i32", ggufValue.i32(-2147483648)],
  ["t.f32", ggufValue.f32(Math.fround(0.1))],
  ["t.bool", ggufValue.bool(true)],
  ["t.bool.false", ggufValue.bool(false)],
  ["t.string", ggufValue.string("héllo \u{1F600} \uFEFFbom")],
  ["t.string.empty", ggufValue.string("")],
  ["t.u64", ggufValue.u64(2n ** 64n - 1n)],
  ["t.i64", ggufValue.i64(-(2n ** 63n))],
  ["t.f64", ggufValue.f64(Math.PI)],
  ["t.arr.u8", ggufValue.array("u8", [0, 1, 255])],
  ["t.arr.i32", ggufValue.array("i32", [-1, 0, 7])],
  ["t.arr.f32", ggufValue.array("f32", [Math.fround(1.5), -0, Infinity])],
  ["t.arr.u64", ggufValue.array("u64", [0n, 2n ** 63n])],
  ["t.arr.bool", ggufValue.array("bool", [true, false])],
  ["t.arr.string", ggufValue.array("string", ["a", "", "ünï"])],
  ["t.arr.empty", ggufValue.array("string", [])],
  ["t.arr.nested", ggufValue.array("array", [ggufValue.array("i16", [1, -2]), ggufValue.array("string", ["x"])])],
];

describe("GGUF write → read round trip", () => {
  it("keeps every metadata value type, value and order exactly, and the bytes are reproducible", async () => {
    const file = path.join(dir, "meta.gguf");
    await writeGguf(file, { metadata: everyType, plan: [], produce: async () => new Uint8Array() });
    const g = await openGguf(file);
    expect(g.version).toBe(3);
    expect(g.alignment).toBe(32);
    expect(g.architecture).toBe("llama");
    expect([...g.metadata.entries()]).toEqual(everyType);
    expect(g.getNumber("t.u32")).toBe(4294967295);
    expect(g.getNumber("t.u64")).toBeUndefined(); // beyond 2^53
    expect(g.getString("t.string")).toBe("héllo \u{1F600} \uFEFFbom");
    expect(g.getArray("t.arr.string")?.value).toEqual(["a", "", "ünï"]);
    expect(g.getString("t.u8")).toBeUndefined();
    await g.close();
    // Writing what was read gives identical bytes.
    const again = path.join(dir, "meta2.gguf");
    await writeGguf(again, { metadata: g.metadata, plan: [], produce: async () => new Uint8Array() });
    expect(Buffer.compare(await fs.readFile(file), await fs.readFile(again))).toBe(0);
  });

  it("writes and reads tensors of every writable type with row-major shapes, aligned offsets and padding", async () => {
    const rng = new Rng(7);
    const types: DType[] = ["F32", "F16", "BF16", "Q8_0", "Q4_0"];
    const data = new Map<string, Float32Array>();
    const plan = types.map((dtype, i) => {
      const shape = [3 + i, 64];
      const values = new Float32Array(shape[0] * shape[1]).map(() => rng.normal());
      data.set(`w.${dtype}`, values);
      return { name: `w.${dtype}`, dtype, shape };
    });
    plan.push({ name: "odd.f16", dtype: "F16", shape: [3] }); // 6 bytes: forces padding
    data.set("odd.f16", new Float32Array([1, -2, 0.5]));
    const file = path.join(dir, "tensors.gguf");
    const produced: string[] = [];
    const summary = await writeGguf(file, {
      metadata: [["general.alignment", ggufValue.u32(64)]],
      plan,
      produce: async (info) => {
        produced.push(info.name);
        return encodeTensor(data.get(info.name)!, info.dtype);
      },
    });
    expect(produced).toEqual(plan.map((p) => p.name));
    const stat = await fs.stat(file);
    expect(stat.size).toBe(summary.bytes);
    expect((stat.size - summary.dataOffset) % 64).toBe(0);

    const g = await openGguf(file);
    expect(g.alignment).toBe(64);
    expect(g.dataOffset % 64).toBe(0);
    for (const p of plan) {
      const info = g.info(p.name)!;
      expect(info.shape).toEqual(p.shape);
      expect(info.ne).toEqual([...p.shape].reverse());
      expect(info.offset % 64).toBe(0);
      const original = data.get(p.name)!;
      const back = await g.readF32(p.name);
      expect(back.length).toBe(original.length);
      const raw = await g.readRaw(p.name);
      expect(raw).toEqual(encodeTensor(original, p.dtype));
      expect(back).toEqual(dequantize(raw, p.dtype, original.length));
      // Per element: relative for float types; for blocks, half a step (Q8_0) or a full step (Q4_0
      // clamps q = 16 to 15) of the block's scale, plus the f16 rounding of the scale.
      for (let i = 0; i < original.length; i++) {
        const blockMax = amax(original, i - (i % 32), 32);
        const bound = {
          F32: 0,
          F16: Math.abs(original[i]) * 2 ** -11,
          BF16: Math.abs(original[i]) * 2 ** -8,
          Q8_0: blockMax * (0.5 / 127 + 2 ** -10),
          Q4_0: blockMax * (1 / 8 + 2 ** -9),
        }[p.dtype as "F32"];
        expect(Math.abs(back[i] - original[i])).toBeLessThanOrEqual(bound + 1e-7);
      }
    }
    expect(Array.from(await g.readF32("w.F32"))).toEqual(Array.from(data.get("w.F32")!));
    await g.close();
  });

  it("rejects bad metadata and plans with a ConfigError listing every problem and leaves no file", async () => {
    const file = path.join(dir, "bad.gguf");
    const error = await writeGguf(file, {
      metadata: [
        ["a", ggufValue.u8(256)],
        ["b", ggufValue.i32(1.5)],
        ["c", { type: "u64", value: 5 } as unknown as GgufValue],
        ["general.alignment", ggufValue.u32(48)],
        ["d", ggufValue.string("\ud800")],
      ],
      plan: [
        { name: "x", dtype: "Q8_0", shape: [2, 33] },
        { name: "x", dtype: "F32", shape: [0] },
        { name: "y", dtype: "F8_E4M3", shape: [4] },
        { name: "z", dtype: "F32", shape: [1, 1, 1, 1, 1] },
      ],
      produce: async () => new Uint8Array(),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    for (const needle of ["'a'", "'b'", "'c'", "general.alignment", "'d'", "block size 32", "duplicate tensor name 'x'",
      "positive integers", "F8_E4M3", "1..4 dimensions"]) {
      expect(problems).toContain(needle);
    }
    await expect(fs.readdir(dir)).resolves.not.toContain("bad.gguf");
  });

  it("fails atomically when the producer returns the wrong size or throws", async () => {
    const file = path.join(dir, "atomic.gguf");
    const plan = [{ name: "a", dtype: "F32" as const, shape: [4] }, { name: "b", dtype: "F32" as const, shape: [4] }];
    await expect(writeGguf(file, { metadata: [], plan, produce: async () => new Uint8Array(15) })).rejects.toThrow(/produce returned 15 bytes, expected 16/);
    await expect(writeGguf(file, {
      metadata: [], plan,
      produce: async (info) => { if (info.index === 1) throw new Error("boom"); return new Uint8Array(16); },
    })).rejects.toThrow("boom");
    const left = (await fs.readdir(dir)).filter((f) => f.includes("atomic"));
    expect(left).toEqual([]);
  });
});

function amax(x: Float32Array, start: number, n: number): number {
  let m = 0;
  for (let i = start; i < start + n; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}
