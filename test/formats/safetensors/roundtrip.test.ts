import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { f32ToBf16, f32ToF16 } from "../../../src/core/half.js";
import {
  DTYPE_SIZES,
  encodeSafetensors,
  openSafetensors,
  writeSafetensorsFile,
  type TensorData,
} from "../../../src/formats/safetensors/index.js";
import { cleanup, tempDir } from "./helpers.js";

const bytesOf = (v: ArrayBufferView): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/** Every dtype with stored values and the float32 values readF32 must give. */
const cases: { tensor: TensorData; expected: number[] }[] = [
  { tensor: { name: "f64", dtype: "F64", shape: [2, 2], data: new Float64Array([1.5, -2, 1e-3, 1e300]) }, expected: [1.5, -2, Math.fround(1e-3), Infinity] },
  { tensor: { name: "f32", dtype: "F32", shape: [3], data: new Float32Array([0.1, -0, 3e38]) }, expected: [Math.fround(0.1), -0, Math.fround(3e38)] },
  { tensor: { name: "f16", dtype: "F16", shape: [3], data: f32ToF16(new Float32Array([1, -0.5, 65504])) }, expected: [1, -0.5, 65504] },
  { tensor: { name: "bf16", dtype: "BF16", shape: [1, 3], data: f32ToBf16(new Float32Array([1, -2.5, 256])) }, expected: [1, -2.5, 256] },
  { tensor: { name: "i64", dtype: "I64", shape: [4], data: new BigInt64Array([0n, -1n, 2n ** 40n, -(2n ** 33n) - 5n]) }, expected: [0, -1, 2 ** 40, Math.fround(-(2 ** 33) - 5)] },
  { tensor: { name: "i32", dtype: "I32", shape: [3], data: new Int32Array([7, -2147483648, 2147483647]) }, expected: [7, -2147483648, 2147483648] },
  { tensor: { name: "i16", dtype: "I16", shape: [2], data: new Int16Array([-32768, 123]) }, expected: [-32768, 123] },
  { tensor: { name: "i8", dtype: "I8", shape: [2], data: new Int8Array([-128, 127]) }, expected: [-128, 127] },
  { tensor: { name: "u8", dtype: "U8", shape: [2], data: new Uint8Array([0, 255]) }, expected: [0, 255] },
  { tensor: { name: "bool", dtype: "BOOL", shape: [3], data: new Uint8Array([1, 0, 1]) }, expected: [1, 0, 1] },
  { tensor: { name: "e4m3", dtype: "F8_E4M3", shape: [3], data: new Uint8Array([0x38, 0x7e, 0xc0]) }, expected: [1, 448, -2] },
  { tensor: { name: "e5m2", dtype: "F8_E5M2", shape: [3], data: new Uint8Array([0x3c, 0x7b, 0x7c]) }, expected: [1, 57344, Infinity] },
  { tensor: { name: "empty", dtype: "F32", shape: [0, 5], data: new Float32Array(0) }, expected: [] },
  { tensor: { name: "scalar", dtype: "F16", shape: [], data: f32ToF16(new Float32Array([2])) }, expected: [2] },
];

describe("safetensors round trip", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => cleanup(dir));

  it("covers every safetensors dtype", () => {
    const covered = new Set(cases.map((c) => c.tensor.dtype));
    expect([...covered].sort()).toEqual(Object.keys(DTYPE_SIZES).sort());
  });

  it("writes and reads back every dtype: raw bytes, float32 values, order and metadata", async () => {
    const file = path.join(dir, "all.safetensors");
    const tensors = cases.map((c) => c.tensor);
    await writeSafetensorsFile(file, tensors, { format: "pt", note: "ünïcode ✓" });
    const st = await openSafetensors(file);
    try {
      expect(st.metadata).toEqual({ format: "pt", note: "ünïcode ✓" });
      expect(st.list().map((t) => t.name)).toEqual(tensors.map((t) => t.name));
      expect(st.dataOffset % 8).toBe(0);
      for (const { tensor, expected } of cases) {
        const info = st.info(tensor.name);
        expect(info).toEqual({ name: tensor.name, dtype: tensor.dtype, shape: tensor.shape, byteLength: tensor.data.byteLength });
        expect(await st.readRaw(tensor.name)).toEqual(bytesOf(tensor.data));
        expect(Array.from(await st.readF32(tensor.name))).toEqual(expected);
      }
    } finally {
      await st.close();
    }
  });

  it("reads a tensor's bytes into a caller's buffer when it is large enough, else into a new array", async () => {
    const file = path.join(dir, "into.safetensors");
    await writeSafetensorsFile(file, cases.map((c) => c.tensor));
    const st = await openSafetensors(file);
    try {
      const reused = new Uint8Array(64).fill(0xee);
      for (const { tensor } of cases) {
        const got = await st.readRaw(tensor.name, reused);
        expect(got).toEqual(bytesOf(tensor.data));
        expect(got.buffer).toBe(reused.buffer);
        expect(got.byteOffset).toBe(0);
      }
      const small = new Uint8Array(3);
      const own = await st.readRaw("f64", small);
      expect(own.buffer).not.toBe(small.buffer);
      expect(own).toEqual(bytesOf(cases[0].tensor.data));
    } finally {
      await st.close();
    }
  });

  it("keeps the caller's order even for integer-like names, and pads the header with spaces", async () => {
    const tensors: TensorData[] = ["b", "10", "a", "2"].map((name) => ({ name, dtype: "U8", shape: [1], data: new Uint8Array([1]) }));
    const bytes = encodeSafetensors(tensors);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(header.trimEnd().endsWith("}")).toBe(true);
    expect(header.slice(header.trimEnd().length)).toMatch(/^ *$/);
    const file = path.join(dir, "order.safetensors");
    await fs.writeFile(file, bytes);
    const st = await openSafetensors(file);
    expect(st.list().map((t) => t.name)).toEqual(["b", "10", "a", "2"]);
    await st.close();
  });

  it("rejects a plan with duplicate names, reserved names, bad shapes or wrong byte counts", async () => {
    const file = path.join(dir, "bad.safetensors");
    const u8 = (name: string, shape: number[], n: number): TensorData => ({ name, dtype: "U8", shape, data: new Uint8Array(n) });
    await expect(writeSafetensorsFile(file, [u8("a", [1], 1), u8("a", [1], 1)])).rejects.toThrow(/duplicate name/);
    await expect(writeSafetensorsFile(file, [u8("__metadata__", [1], 1)])).rejects.toThrow(/reserved/);
    await expect(writeSafetensorsFile(file, [u8("a", [-1], 1)])).rejects.toThrow(/non-negative/);
    await expect(writeSafetensorsFile(file, [u8("\ud800", [1], 1)])).rejects.toThrow(/unpaired/);
    await expect(writeSafetensorsFile(file, [u8("a", [1], 1)], { n: 1 as unknown as string })).rejects.toThrow(/metadata "n": value is not a string/);
    await expect(writeSafetensorsFile(file, [u8("a", [2], 3)])).rejects.toThrow(/got 3 bytes.*needs 2/);
    await expect(writeSafetensorsFile(file, [{ name: "q", dtype: "Q4_0" as "U8", shape: [1], data: new Uint8Array(1) }])).rejects.toThrow(/cannot be stored/);
    expect(await fs.readdir(dir)).toEqual([]);
  });
});
