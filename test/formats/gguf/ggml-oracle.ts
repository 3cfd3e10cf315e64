/**
 * llama.cpp's own quantizers as a test oracle: ggml-oracle.py calls the libggml-base / libllama
 * that node-llama-cpp ships through Python ctypes. `available` is false where python3 or the
 * libraries are missing (tests then skip, saying why).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Rng } from "../../../src/core/rng.js";
import type { DType } from "../../../src/core/tensor.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ORACLE = path.join(HERE, "ggml-oracle.py");
export const LIB = path.resolve(HERE, "../../../node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so");
const python = spawnSync("python3", ["-c", "import ctypes"]).status === 0;
export const available = python && existsSync(LIB);
export const skipNote = available ? "" : ` [skipped: ${python ? "libggml-base.so of node-llama-cpp's linux-x64 build" : "python3"} not found]`;


export function oracle(op: "quantize" | "dequantize", dtype: DType, input: Uint8Array, count: number): Uint8Array {
  const work = mkdtempSync(path.join(tmpdir(), "cogen-ggml-oracle-"));
  try {
    return runOracle(work, op, dtype, input, count);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function runOracle(work: string, op: "quantize" | "dequantize", dtype: DType, input: Uint8Array, count: number): Uint8Array {
  const src = path.join(work, "in.bin");
  const dst = path.join(work, "out.bin");
  writeFileSync(src, input);
  execFileSync("python3", [ORACLE, LIB, op, dtype, src, dst, String(count)]);
  return new Uint8Array(readFileSync(dst));
}

export const bytesOf = (x: Float32Array): Uint8Array => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);

/**
 * 16 super-blocks (4096 values) of hard cases: gaussian rows at several scales, all-zero and
 * constant blocks, one huge outlier, all-positive and all-negative blocks, values near f16's
 * limits, and exact ties for the rounding rules.
 */
export function hardInput(seed: number): Float32Array {
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

export const ENCODED: DType[] = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"];
export const DECODED_ONLY: DType[] = ["Q2_K", "Q3_K", "IQ4_NL", "IQ4_XS"];

/** SHA-256 of bytes, hex. */
export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
