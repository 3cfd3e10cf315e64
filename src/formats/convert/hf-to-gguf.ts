import { promises as fs } from "node:fs";
import * as path from "node:path";
import { ConfigError, InputFileError } from "../../core/errors.js";
import { NO_SUCH_FILE } from "../../core/files.js";
import { didYouMean } from "../../core/suggest.js";
import { silentProgress, type Progress } from "../../core/progress.js";
import { BufferPool } from "../../core/buffer-pool.js";
import { prefetchInOrder } from "../../core/prefetch.js";
import type { DType, TensorInfo, TensorSource } from "../../core/tensor.js";
import { llama3RopeFactors } from "../hf/rope.js";
import { ROPE_FREQS } from "../hf/llama-tensors.js";
import { readLlamaConfig, GGUF_ARCHITECTURE, type LlamaConfig } from "../hf/config.js";
import { ggufExpertsName, hfExpertTensor, hfToGgufName, permuteRowBytes, rotaryHeads } from "../hf/llama-tensors.js";
import { readVocab } from "../hf/tokenizer.js";
import { decodeToF32, openHfWeights, type SafetensorsDType } from "../safetensors/index.js";
import { writeGguf, type GgufWriteSummary } from "../gguf/writer.js";
import { openGguf } from "../gguf/reader.js";
import { checkLlamaCppRequirements } from "../gguf/llama-check.js";
import type { GgufTensorPlan } from "../gguf/encode-header.js";
import { modelMetadata, vocabMetadata, FILE_TYPE } from "./gguf-metadata.js";
import { transcodeRows } from "./transcode.js";
import { QUANT_FILE_TYPES, quantRecipe, type QuantFileType } from "../gguf/quant-recipe.js";

/** Plain types, or a llama.cpp file type whose matrices get llama-quantize's mix (quant-recipe.ts). */
export type ConvertDType =
  | "f32" | "f16" | "bf16" | "q8_0" | "q4_0" | "q4_1" | "q5_0" | "q5_1"
  | "q4_k_s" | "q4_k_m" | "q5_k_s" | "q5_k_m" | "q6_k";

const CONVERT_DTYPES: readonly ConvertDType[] = [
  "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m", "q6_k",
];

export interface HfToGgufOptions {
  /** Type of the matrices (a K-quant file type mixes types as llama-quantize does). Default: the source's own type (F32, F16 or BF16). */
  dtype?: ConvertDType;
  /** `general.name`; default: the folder's name. */
  name?: string;
  /**
   * The folder's tensors when they are not stored in it: a source that lists and reads them as
   * the folder's safetensors would (config.json and the tokenizer still come from the folder).
   * It is not closed here. A producer such as `cogen moe` converts this way without writing and
   * reading back a temporary safetensors copy.
   */
  weights?: TensorSource;
  progress?: Progress;
}

/** GGUF tensors prepared ahead of the one being written (reads overlap the writes). */
const READ_AHEAD = 2;

/** Hugging Face tensors that carry no weights llama.cpp needs (recomputed buffers). */
const SKIPPED = /\.rotary_emb\.inv_freq$/;

/**
 * Convert a llama-family Hugging Face folder to a GGUF file that llama.cpp runs, as llama.cpp's
 * convert_hf_to_gguf.py does: GGUF tensor names, q/k rows interleaved for llama.cpp's rotary
 * embedding, a Mixtral's per-expert matrices stacked into `ffn_{gate,up,down}_exps` (one layer's
 * part at a time), norms and biases kept in F32, the tokenizer converted to GGUF's vocabulary keys
 * (the original tokenizer.json is stored too, so the way back is lossless). Streams one tensor
 * at a time; the output appears only when complete.
 */
export async function convertHfToGguf(srcDir: string, dstFile: string, options: HfToGgufOptions = {}): Promise<GgufWriteSummary> {
  const config = await readLlamaConfig(srcDir);
  if (GGUF_ARCHITECTURE[config.architecture] === "qwen2" && config.headDim * config.numHeads !== config.hiddenSize) {
    // llama.cpp's qwen2 graph has no key/value length of its own: its attention matrices are hidden × hidden.
    throw new InputFileError(path.join(srcDir, "config.json"), `head_dim ${config.headDim} × num_attention_heads ${config.numHeads} must equal hidden_size ${config.hiddenSize} for llama.cpp's qwen2 architecture`);
  }
  const vocab = await readVocab(srcDir);
  if (!vocab) throw new InputFileError(path.join(srcDir, "tokenizer.json"), `${NO_SUCH_FILE} (llama.cpp needs the tokenizer to run a model)`);
  if (vocab.tokens.length > config.vocabSize) {
    throw new InputFileError(path.join(srcDir, "tokenizer.json"), `has ${vocab.tokens.length} tokens but config.json's vocab_size is ${config.vocabSize}`);
  }
  const weights = options.weights ?? (await openHfWeights(srcDir));
  try {
    const all = weights.list().filter((t) => !SKIPPED.test(t.name));
    const sources = all.filter((t) => !hfExpertTensor(t.name));
    const expertGroups = groupExperts(all, config, srcDir);
    const unknown = sources.filter((t) => hfToGgufName(t.name) === undefined).map((t) => t.name);
    if (unknown.length) throw new InputFileError(srcDir, `tensors cogen does not know how to place in GGUF: ${unknown.slice(0, 10).join(", ")}`);
    const tied = !sources.some((t) => t.name === "lm_head.weight");
    const effective = { ...config, tieWordEmbeddings: tied || config.tieWordEmbeddings };
    const targetType = chooseFileType(options.dtype, sources);
    const arch = GGUF_ARCHITECTURE[config.architecture];
    const permute = arch === "llama";

    const plan: (GgufTensorPlan & { source: TensorInfo; experts?: TensorInfo[]; bytes?: Uint8Array })[] = sources.map((source) => ({
      name: hfToGgufName(source.name)!,
      shape: source.shape,
      dtype: tensorType(source, targetType),
      source,
    }));
    for (const group of expertGroups) {
      const source = group.experts[0];
      plan.push({ name: group.name, shape: [group.experts.length, ...source.shape], dtype: tensorType(source, targetType), source, experts: group.experts });
    }
    if (targetType in QUANT_FILE_TYPES) {
      const types = quantRecipe(plan, targetType as QuantFileType, config.moe?.experts ?? 0);
      plan.forEach((entry, i) => (entry.dtype = types[i]));
    }
    // Llama 3.1's rope scaling: llama.cpp divides each pair's frequency by these factors (always F32).
    const ropeFactors = llama3RopeFactors(config);
    if (ropeFactors) {
      const bytes = new Uint8Array(ropeFactors.buffer);
      const source: TensorInfo = { name: ROPE_FREQS, dtype: "F32", shape: [ropeFactors.length], byteLength: bytes.length };
      plan.push({ name: ROPE_FREQS, shape: source.shape, dtype: "F32", source, bytes });
    }
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
    // Same type on both sides: stored bytes are moved, never decoded, into buffers reused from
    // tensor to tensor; a type change goes row-slice by row-slice, so no whole tensor is ever
    // held as float32.
    const pool = new BufferPool();
    const tensorBytes = async (entry: (typeof plan)[number]): Promise<PooledBytes> => {
      if (entry.bytes) return { bytes: entry.bytes, pooled: false };
      if (entry.experts) return stackExperts(entry.experts, entry.dtype, weights, pool);
      const heads = permute ? rotaryHeads(entry.name, config.numHeads, config.numKvHeads) : undefined;
      if (entry.dtype === entry.source.dtype) {
        const raw = await readPooled(weights, entry.source, pool);
        if (heads === undefined) return raw;
        const permuted = permuteRowBytes(raw.bytes, heads, raw.bytes.length / entry.shape[0], true, pool.take(raw.bytes.length));
        if (raw.pooled) pool.give(raw.bytes);
        return { bytes: permuted, pooled: true };
      }
      let raw = await weights.readRaw(entry.source.name);
      if (heads !== undefined) raw = permuteRowBytes(raw, heads, raw.length / entry.shape[0], true);
      const from = entry.source.dtype as SafetensorsDType;
      return { bytes: transcodeRows(raw, entry.shape, entry.dtype, (bytes) => decodeToF32(from, bytes)), pooled: false };
    };
    const next = prefetchInOrder(plan.length, READ_AHEAD, (i) => tensorBytes(plan[i]));
    let written: Uint8Array | undefined;
    const summary = await writeGguf(dstFile, {
      metadata,
      plan,
      progress,
      produce: async (tensor) => {
        // The writer asks for a tensor only after writing the one before: its buffer is free again.
        if (written) pool.give(written);
        written = undefined;
        const result = await next(tensor.index);
        if (result.pooled) written = result.bytes;
        return result.bytes;
      },
    });
    await checkWritten(dstFile);
    return summary;
  } finally {
    if (!options.weights) await weights.close();
  }
}

function chooseFileType(dtype: ConvertDType | undefined, sources: TensorInfo[]): keyof typeof FILE_TYPE {
  if (dtype) {
    // llama-quantize spells the types in capitals (Q4_K_M); either spelling is accepted.
    if (!CONVERT_DTYPES.includes(dtype.toLowerCase() as ConvertDType)) {
      throw new ConfigError([`--dtype must be one of ${CONVERT_DTYPES.join(", ")} (got "${dtype}")${didYouMean(dtype.toLowerCase(), CONVERT_DTYPES)}`]);
    }
    return dtype.toUpperCase() as keyof typeof FILE_TYPE;
  }
  const matrix = sources.find((t) => t.shape.length === 2);
  return matrix?.dtype === "F16" ? "F16" : matrix?.dtype === "BF16" ? "BF16" : "F32";
}

/**
 * Mixtral's per-expert matrices grouped into GGUF's stacked tensors (one per layer and part),
 * each group's experts in order 0…E-1 with one shape; anything else is reported with the folder.
 */
function groupExperts(tensors: TensorInfo[], config: LlamaConfig, srcDir: string): { name: string; experts: TensorInfo[] }[] {
  const groups = new Map<string, TensorInfo[]>();
  for (const t of tensors) {
    const e = hfExpertTensor(t.name);
    if (!e) continue;
    const name = ggufExpertsName(e.layer, e.part);
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name)![e.expert] = t;
  }
  const problems: string[] = [];
  const expected = config.moe?.experts;
  if (groups.size > 0 && expected === undefined) problems.push("has expert tensors (block_sparse_moe.experts) but config.json is not a MixtralForCausalLM config");
  const out: { name: string; experts: TensorInfo[] }[] = [];
  for (const [name, experts] of groups) {
    const count = experts.length;
    if ([...experts].some((t) => t === undefined) || (expected !== undefined && count !== expected)) {
      problems.push(`${name}: experts ${[...experts.keys()].filter((i) => experts[i]).join(", ")} present, config.json's num_local_experts is ${expected}`);
    } else if (new Set(experts.map((t) => `${t.dtype}:${t.shape.join("x")}`)).size > 1) {
      problems.push(`${name}: the experts' matrices differ in shape or type`);
    } else out.push({ name, experts });
  }
  if (problems.length) throw new InputFileError(srcDir, problems.join("; "));
  return out;
}

/** Bytes for the writer; `pooled` when they are a pool buffer, given back once written. */
interface PooledBytes {
  bytes: Uint8Array;
  pooled: boolean;
}

/** A tensor's stored bytes, read into a pool buffer (a source may return its own array instead). */
async function readPooled(weights: TensorSource, info: TensorInfo, pool: BufferPool): Promise<PooledBytes> {
  const into = pool.take(info.byteLength);
  const bytes = await weights.readRaw(info.name, into);
  if (bytes.buffer === into.buffer) return { bytes, pooled: true };
  pool.give(into);
  return { bytes, pooled: false };
}

/**
 * The experts of one layer and part as one GGUF tensor, expert outermost (one output tensor
 * held). Experts stored in the target type are read straight into their slice of it.
 */
async function stackExperts(experts: TensorInfo[], dtype: DType, weights: TensorSource, pool: BufferPool): Promise<PooledBytes> {
  if (experts.every((info) => info.dtype === dtype)) {
    const size = experts[0].byteLength;
    const out = pool.take(size * experts.length);
    for (const [i, info] of experts.entries()) {
      const slice = out.subarray(i * size, (i + 1) * size);
      const bytes = await weights.readRaw(info.name, slice);
      if (bytes.buffer !== out.buffer || bytes.byteOffset !== slice.byteOffset) slice.set(bytes);
    }
    return { bytes: out, pooled: true };
  }
  let out: Uint8Array | undefined;
  for (const [i, info] of experts.entries()) {
    const raw = await weights.readRaw(info.name);
    const bytes = info.dtype === dtype ? raw : transcodeRows(raw, info.shape, dtype, (b) => decodeToF32(info.dtype as SafetensorsDType, b));
    out ??= new Uint8Array(bytes.length * experts.length);
    out.set(bytes, i * bytes.length);
  }
  return { bytes: out!, pooled: false };
}

/**
 * Norms, biases and a mixture's router stay F32 (llama.cpp's converter keeps the router exact);
 * matrices take the target type, or F32 where it is a quantized file type (quantRecipe decides).
 */
function tensorType(source: TensorInfo, target: keyof typeof FILE_TYPE): DType {
  if (source.shape.length < 2 || source.name.endsWith(".block_sparse_moe.gate.weight")) return "F32";
  return target in QUANT_FILE_TYPES ? "F32" : (target as DType);
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
