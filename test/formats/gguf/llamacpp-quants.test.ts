/**
 * cogen's quantizers and dequantizers against llama.cpp's own (ggml's `quantize_row_*_ref` and
 * `dequantize_row_*` in the libggml-base that node-llama-cpp ships, called by ggml-oracle.py):
 * the bytes and the floats must be identical, bit for bit. Skipped, with the reason in the title,
 * where python3 or the shared library is missing.
 */
import { execFileSync } from "node:child_process";
import { existsSync, promises as fs, readFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { available, bytesOf, DECODED_ONLY, ENCODED, hardInput, LIB, oracle, ORACLE, sha256, skipNote } from "./ggml-oracle.js";
import { fixtureFile } from "../../reference-data.js";
import { dequantize, encodeTensor } from "../../../src/formats/gguf/codec.js";
import { openGguf } from "../../../src/formats/gguf/reader.js";
import { makeTinyLlama, tempDir, FIXTURE_TEXT } from "../../fixtures/tiny-llama.js";
import { klDivergence, llamaCppDistributions, llamaCppTokenize } from "../../../src/models/llamacpp/parity.js";


describe("quantization matches llama.cpp's outputs recorded in test/fixtures/ggml-quants.json (no python needed)", () => {
  const recorded = JSON.parse(readFileSync(fixtureFile("ggml-quants.json"), "utf8")) as {
    types: Record<string, { quantized?: string; blocks?: string; floats: string }>;
  };
  const x = hardInput(1);
  for (const dtype of [...ENCODED, ...DECODED_ONLY]) {
    it(dtype, () => {
      const r = recorded.types[dtype];
      const q = r.blocks ? new Uint8Array(Buffer.from(r.blocks, "base64")) : encodeTensor(x, dtype);
      if (r.quantized) expect(sha256(q)).toBe(r.quantized);
      expect(sha256(bytesOf(dequantize(q, dtype, x.length)))).toBe(r.floats);
    });
  }
});

describe(`quantization is bit-exact with llama.cpp's reference quantizers${skipNote}`, () => {
  for (const dtype of ENCODED) {
    it.skipIf(!available)(`${dtype}: quantize gives llama.cpp's bytes and dequantize its floats`, () => {
      for (const seed of [1, 2, 3]) {
        const x = hardInput(seed);
        const ours = encodeTensor(x, dtype);
        const theirs = oracle("quantize", dtype, bytesOf(x), x.length);
        expect(ours.length).toBe(theirs.length);
        const firstDiff = ours.findIndex((v, i) => v !== theirs[i]);
        expect(firstDiff, `${dtype} seed ${seed}: first differing byte`).toBe(-1);
        const back = dequantize(ours, dtype, x.length);
        expect(bytesOf(back)).toEqual(oracle("dequantize", dtype, ours, x.length));
      }
    });
  }
  for (const dtype of DECODED_ONLY) {
    it.skipIf(!available)(`${dtype}: dequantize gives llama.cpp's floats for blocks llama.cpp wrote`, () => {
      for (const seed of [4, 5]) {
        const x = hardInput(seed);
        const q = oracle("quantize", dtype, bytesOf(x), x.length);
        const ours = dequantize(q, dtype, x.length);
        expect(bytesOf(ours)).toEqual(oracle("dequantize", dtype, q, x.length));
      }
    });
  }
});

/** Rows of 256 so K-quants apply; 8 blocks so use_more_bits picks some layers and not others. */
const SHAPE = { hiddenSize: 256, intermediateSize: 512, numLayers: 8, numHeads: 4, numKvHeads: 2, scale: 0.05 };

const LIBLLAMA = path.join(path.dirname(LIB), "libllama.v0.4.0.so");
const modelAvailable = available && existsSync(LIBLLAMA);

describe(`convert --dtype q4_k_m / q5_k_m gives the file llama-quantize makes from the F32 conversion${modelAvailable ? "" : " [skipped: python3 or node-llama-cpp's libllama not found]"}`, () => {
  let root: string;
  beforeAll(async () => {
    root = await tempDir();
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  for (const [dtype, ftype, tied] of [["q4_k_m", 15, false], ["q5_k_m", 17, true]] as const) {
    it.skipIf(!modelAvailable)(`${dtype}${tied ? " (tied embeddings)" : ""}: same tensor types and bytes, tensor by tensor`, async () => {
      const tiny = await makeTinyLlama(root, "byte-level", { ...SHAPE, tieWordEmbeddings: tied });
      const f32 = await tiny.gguf("f32");
      const ours = await openGguf(await tiny.gguf(dtype));
      const reference = path.join(root, `llama-quantize-${dtype}.gguf`);
      execFileSync("python3", [ORACLE, LIBLLAMA, "model", String(ftype), f32, reference], { stdio: "ignore" });
      const theirs = await openGguf(reference);
      try {
        expect(ours.getNumber("general.file_type")).toBe(ftype);
        const types = new Map(theirs.list().map((t) => [t.name, t.dtype]));
        expect(new Map(ours.list().map((t) => [t.name, t.dtype]))).toEqual(types);
        // The mix is really mixed: Q6_K output and some attn_v/ffn_down, the base type elsewhere.
        expect(new Set(types.values())).toEqual(new Set(["F32", dtype === "q4_k_m" ? "Q4_K" : "Q5_K", "Q6_K"]));
        for (const { name } of theirs.list()) {
          const a = await ours.readRaw(name);
          const b = await theirs.readRaw(name);
          expect(a.length, name).toBe(b.length);
          expect(a.findIndex((v, i) => v !== b[i]), `${name}: first differing byte`).toBe(-1);
        }
      } finally {
        await ours.close();
        await theirs.close();
      }
    }, 120_000);
  }

  it("the quantized files run in llama.cpp, closer to F32 the more bits they keep", async () => {
    const tiny = await makeTinyLlama(root, "byte-level", SHAPE);
    const f32 = await tiny.gguf("f32");
    const tokens = await llamaCppTokenize(f32, FIXTURE_TEXT.slice(0, 60));
    const p = await llamaCppDistributions(f32, tokens, tiny.config.vocabSize);
    const meanKl: Record<string, number> = {};
    for (const dtype of ["q8_0", "q6_k", "q4_k_m", "q4_0"] as const) {
      const q = await llamaCppDistributions(await tiny.gguf(dtype), tokens, tiny.config.vocabSize);
      meanKl[dtype] = p.reduce((sum, row, i) => sum + klDivergence(row, q[i]), 0) / p.length;
    }
    console.info(`mean KL(F32 ‖ type) over ${tokens.length} positions: ${JSON.stringify(meanKl)}`);
    expect(meanKl.q8_0).toBeGreaterThan(0);
    expect(meanKl.q8_0).toBeLessThan(meanKl.q6_k);
    expect(meanKl.q6_k).toBeLessThan(meanKl.q4_k_m);
    expect(meanKl.q4_k_m).toBeLessThan(meanKl.q4_0);
    expect(meanKl.q4_k_m).toBeLessThan(0.1);
  }, 180_000);
});
