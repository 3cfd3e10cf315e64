import { promises as fs } from "node:fs";
import * as path from "node:path";
import { ConfigError, InputFileError } from "../../core/errors.js";
import { silentProgress, type Progress } from "../../core/progress.js";
import type { DType, TensorInfo } from "../../core/tensor.js";
import { readLlamaConfig, GGUF_ARCHITECTURE } from "../hf/config.js";
import { hfToGgufName, permuteRowBytes, rotaryHeads } from "../hf/llama-tensors.js";
import { readVocab } from "../hf/tokenizer.js";
import { decodeToF32, openHfWeights, type SafetensorsDType } from "../safetensors/index.js";
import { writeGguf, type GgufWriteSummary } from "../gguf/writer.js";
import { openGguf } from "../gguf/reader.js";
import { checkLlamaCppRequirements } from "../gguf/llama-check.js";
import type { GgufTensorPlan } from "../gguf/encode-header.js";
import { modelMetadata, vocabMetadata, FILE_TYPE } from "./gguf-metadata.js";
import { transcodeRows } from "./transcode.js";

export type ConvertDType = "f32" | "f16" | "bf16" | "q8_0";

export interface HfToGgufOptions {
  /** Type of the matrices. Default: the source's own type (F32, F16 or BF16). */
  dtype?: ConvertDType;
  /** `general.name`; default: the folder's name. */
  name?: string;
  progress?: Progress;
}

/** Hugging Face tensors that carry no weights llama.cpp needs (recomputed buffers). */
const SKIPPED = /\.rotary_emb\.inv_freq$/;

/**
 * Convert a llama-family Hugging Face folder to a GGUF file that llama.cpp runs, as llama.cpp's
 * convert_hf_to_gguf.py does: GGUF tensor names, q/k rows interleaved for llama.cpp's rotary
 * embedding, norms and biases kept in F32, the tokenizer converted to GGUF's vocabulary keys
 * (the original tokenizer.json is stored too, so the way back is lossless). Streams one tensor
 * at a time; the output appears only when complete.
 */
export async function convertHfToGguf(srcDir: string, dstFile: string, options: HfToGgufOptions = {}): Promise<GgufWriteSummary> {
  const config = await readLlamaConfig(srcDir);
  const vocab = await readVocab(srcDir);
  if (!vocab) throw new InputFileError(path.join(srcDir, "tokenizer.json"), "missing: llama.cpp needs the tokenizer to run a model");
  if (vocab.tokens.length > config.vocabSize) {
    throw new InputFileError(path.join(srcDir, "tokenizer.json"), `has ${vocab.tokens.length} tokens but config.json's vocab_size is ${config.vocabSize}`);
  }
  const weights = await openHfWeights(srcDir);
  try {
    const sources = weights.list().filter((t) => !SKIPPED.test(t.name));
    const unknown = sources.filter((t) => hfToGgufName(t.name) === undefined).map((t) => t.name);
    if (unknown.length) throw new InputFileError(srcDir, `tensors cogen does not know how to place in GGUF: ${unknown.slice(0, 10).join(", ")}`);
    const tied = !sources.some((t) => t.name === "lm_head.weight");
    const effective = { ...config, tieWordEmbeddings: tied || config.tieWordEmbeddings };
    const targetType = chooseFileType(options.dtype, sources);
    const arch = GGUF_ARCHITECTURE[config.architecture];
    const permute = arch === "llama";

    const plan: (GgufTensorPlan & { source: TensorInfo })[] = sources.map((source) => ({
      name: hfToGgufName(source.name)!,
      shape: source.shape,
      dtype: tensorType(source, targetType),
      source,
    }));
    // Padded vocabularies (embedding rows beyond the tokenizer) get placeholder tokens, as llama.cpp's converter does.
    const embedding = sources.find((t) => t.name === "model.embed_tokens.weight");
    const rows = embedding?.shape[0] ?? config.vocabSize;
    while (vocab.tokens.length < rows) {
      vocab.tokens.push(`[PAD${vocab.tokens.length}]`);
      vocab.tokenTypes.push(5);
      vocab.scores?.push(-1000);
    }
    const tokenizerJson = await fs.readFile(path.join(srcDir, "tokenizer.json"), "utf8");
    const metadata = [
      ...modelMetadata({ ...effective, vocabSize: rows }, options.name ?? path.basename(path.resolve(srcDir)), targetType),
      ...vocabMetadata(vocab, tokenizerJson),
    ];
    const progress = options.progress ?? silentProgress;
    const summary = await writeGguf(dstFile, {
      metadata,
      plan,
      progress,
      produce: async (tensor) => {
        const entry = plan[tensor.index];
        const heads = permute ? rotaryHeads(entry.name, config.numHeads, config.numKvHeads) : undefined;
        if (entry.dtype === entry.source.dtype) {
          // Same type on both sides: move the stored bytes, never decoding (half the memory, no conversion).
          const raw = await weights.readRaw(entry.source.name);
          return heads === undefined ? raw : permuteRowBytes(raw, heads, raw.length / entry.shape[0], true);
        }
        // A type change goes row-slice by row-slice, so no whole tensor is ever held as float32.
        let raw = await weights.readRaw(entry.source.name);
        if (heads !== undefined) raw = permuteRowBytes(raw, heads, raw.length / entry.shape[0], true);
        const from = entry.source.dtype as SafetensorsDType;
        return transcodeRows(raw, entry.shape, entry.dtype, (bytes) => decodeToF32(from, bytes));
      },
    });
    await checkWritten(dstFile);
    return summary;
  } finally {
    await weights.close();
  }
}

function chooseFileType(dtype: ConvertDType | undefined, sources: TensorInfo[]): keyof typeof FILE_TYPE {
  if (dtype) {
    const chosen = ({ f32: "F32", f16: "F16", bf16: "BF16", q8_0: "Q8_0" } as const)[dtype];
    if (!chosen) throw new ConfigError([`--dtype must be one of f32, f16, bf16, q8_0 (got "${dtype}")`]);
    return chosen;
  }
  const matrix = sources.find((t) => t.shape.length === 2);
  return matrix?.dtype === "F16" ? "F16" : matrix?.dtype === "BF16" ? "BF16" : "F32";
}

/** Norms and biases stay F32; matrices take the target type (Q8_0 needs rows of 32). */
function tensorType(source: TensorInfo, target: keyof typeof FILE_TYPE): DType {
  if (source.shape.length < 2) return "F32";
  if (target === "Q8_0" && source.shape[source.shape.length - 1] % 32 !== 0) return "F16";
  return target;
}

/** A GGUF that llama.cpp would refuse (or abort on) must never be left behind as if complete. */
async function checkWritten(file: string): Promise<void> {
  const written = await openGguf(file);
  const problems = checkLlamaCppRequirements(written);
  await written.close();
  if (problems.length) {
    await fs.rm(file, { force: true });
    throw new InputFileError(file, `the converted file would not load in llama.cpp, so it was removed:\n  - ${problems.join("\n  - ")}`);
  }
}
