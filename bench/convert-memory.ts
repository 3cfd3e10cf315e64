/**
 * Converting streams: peak memory stays below 256 MiB plus the largest tensor, whatever the
 * model's size. Generates a ~2.2 GB bf16 llama (TinyLlama-1.1B shapes), converts it to GGUF (same
 * type: bytes moved; and to F16: decoded and re-encoded) and back, each in a fresh child process
 * whose peak RSS is measured, side by side with a plain copy of the same bytes and with an idle
 * child (the runtime's own baseline).
 *
 *   npx tsx bench/convert-memory.ts [--layers 22] [--keep]
 */
import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeRandomLlama, llamaTensorShapes } from "../src/zoo/random-llama.js";
import { trainBpe, tokenizerFiles } from "../src/zoo/bpe-train.js";

const MiB = 1024 * 1024;
const layersFlag = process.argv.indexOf("--layers");
const layers = layersFlag > 0 ? Number(process.argv[layersFlag + 1]) : 22;
const root = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-convert-bench-"));

function child(...args: string[]): { seconds: number; maxRssBytes: number } {
  const out = execFileSync(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "convert-child.ts"), ...args], { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop()!);
}

try {
  const src = path.join(root, "hf");
  const started = performance.now();
  const config = await writeRandomLlama(src, {
    hiddenSize: 2048, intermediateSize: 5632, numLayers: layers, numHeads: 32, numKvHeads: 4, vocabSize: 32000,
    dtype: "BF16", maxShardBytes: 1e9, tokenizer: tokenizerFiles(trainBpe("the quick brown fox jumps over the lazy dog", 10, "byte-level")),
  });
  const shapes = llamaTensorShapes(config);
  const totalBytes = shapes.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1) * 2, 0);
  const largest = Math.max(...shapes.map((t) => t.shape.reduce((a, b) => a * b, 1)));
  console.log(`generated ${(totalBytes / 2 ** 30).toFixed(2)} GiB bf16 model (${layers} layers) in ${((performance.now() - started) / 1000).toFixed(0)} s`);

  const idle = child("idle");
  const rows: [string, number, number][] = [];
  const copyStart = performance.now();
  for (const f of await fs.readdir(src)) await fs.copyFile(path.join(src, f), path.join(root, "copy-" + f));
  const copySeconds = (performance.now() - copyStart) / 1000;
  await Promise.all((await fs.readdir(root)).filter((f) => f.startsWith("copy-")).map((f) => fs.rm(path.join(root, f))));

  const same = child("hf-to-gguf", src, path.join(root, "same.gguf"), "");
  rows.push(["HF bf16 → GGUF bf16 (bytes moved)", same.seconds, same.maxRssBytes]);
  const f16 = child("hf-to-gguf", src, path.join(root, "f16.gguf"), "f16");
  rows.push(["HF bf16 → GGUF f16 (decoded, re-encoded)", f16.seconds, f16.maxRssBytes]);
  await fs.rm(path.join(root, "f16.gguf"));
  const back = child("gguf-to-hf", path.join(root, "same.gguf"), path.join(root, "back"));
  rows.push(["GGUF bf16 → HF bf16", back.seconds, back.maxRssBytes]);

  const largestStored = largest * 2;
  const largestF32 = largest * 4;
  console.log(`largest tensor: ${largest.toLocaleString("en-US")} values = ${(largestStored / MiB).toFixed(0)} MiB stored, ${(largestF32 / MiB).toFixed(0)} MiB as f32`);
  console.log(`idle child (node + tsx baseline): ${(idle.maxRssBytes / MiB).toFixed(0)} MiB peak RSS`);
  console.log(`plain copy of the same bytes: ${copySeconds.toFixed(1)} s (${(totalBytes / MiB / copySeconds).toFixed(0)} MiB/s)\n`);
  console.log("conversion".padEnd(44) + "seconds  ×copy  peak RSS  budget (256 MiB + largest f32)");
  for (const [name, seconds, rss] of rows) {
    const budget = 256 * MiB + largestF32;
    console.log(
      `${name.padEnd(44)}${seconds.toFixed(1).padStart(7)}  ${(seconds / copySeconds).toFixed(2).padStart(5)}  ${(rss / MiB).toFixed(0).padStart(5)} MiB  ${(budget / MiB).toFixed(0)} MiB ${rss <= budget ? "ok" : "OVER"}`,
    );
  }
} finally {
  if (!process.argv.includes("--keep")) await fs.rm(root, { recursive: true, force: true });
}
