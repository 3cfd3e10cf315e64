/**
 * GGUF block dequantization (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K): cogen's TypeScript against an
 * independent vectorized NumPy implementation (bench/gguf-quants-reference.py), run side by side
 * on the same random blocks (finite f16 scales). Checks the outputs are bit-identical and prints
 * the median time of several runs of each and their ratio (NumPy time excludes start-up and I/O).
 * Also times encodeTensor for Q8_0 / Q4_0 against f16 encoding of the same values, and the types
 * the NumPy reference does not cover (decoding Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, IQ4_NL, IQ4_XS;
 * encoding Q4_1 … Q6_K) against Q8_0 in the same run, and every encoder against llama.cpp's own C
 * reference quantizer (bench/gguf-quants-ggml.py, through node-llama-cpp's libggml-base.so) where
 * that library is present.
 *
 *   npx tsx bench/gguf-quants.ts [--elements 4194304] [--runs 5] [--python python3]
 */
import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { f32ToF16 } from "../src/core/half.js";
import { Rng } from "../src/core/rng.js";
import type { DType } from "../src/core/tensor.js";
import { dequantize, encodeTensor } from "../src/formats/gguf/codec.js";
import { GGML_TYPES } from "../src/formats/gguf/constants.js";

const { values } = parseArgs({
  options: {
    elements: { type: "string", default: String(1 << 22) },
    runs: { type: "string", default: "5" },
    python: { type: "string", default: "python3" },
  },
});
const n = Number(values.elements);
const runs = Number(values.runs);
const reference = path.join(path.dirname(fileURLToPath(import.meta.url)), "gguf-quants-reference.py");
const scaleOffsets: Partial<Record<DType, number[]>> = {
  Q8_0: [0], Q4_0: [0], Q4_K: [0, 2], Q5_K: [0, 2], Q6_K: [208],
  Q4_1: [0, 2], Q5_0: [0], Q5_1: [0, 2], Q2_K: [80, 82], Q3_K: [108], IQ4_NL: [0], IQ4_XS: [0],
};

/** Random blocks of `dtype` with finite f16 scales. */
function randomBlocks(dtype: DType): Uint8Array {
  const type = GGML_TYPES[dtype]!;
  const blocks = n / type.blockSize;
  const bytes = new Uint8Array(blocks * type.typeSize).map(() => rng.int(256));
  for (let b = 0; b < blocks; b++) {
    for (const at of scaleOffsets[dtype]!) {
      const h = f32ToF16(new Float32Array([rng.normal() * 0.01]))[0];
      bytes[b * type.typeSize + at] = h & 0xff;
      bytes[b * type.typeSize + at + 1] = h >> 8;
    }
  }
  return bytes;
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

function time(f: () => unknown): number {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    f();
    ms.push(performance.now() - t);
  }
  return median(ms);
}

const rng = new Rng(1);
const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-bench-gguf-"));
try {
  console.log(`dequantize ${n} elements, median of ${runs} runs`);
  for (const dtype of ["Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"] as DType[]) {
    const bytes = randomBlocks(dtype);
    const src = path.join(dir, `${dtype}.bin`);
    const dst = path.join(dir, `${dtype}.f32`);
    await fs.writeFile(src, bytes);
    const ours = time(() => dequantize(bytes, dtype, n));
    const ref = JSON.parse(execFileSync(values.python!, [reference, dtype, src, dst, String(runs)]).toString()) as { ms: number };
    const mine = new Uint32Array(dequantize(bytes, dtype, n).buffer);
    const theirs = new Uint32Array((await fs.readFile(dst)).buffer.slice(0));
    let mismatches = 0;
    for (let i = 0; i < n; i++) if (mine[i] !== theirs[i]) mismatches++;
    console.log(`${dtype.padEnd(5)} cogen ${ours.toFixed(1)} ms (${(n / ours / 1e3).toFixed(0)} M/s)  numpy ${ref.ms.toFixed(1)} ms  ` +
      `ratio cogen/numpy ${(ours / ref.ms).toFixed(2)}  bit mismatches ${mismatches}`);
  }
  const x = new Float32Array(n).map(() => rng.normal());
  const f16 = time(() => encodeTensor(x, "F16"));
  for (const dtype of ["Q8_0", "Q4_0"] as DType[]) {
    const t = time(() => encodeTensor(x, dtype));
    console.log(`encode ${dtype} ${t.toFixed(1)} ms  ratio vs encode F16 ${(t / f16).toFixed(2)}`);
  }
  const q8Blocks = randomBlocks("Q8_0");
  const q8Decode = time(() => dequantize(q8Blocks, "Q8_0", n));
  for (const dtype of ["Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "IQ4_NL", "IQ4_XS"] as DType[]) {
    const bytes = randomBlocks(dtype);
    const t = time(() => dequantize(bytes, dtype, n));
    console.log(`dequantize ${dtype} ${t.toFixed(1)} ms  ratio vs dequantize Q8_0 ${(t / q8Decode).toFixed(2)}`);
  }
  const q8Encode = time(() => encodeTensor(x, "Q8_0"));
  const ggml = path.resolve(path.dirname(reference), "../node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so");
  const valuesFile = path.join(dir, "values.f32");
  await fs.writeFile(valuesFile, new Uint8Array(x.buffer));
  const haveGgml = await fs.stat(ggml).then(() => true, () => false);
  for (const dtype of ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"] as DType[]) {
    const t = time(() => encodeTensor(x, dtype));
    let line = `encode ${dtype} ${t.toFixed(1)} ms  ratio vs encode Q8_0 ${(t / q8Encode).toFixed(2)}`;
    if (haveGgml) {
      const c = JSON.parse(execFileSync(values.python!, [path.join(path.dirname(reference), "gguf-quants-ggml.py"), ggml, dtype, valuesFile, String(runs)]).toString()) as { ms: number };
      line += `  llama.cpp C ${c.ms.toFixed(1)} ms  ratio cogen/C ${(t / c.ms).toFixed(2)}`;
    }
    console.log(line);
  }
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}
