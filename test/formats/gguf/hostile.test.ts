import { promises as fs } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { InputFileError } from "../../../src/core/errors.js";
import { openGguf, openGgufBytes } from "../../../src/formats/gguf/reader.js";
import { Bytes, tempDir } from "./helpers.js";

interface TensorSpec { name: string; dims: (number | bigint)[]; type: number; offset: number | bigint; nDims?: number }
interface Spec {
  magic?: number[];
  version?: number;
  tensorCount?: number | bigint;
  kvCount?: number | bigint;
  kv?: (b: Bytes) => void;
  tensors?: TensorSpec[];
  dataBytes?: number;
  alignment?: number;
  cut?: number;
}

const F32 = 0;
const defaultKv = (b: Bytes): void => void b.str("general.architecture").u32(8).str("test");

/** A GGUF file from raw parts; by default one kv and one 2×4 F32 tensor, valid. */
function build(spec: Spec = {}): Uint8Array {
  const tensors = spec.tensors ?? [{ name: "w", dims: [4, 2], type: F32, offset: 0 }];
  const b = new Bytes().raw(spec.magic ?? [0x47, 0x47, 0x55, 0x46]).u32(spec.version ?? 3);
  b.u64(spec.tensorCount ?? tensors.length).u64(spec.kvCount ?? 1);
  (spec.kv ?? defaultKv)(b);
  for (const t of tensors) {
    b.str(t.name).u32(t.nDims ?? t.dims.length);
    for (const d of t.dims) b.u64(d);
    b.u32(t.type).u64(t.offset);
  }
  if (tensors.length) b.pad(spec.alignment ?? 32);
  for (let i = 0; i < (spec.dataBytes ?? 32); i++) b.u8(i);
  const bytes = b.build();
  return spec.cut === undefined ? bytes : bytes.subarray(0, spec.cut);
}

async function problem(bytes: Uint8Array): Promise<string> {
  const error = await openGgufBytes(bytes, "hostile.gguf").then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(InputFileError);
  const message = (error as InputFileError).message;
  expect(message.startsWith("hostile.gguf: ")).toBe(true);
  return message;
}

const kvOf = (key: string, type: number, write: (b: Bytes) => void) => (b: Bytes): void => void write(b.str(key).u32(type));

describe("GGUF reader on hostile files", () => {
  it("accepts the valid baseline and legal edge cases", async () => {
    const g = await openGgufBytes(build(), "ok.gguf");
    expect(g.list().map((t) => [t.name, t.shape])).toEqual([["w", [2, 4]]]);
    expect(Array.from(await g.readF32("w"))).toEqual(Array.from(new Float32Array(build().buffer.slice(-32))));
    // v2, no tensors and no metadata, alignment 1, empty arrays, an empty string value.
    await expect(openGgufBytes(build({ version: 2 }), "v2.gguf")).resolves.toMatchObject({ version: 2 });
    const empty = new Bytes().raw([0x47, 0x47, 0x55, 0x46]).u32(3).u64(0).u64(0).build();
    await expect(openGgufBytes(empty, "empty.gguf")).resolves.toMatchObject({ alignment: 32 });
    const legal = build({
      kvCount: 3,
      kv: (b) => {
        kvOf("general.alignment", 4, (x) => x.u32(1))(b);
        kvOf("a", 9, (x) => x.u32(8).u64(0))(b);
        kvOf("s", 8, (x) => x.u64(0))(b);
      },
      tensors: [{ name: "w", dims: [3], type: 1, offset: 0 }, { name: "v", dims: [1], type: 1, offset: 6 }],
      alignment: 1, dataBytes: 8,
    });
    const g2 = await openGgufBytes(legal, "legal.gguf");
    expect(g2.alignment).toBe(1);
    expect(g2.info("v")?.offset).toBe(6);
  });

  it("rejects a bad magic, v1, unknown versions and big-endian files", async () => {
    expect(await problem(build({ magic: [0x47, 0x47, 0x4d, 0x4c] }))).toMatch(/not a GGUF file.*found 47 47 4d 4c/);
    expect(await problem(build({ version: 1 }))).toMatch(/version 1 is not supported/);
    expect(await problem(build({ version: 4 }))).toMatch(/unsupported GGUF version 4/);
    expect(await problem(build({ version: 0x03000000 }))).toMatch(/big-endian/);
    expect(await problem(new Uint8Array([0x47, 0x47]))).toMatch(/truncated file: GGUF header/);
  });

  it("rejects absurd counts before allocating", async () => {
    expect(await problem(build({ tensorCount: 2n ** 62n }))).toMatch(/tensor count 4611686018427387904 .* impossible/);
    expect(await problem(build({ kvCount: 2n ** 64n - 1n }))).toMatch(/metadata key\/value count .* impossible/);
    const bigArray = kvOf("a", 9, (b) => b.u32(4).u64(1n << 40n));
    expect(await problem(build({ kv: bigArray }))).toMatch(/item count of metadata 'a' .* impossible/);
    const strings = kvOf("a", 9, (b) => b.u32(8).u64(1000));
    expect(await problem(build({ kv: strings }))).toMatch(/item count of metadata 'a' 1000 .* × 8 bytes/);
  });

  it("rejects strings longer than the file and non-UTF-8 strings", async () => {
    expect(await problem(build({ kv: (b) => void b.u64(1n << 50n) }))).toMatch(/length of metadata key 0 .* impossible/);
    expect(await problem(build({ kv: kvOf("k", 8, (b) => b.u64(5000).raw([1, 2])) }))).toMatch(/length of metadata 'k' 5000/);
    expect(await problem(build({ kv: (b) => void b.u64(2).raw([0xc3, 0x28]).u32(4).u32(1) }))).toMatch(/metadata key 0 at byte 24 is not valid UTF-8/);
    expect(await problem(build({ kv: kvOf("k", 8, (b) => b.u64(1).raw([0xff])) }))).toMatch(/metadata 'k' .* not valid UTF-8/);
    expect(await problem(build({ kv: kvOf("", 4, (b) => b.u32(1)) }))).toMatch(/metadata key 0 .* is empty/);
  });

  it("rejects unknown value types, bad bools, deep nesting and duplicate keys", async () => {
    expect(await problem(build({ kv: kvOf("k", 13, (b) => b.u32(0)) }))).toMatch(/metadata 'k' has unknown value type 13/);
    expect(await problem(build({ kv: kvOf("k", 9, (b) => b.u32(77).u64(0)) }))).toMatch(/items of metadata 'k' has unknown value type 77/);
    expect(await problem(build({ kv: kvOf("k", 7, (b) => b.u8(2)) }))).toMatch(/bool with value 2/);
    const deep = kvOf("k", 9, (b) => { for (let i = 0; i < 20; i++) b.u32(9).u64(1); b.u32(4).u64(0); });
    expect(await problem(build({ kv: deep }))).toMatch(/nests arrays deeper than 8/);
    const twice = (b: Bytes): void => { defaultKv(b); defaultKv(b); };
    expect(await problem(build({ kvCount: 2, kv: twice }))).toMatch(/duplicate metadata key 'general.architecture'/);
  });

  it("rejects bad alignments", async () => {
    for (const [type, write, re] of [
      [4, (b: Bytes) => b.u32(0), /general.alignment is 0; it must be a non-zero power of two/],
      [4, (b: Bytes) => b.u32(48), /general.alignment is 48/],
      [10, (b: Bytes) => b.u64(32), /general.alignment must be a u32, found u64/],
    ] as const) {
      expect(await problem(build({ kv: kvOf("general.alignment", type, write) }))).toMatch(re);
    }
  });

  it("rejects bad tensor infos", async () => {
    const one = (t: Partial<TensorSpec>, extra: Spec = {}) => build({ tensors: [{ name: "w", dims: [4, 2], type: F32, offset: 0, ...t }], ...extra });
    expect(await problem(one({ type: 99 }))).toMatch(/tensor 'w' has unknown ggml type 99/);
    expect(await problem(one({ type: 16 }))).toMatch(/tensor 'w' has ggml type IQ2_XXS \(16\), which cogen does not support/);
    expect(await problem(one({ type: 10, dims: [32, 1] }))).toMatch(/row length 32 is not a multiple of the Q2_K block size 256/);
    expect(await problem(one({ type: 23, dims: [128, 2] }))).toMatch(/row length 128 is not a multiple of the IQ4_XS block size 256/);
    expect(await problem(one({ type: 20, dims: [16, 1] }))).toMatch(/row length 16 is not a multiple of the IQ4_NL block size 32/);
    expect(await problem(one({ dims: [1, 1, 1, 1, 1] }))).toMatch(/tensor 'w' has 5 dimensions \(must be 1..4\)/);
    expect(await problem(one({ dims: [], nDims: 0 }))).toMatch(/tensor 'w' has 0 dimensions/);
    expect(await problem(one({ dims: [4, 0] }))).toMatch(/tensor 'w' has a zero-sized dimension 1/);
    expect(await problem(one({ dims: [2n ** 40n, 2n ** 40n] }))).toMatch(/tensor 'w' element count overflows/);
    expect(await problem(one({ dims: [2n ** 63n] }))).toMatch(/element count overflows/);
    expect(await problem(one({ type: 8, dims: [31, 1] }))).toMatch(/row length 31 is not a multiple of the Q8_0 block size 32/);
    expect(await problem(one({ name: "" }))).toMatch(/tensor 0 has an empty name/);
    expect(await problem(one({ offset: 16 }))).toMatch(/data offset 16 is not a multiple of the alignment 32/);
    expect(await problem(one({ offset: 32 }))).toMatch(/tensor 'w' data \(32 bytes at data offset 32\) ends at byte \d+, past the end of the file/);
    expect(await problem(one({ offset: 2n ** 60n }))).toMatch(/data offset 1152921504606846976 beyond the file/);
    expect(await problem(one({ dims: [1024, 1024] }))).toMatch(/past the end of the file/);
  });

  it("rejects overlapping and duplicate tensors", async () => {
    const two = (second: Partial<TensorSpec>) => build({
      tensors: [{ name: "a", dims: [16], type: F32, offset: 0 }, { name: "b", dims: [8], type: F32, offset: 64, ...second }],
      dataBytes: 96,
    });
    await expect(openGgufBytes(two({}), "ok.gguf")).resolves.toBeDefined();
    expect(await problem(two({ offset: 32 }))).toMatch(/tensors 'a' and 'b' overlap/);
    expect(await problem(two({ name: "a" }))).toMatch(/duplicate tensor name 'a'/);
  });

  it("rejects truncated files at every cut point", async () => {
    const full = build();
    for (let cut = 0; cut < full.length; cut++) {
      expect(await problem(full.subarray(0, cut))).toMatch(/truncated file|past the end of the file|exceeds the \d+ bytes left/);
    }
  });

  it("names the path when opening files, and reports a file that shrinks after opening", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const file = path.join(dir, "bad.gguf");
      await fs.writeFile(file, build({ version: 1 }));
      await expect(openGguf(file)).rejects.toThrow(`${file}: GGUF version 1`);
      await expect(openGguf(path.join(dir, "missing.gguf"))).rejects.toThrow(/missing.gguf: no such file or folder/);
      await expect(openGguf(dir)).rejects.toBeInstanceOf(InputFileError);
      await fs.writeFile(file, build());
      const g = await openGguf(file);
      await fs.truncate(file, (await fs.stat(file)).size - 8);
      await expect(g.readRaw("w")).rejects.toThrow(/truncated file: tensor 'w' needs 32 bytes/);
      await expect(g.readF32("nope")).rejects.toThrow(/no tensor named 'nope'/);
      await g.close();
    } finally {
      await cleanup();
    }
  });

  it("refuses headers beyond the configured limit without reading the whole file", async () => {
    const big = build({ kv: kvOf("k", 8, (b) => b.str("x".repeat(5000))) });
    await expect(openGgufBytes(big, "big.gguf", { maxHeaderBytes: 1024 })).rejects.toThrow(/header is larger than the 1024-byte limit/);
    await expect(openGgufBytes(big, "big.gguf", { maxHeaderBytes: 8192 })).resolves.toBeDefined();
  });
});
