import { promises as fs } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { InputFileError } from "../../../src/core/errors.js";
import { Rng } from "../../../src/core/rng.js";
import type { DType } from "../../../src/core/tensor.js";
import { encodeTensor } from "../../../src/formats/gguf/codec.js";
import { GGML_TYPES } from "../../../src/formats/gguf/constants.js";
import { openGgufBytes } from "../../../src/formats/gguf/reader.js";
import { ggufValue, type GgufValue } from "../../../src/formats/gguf/values.js";
import { writeGguf } from "../../../src/formats/gguf/writer.js";
import { tempDir } from "./helpers.js";

/** Small valid files covering every value type and every readable tensor type. */
async function seedFiles(): Promise<Uint8Array[]> {
  const { dir, cleanup } = await tempDir();
  const rng = new Rng(99);
  try {
    const metadata: [string, GgufValue][] = [
      ["general.architecture", ggufValue.string("llama")],
      ["general.alignment", ggufValue.u32(16)],
      ["a.u8", ggufValue.u8(1)], ["a.i16", ggufValue.i16(-2)], ["a.f32", ggufValue.f32(0.5)],
      ["a.bool", ggufValue.bool(true)], ["a.u64", ggufValue.u64(7n)], ["a.f64", ggufValue.f64(1e-300)],
      ["tokenizer.ggml.tokens", ggufValue.array("string", ["<s>", "</s>", "a", "ß"])],
      ["tokenizer.ggml.scores", ggufValue.array("f32", [0, 0, -1, -2])],
      ["nested", ggufValue.array("array", [ggufValue.array("i64", [1n]), ggufValue.array("bool", [false])])],
    ];
    const dtypes: DType[] = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K", "I8", "I32", "F64"];
    const plan = dtypes.map((dtype, i) => ({ name: `t${i}.${dtype}`, dtype, shape: dtype.endsWith("_K") ? [256] : [2, 32] }));
    const files: Uint8Array[] = [];
    const write = async (name: string, m: [string, GgufValue][], p: typeof plan) => {
      const file = path.join(dir, name);
      await writeGguf(file, {
        metadata: m, plan: p,
        produce: async (info) => {
          if (["F32", "F16", "BF16", "Q8_0", "Q4_0"].includes(info.dtype)) {
            return encodeTensor(new Float32Array(info.shape.reduce((a, b) => a * b)).map(() => rng.normal()), info.dtype);
          }
          return new Uint8Array(info.byteLength).map(() => rng.int(256));
        },
      });
      files.push(new Uint8Array(await fs.readFile(file)));
    };
    await write("all.gguf", metadata, plan);
    await write("small.gguf", metadata.slice(0, 3), plan.slice(0, 2));
    await write("kquants.gguf", [], plan.filter((p) => GGML_TYPES[p.dtype]!.blockSize === 256));
    return files;
  } finally {
    await cleanup();
  }
}

describe("GGUF reader under random byte mutations", () => {
  it("either parses (every tensor then reads or fails cleanly) or throws InputFileError, for thousands of mutants", async () => {
    const seeds = await seedFiles();
    const rng = new Rng(2024);
    let parsed = 0;
    let rejected = 0;
    const cases = 10_000;
    for (let c = 0; c < cases; c++) {
      const base = seeds[c % seeds.length];
      const bytes = base.slice();
      // Most flips land in the header, where the structure is; some anywhere; some truncate.
      const headerEnd = Math.min(bytes.length, 900);
      const flips = 1 + rng.int(4);
      for (let f = 0; f < flips; f++) {
        const at = rng.next() < 0.85 ? rng.int(headerEnd) : rng.int(bytes.length);
        bytes[at] = rng.next() < 0.5 ? bytes[at] ^ (1 << rng.int(8)) : rng.int(256);
      }
      const input = rng.next() < 0.05 ? bytes.subarray(0, rng.int(bytes.length)) : bytes;
      try {
        const g = await openGgufBytes(input, `mutant-${c}.gguf`);
        parsed++;
        for (const t of g.list()) {
          try {
            const values = await g.readF32(t.name);
            expect(values.length).toBe(t.shape.reduce((a, b) => a * b, 1));
          } catch (error) {
            if (!(error instanceof InputFileError)) throw error;
          }
        }
      } catch (error) {
        if (!(error instanceof InputFileError)) {
          throw new Error(`mutant ${c} (seed file ${c % seeds.length}) raised ${String(error)}`, { cause: error });
        }
        expect(error.message).toMatch(new RegExp(`^mutant-${c}\\.gguf: `));
        rejected++;
      }
    }
    expect(parsed + rejected).toBe(cases);
    // Both outcomes must actually happen, or the mutations are not exercising anything.
    expect(parsed).toBeGreaterThan(cases / 10);
    expect(rejected).toBeGreaterThan(cases / 10);
  }, 60_000);
});
