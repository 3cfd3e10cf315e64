/**
 * Records llama.cpp's outputs for hardInput(1) into test/fixtures/ggml-quants.json, so the
 * bit-exactness test also runs where python3 is missing (CI): SHA-256 of the quantized bytes and
 * of the dequantized floats per type, and for the read-only types llama.cpp's blocks themselves.
 *
 *   npx tsx test/formats/gguf/record-ggml-quants.ts
 */
import { writeFileSync } from "node:fs";
import { fixtureFile } from "../../reference-data.js";
import { available, bytesOf, DECODED_ONLY, ENCODED, hardInput, oracle, sha256 } from "./ggml-oracle.js";

if (!available) throw new Error("needs python3 and node-llama-cpp's linux-x64 libggml-base.so");
const x = hardInput(1);
const record: Record<string, { quantized?: string; blocks?: string; floats: string }> = {};
for (const dtype of ENCODED) {
  const q = oracle("quantize", dtype, bytesOf(x), x.length);
  record[dtype] = { quantized: sha256(q), floats: sha256(oracle("dequantize", dtype, q, x.length)) };
}
for (const dtype of DECODED_ONLY) {
  const q = oracle("quantize", dtype, bytesOf(x), x.length);
  record[dtype] = { blocks: Buffer.from(q).toString("base64"), floats: sha256(oracle("dequantize", dtype, q, x.length)) };
}
const file = fixtureFile("ggml-quants.json");
writeFileSync(file, JSON.stringify({ source: "llama.cpp as shipped by node-llama-cpp 3.21.1 (linux-x64 libggml-base.so), input hardInput(1)", types: record }, null, 1) + "\n");
console.log(`wrote ${file}`);
