import { promises as fs } from "node:fs";
import * as path from "node:path";
import { writeDirAtomic } from "../../core/atomic.js";
import { ConfigError, InputFileError } from "../../core/errors.js";
import { silentProgress, type Progress } from "../../core/progress.js";
import { llamaConfigToJson } from "../hf/config.js";
import { ggufExpertsTensor, ggufToHfName, hfExpertName, permuteRowBytes, ROPE_FREQS, rotaryHeads } from "../hf/llama-tensors.js";
import { tokenizerJsonFromVocab } from "../hf/tokenizer.js";
import { writeSafetensorsSharded, type TensorPlanEntry } from "../safetensors/index.js";
import { openGguf } from "../gguf/reader.js";
import { dequantize } from "../gguf/codec.js";
import { transcodeRows } from "./transcode.js";
import { configFromMetadata, vocabFromMetadata, HF_TOKENIZER_KEY } from "./gguf-metadata.js";

export interface GgufToHfOptions {
  /** Type of the written tensors. Default: F32 for quantized sources, otherwise the source type. */
  dtype?: "f32" | "f16" | "bf16";
  maxShardBytes?: number;
  progress?: Progress;
}

/**
 * Convert a llama or qwen2 GGUF file back to a Hugging Face folder: dequantized weights in
 * safetensors, q/k rows de-interleaved, config.json and the tokenizer (the original
 * tokenizer.json when the GGUF carries one, otherwise rebuilt from the GGUF vocabulary). The
 * folder appears only when complete.
 */
export async function convertGgufToHf(srcFile: string, dstDir: string, options: GgufToHfOptions = {}): Promise<string[]> {
  const gguf = await openGguf(srcFile);
  try {
    // rope_freqs.weight is recomputed from config.json's rope_scaling, which must then say llama3.
    const tensors = gguf.list().filter((t) => t.name !== ROPE_FREQS);
    const unknown = tensors.filter((t) => ggufToHfName(t.name) === undefined && !ggufExpertsTensor(t.name)).map((t) => t.name);
    if (unknown.length) throw new InputFileError(srcFile, `tensors without a Hugging Face name: ${unknown.slice(0, 10).join(", ")}`);
    const tied = !tensors.some((t) => t.name === "output.weight");
    const config = configFromMetadata(gguf.metadata, srcFile, tied);
    const vocab = vocabFromMetadata(gguf.metadata, srcFile);
    if (gguf.list().some((t) => t.name === ROPE_FREQS) && config.ropeScaling?.type !== "llama3") {
      throw new InputFileError(srcFile, `has ${ROPE_FREQS} (Llama 3 rope scaling) but no stored config.json with rope_scaling to rebuild it from`);
    }
    const permute = gguf.architecture === "llama";
    const outType = (source: string) => {
      if (options.dtype) {
        const chosen = ({ f32: "F32", f16: "F16", bf16: "BF16" } as const)[options.dtype];
        if (!chosen) throw new ConfigError([`--dtype must be one of f32, f16, bf16 for a Hugging Face folder (got "${options.dtype}")`]);
        return chosen;
      }
      return source === "F16" || source === "BF16" ? source : "F32";
    };
    // A mixture's stacked experts [E, rows, cols] become E Hugging Face matrices (expert slice e).
    const plan: (TensorPlanEntry & { source: string; expert?: number })[] = tensors.flatMap((t) => {
      const stacked = ggufExpertsTensor(t.name);
      if (!stacked) return [{ name: ggufToHfName(t.name)!, dtype: t.shape.length < 2 ? "F32" : outType(t.dtype), shape: t.shape, source: t.name }];
      return Array.from({ length: t.shape[0] }, (_, expert) => ({
        name: hfExpertName(stacked.layer, expert, stacked.part), dtype: outType(t.dtype), shape: t.shape.slice(1), source: t.name, expert,
      }));
    });
    // One stacked tensor is held while its experts are written.
    let held: { name: string; raw: Uint8Array } | undefined;
    const readSource = async (entry: (typeof plan)[number]): Promise<Uint8Array> => {
      if (entry.expert === undefined) return gguf.readRaw(entry.source);
      if (held?.name !== entry.source) held = { name: entry.source, raw: await gguf.readRaw(entry.source) };
      const experts = gguf.info(entry.source)!.shape[0];
      const size = held.raw.length / experts;
      return held.raw.subarray(entry.expert * size, (entry.expert + 1) * size);
    };
    const originalTokenizer = gguf.metadata.get(HF_TOKENIZER_KEY);
    const rebuilt = tokenizerJsonFromVocab(vocab);

    return await writeDirAtomic(dstDir, async (tmp) => {
      const { files } = await writeSafetensorsSharded(
        tmp,
        plan,
        async (_info, index) => {
          const entry = plan[index];
          const heads = permute ? rotaryHeads(entry.source, config.numHeads, config.numKvHeads) : undefined;
          if (entry.dtype === gguf.info(entry.source)!.dtype) {
            const raw = await readSource(entry);
            return heads === undefined ? raw : permuteRowBytes(raw, heads, raw.length / entry.shape[0], false);
          }
          let raw = await readSource(entry);
          if (heads !== undefined) raw = permuteRowBytes(raw, heads, raw.length / entry.shape[0], false);
          const from = gguf.info(entry.source)!.dtype;
          return transcodeRows(raw, entry.shape, entry.dtype, (bytes, count) => dequantize(bytes, from, count));
        },
        { maxShardBytes: options.maxShardBytes, metadata: { format: "pt" }, progress: options.progress ?? silentProgress },
      );
      const write = (name: string, value: unknown) => fs.writeFile(path.join(tmp, name), JSON.stringify(value, null, 2) + "\n");
      await write("config.json", llamaConfigToJson(config));
      if (originalTokenizer?.type === "string") await fs.writeFile(path.join(tmp, "tokenizer.json"), originalTokenizer.value);
      else await write("tokenizer.json", rebuilt.tokenizer);
      await write("tokenizer_config.json", rebuilt.config);
      return [...files.map((f) => path.join(dstDir, path.basename(f))), "config.json", "tokenizer.json", "tokenizer_config.json"].map((f) =>
        path.isAbsolute(f) ? f : path.join(dstDir, f),
      );
    });
  } finally {
    await gguf.close();
  }
}
