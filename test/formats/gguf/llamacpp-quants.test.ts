/**
 * cogen's quantizers and dequantizers against llama.cpp's own (ggml's `quantize_row_*_ref` and
 * `dequantize_row_*` in the libggml-base that node-llama-cpp ships, called by ggml-oracle.py):
 * the bytes and the floats must be identical, bit for bit. Skipped, with the reason in the title,
 * where python3 or the shared library is missing.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, promises as fs, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../../src/core/rng.js";
import type { DType } from "../../../src/core/tensor.js";
import { dequantize, encodeTensor } from "../../../src/formats/gguf/codec.js";
import { openGguf } from "../../../src/formats/gguf/reader.js";
import { makeTinyLlama, tempDir, FIXTURE_TEXT } from "../../fixtures/tiny-llama.js";
import { klDivergence, llamaCppDistributions, llamaCppTokenize } from "../../../src/models/llamacpp/parity.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ORACLE = path.join(HERE, "ggml-oracle.py");
const LIB = path.resolve(HERE, "../../../node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so");
const python = spawnSync("python3", ["-c", "import ctypes"]).status === 0;
const available = python && existsSync(LIB);
const skipNote = available ? "" : ` [skipped: ${python ? "libggml-base.so of node-llama-cpp's linux-x64 build" : "python3"} not found]`;

const work = mkdtempSync(path.join(tmpdir(), "cogen-ggml-oracle-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function oracle(op: "quantize" | "dequantize", dtype: DType, input: Uint8Array, count: number): Uint8Array {
  const src = path.join(work, "in.bin");
  const dst = path.join(work, "out.bin");
  writeFileSync(src, input);
  execFileSync("python3", [ORACLE, LIB, op, dtype, src, dst, String(count)]);
  return new Uint8Array(readFileSync(dst));
}

const bytesOf = (x: Float32Array): Uint8Array => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);

/**
 * 16 super-blocks (4096 values) of hard cases: gaussian rows at several scales, all-zero and
 * constant blocks, one huge outlier, all-positive and all-negative blocks, values near f16's
 * limits, and exact ties for the rounding rules.
 */
function hardInput(seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(16 * 256);
  const gauss = (): number => {
    const u = Math.max(rng.next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
  };
  for (let b = 0; b < 16; b++) {
    const at = b * 256;
    const scale = [1, 0.02, 30, 1e-4][b % 4];
    for (let i = 0; i < 256; i++) x[at + i] = gauss() * scale;
    if (b === 1) x.fill(0, at, at + 256);
    if (b === 2) x.fill(0.37, at, at + 256);
    if (b === 3) x[at + 17] = 5000;
    if (b === 5) for (let i = 0; i < 256; i++) x[at + i] = Math.abs(x[at + i]) + 0.5;
    if (b === 6) for (let i = 0; i < 256; i++) x[at + i] = -Math.abs(x[at + i]) - 0.5;
    if (b === 7) x.fill(0, at, at + 40); // zero sub-blocks inside a live super-block
    if (b === 9) for (let i = 0; i < 256; i++) x[at + i] = (i % 17) - 8; // exact integers
    if (b === 10) for (let i = 0; i < 256; i++) x[at + i] = ((i % 9) - 4) * 0.125; // exact ties
    if (b === 11) for (let i = 0; i < 256; i++) x[at + i] = gauss() * 1e-8; // below f16's normals
  }
  return x;
}

const ENCODED: DType[] = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"];
const DECODED_ONLY: DType[] = ["Q2_K", "Q3_K", "IQ4_NL", "IQ4_XS"];

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
