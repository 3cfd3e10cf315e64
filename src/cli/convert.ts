import { promises as fs } from "node:fs";
import { streamProgress } from "../core/progress.js";
import { convertGgufToHf } from "../formats/convert/gguf-to-hf.js";
import { convertHfToGguf, type ConvertDType } from "../formats/convert/hf-to-gguf.js";
import { parseFlags, parseSize, UsageError } from "./args.js";
import { printJson } from "./output.js";
import { readFailure } from "../core/files.js";

const HELP = `usage: cogen convert SRC DST [--dtype TYPE] [--out-shard-size SIZE] [--json]

Convert a llama-family Hugging Face folder (Llama, Mistral, Qwen2) to a GGUF file that llama.cpp
runs, or a GGUF file back to a Hugging Face folder. The direction follows SRC: a folder becomes
a GGUF file, a GGUF file becomes a folder.

  --dtype           type of the weight matrices: f32, f16, bf16 (default: the source's own
                    type; a quantized GGUF becomes f32), or for GGUF output a llama.cpp file
                    type: q8_0, q4_0, q4_1, q5_0, q5_1, q6_k, q4_k_s, q4_k_m, q5_k_s, q5_k_m
                    (llama-quantize's per-tensor mix, byte for byte)
  --out-shard-size  largest safetensors shard when writing a folder (e.g. 5B, 2GiB)
  --json            print a summary as JSON`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    { dtype: { type: "string" }, "out-shard-size": { type: "string" }, json: { type: "boolean" } },
    HELP,
  );
  if (positionals.length !== 2) throw new UsageError([`give SRC and DST (got ${positionals.length} argument${positionals.length === 1 ? "" : "s"})`]);
  const [src, dst] = positionals;
  const stat = await fs.stat(src).catch((error: unknown) => {
    throw readFailure(src, error);
  });
  const progress = values.json ? undefined : streamProgress();
  const started = Date.now();
  let summary: Record<string, unknown>;
  if (stat.isDirectory()) {
    if (values["out-shard-size"]) throw new UsageError(["--out-shard-size applies to Hugging Face output only"]);
    const result = await convertHfToGguf(src, dst, { dtype: values.dtype as ConvertDType | undefined, progress });
    summary = { from: src, to: dst, direction: "hf→gguf", bytes: result.bytes, tensors: result.tensors.length };
  } else {
    const dtype = values.dtype as "f32" | "f16" | "bf16" | undefined;
    const maxShardBytes = values["out-shard-size"] ? parseSize(values["out-shard-size"], "--out-shard-size") : undefined;
    const files = await convertGgufToHf(src, dst, { dtype, maxShardBytes, progress });
    summary = { from: src, to: dst, direction: "gguf→hf", files };
  }
  summary.seconds = (Date.now() - started) / 1000;
  if (values.json) printJson(summary);
  else console.log(`converted ${src} → ${dst} in ${(summary.seconds as number).toFixed(1)}s`);
  return 0;
}
