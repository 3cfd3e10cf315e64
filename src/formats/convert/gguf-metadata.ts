import { InputFileError } from "../../core/errors.js";
import { GGUF_ARCHITECTURE, parseLlamaConfig, llamaConfigToJson, type LlamaConfig } from "../hf/config.js";
import type { GgufVocab } from "../hf/tokenizer.js";
import { ggufValue, type GgufMetadata, type GgufValue } from "../gguf/values.js";

/**
 * The GGUF metadata keys llama.cpp reads for the llama family, written from and read back into
 * cogen's LlamaConfig and GgufVocab. Keys and types follow llama.cpp's converter.
 */

/** The original config.json, kept so a GGUF → HF round trip restores fields GGUF has no key for. */
export const HF_CONFIG_KEY = "cogen.hf.config_json";
/** The original tokenizer.json (a key the GGUF specification defines). */
export const HF_TOKENIZER_KEY = "tokenizer.huggingface.json";

/** llama.cpp's `general.file_type` codes for the types cogen writes. */
export const FILE_TYPE = {
  F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 7, Q5_0: 8, Q5_1: 9,
  Q4_K_S: 14, Q4_K_M: 15, Q5_K_S: 16, Q5_K_M: 17, Q6_K: 18, BF16: 32,
} as const;

export function modelMetadata(config: LlamaConfig, name: string, fileType: keyof typeof FILE_TYPE): [string, GgufValue][] {
  const arch = GGUF_ARCHITECTURE[config.architecture];
  const entries: [string, GgufValue][] = [
    ["general.architecture", ggufValue.string(arch)],
    ["general.name", ggufValue.string(name)],
    ["general.file_type", ggufValue.u32(FILE_TYPE[fileType])],
    [`${arch}.context_length`, ggufValue.u32(config.maxPositions)],
    [`${arch}.embedding_length`, ggufValue.u32(config.hiddenSize)],
    [`${arch}.block_count`, ggufValue.u32(config.numLayers)],
    [`${arch}.feed_forward_length`, ggufValue.u32(config.intermediateSize)],
    [`${arch}.rope.dimension_count`, ggufValue.u32(config.headDim)],
    [`${arch}.rope.freq_base`, ggufValue.f32(config.ropeTheta)],
    [`${arch}.attention.head_count`, ggufValue.u32(config.numHeads)],
    [`${arch}.attention.head_count_kv`, ggufValue.u32(config.numKvHeads)],
    [`${arch}.attention.layer_norm_rms_epsilon`, ggufValue.f32(config.rmsNormEps)],
    [`${arch}.vocab_size`, ggufValue.u32(config.vocabSize)],
  ];
  if (config.headDim * config.numHeads !== config.hiddenSize) {
    entries.push([`${arch}.attention.key_length`, ggufValue.u32(config.headDim)]);
    entries.push([`${arch}.attention.value_length`, ggufValue.u32(config.headDim)]);
  }
  entries.push(...ropeScalingMetadata(config, arch));
  if (config.slidingWindow !== undefined) entries.push([`${arch}.attention.sliding_window`, ggufValue.u32(config.slidingWindow)]);
  if (config.moe) {
    entries.push([`${arch}.expert_count`, ggufValue.u32(config.moe.experts)]);
    entries.push([`${arch}.expert_used_count`, ggufValue.u32(config.moe.expertsPerToken)]);
  }
  if (!["F32", "F16", "BF16"].includes(fileType)) entries.push(["general.quantization_version", ggufValue.u32(2)]);
  entries.push([HF_CONFIG_KEY, ggufValue.string(JSON.stringify(config.raw))]);
  return entries;
}

/** Rope scaling as convert_hf_to_gguf.py writes it (Llama 3's goes in the rope_freqs.weight tensor instead). */
function ropeScalingMetadata(config: LlamaConfig, arch: string): [string, GgufValue][] {
  const scaling = config.ropeScaling;
  if (scaling?.type === "linear") {
    return [[`${arch}.rope.scaling.type`, ggufValue.string("linear")], [`${arch}.rope.scaling.factor`, ggufValue.f32(scaling.factor)]];
  }
  if (scaling?.type === "yarn") {
    return [
      [`${arch}.rope.scaling.type`, ggufValue.string("yarn")],
      [`${arch}.rope.scaling.factor`, ggufValue.f32(scaling.factor)],
      [`${arch}.rope.scaling.original_context_length`, ggufValue.u32(scaling.originalMaxPositions)],
      [`${arch}.rope.scaling.yarn_beta_fast`, ggufValue.f32(scaling.betaFast)],
      [`${arch}.rope.scaling.yarn_beta_slow`, ggufValue.f32(scaling.betaSlow)],
    ];
  }
  return [];
}

/** config.json's rope_scaling from a GGUF's keys (a GGUF written elsewhere, without the stored config.json). */
function ropeScalingFromMetadata(metadata: GgufMetadata, arch: string): Record<string, unknown> | undefined {
  const type = metadata.get(`${arch}.rope.scaling.type`);
  const factor = getNumber(metadata, `${arch}.rope.scaling.factor`);
  if (type?.type !== "string" || factor === undefined) return undefined;
  if (type.value === "linear") return { rope_type: "linear", factor };
  if (type.value !== "yarn") return undefined;
  return {
    rope_type: "yarn",
    factor,
    original_max_position_embeddings: getNumber(metadata, `${arch}.rope.scaling.original_context_length`),
    beta_fast: getNumber(metadata, `${arch}.rope.scaling.yarn_beta_fast`),
    beta_slow: getNumber(metadata, `${arch}.rope.scaling.yarn_beta_slow`),
  };
}

export function vocabMetadata(vocab: GgufVocab, originalTokenizerJson?: string): [string, GgufValue][] {
  const entries: [string, GgufValue][] = [["tokenizer.ggml.model", ggufValue.string(vocab.model)]];
  if (vocab.pre) entries.push(["tokenizer.ggml.pre", ggufValue.string(vocab.pre)]);
  entries.push(["tokenizer.ggml.tokens", ggufValue.array("string", vocab.tokens)]);
  if (vocab.scores) entries.push(["tokenizer.ggml.scores", ggufValue.array("f32", vocab.scores)]);
  entries.push(["tokenizer.ggml.token_type", ggufValue.array("i32", vocab.tokenTypes)]);
  if (vocab.merges) entries.push(["tokenizer.ggml.merges", ggufValue.array("string", vocab.merges)]);
  const ids: [string, number | undefined][] = [
    ["tokenizer.ggml.bos_token_id", vocab.bosId],
    ["tokenizer.ggml.eos_token_id", vocab.eosId],
    ["tokenizer.ggml.unknown_token_id", vocab.unkId],
    ["tokenizer.ggml.padding_token_id", vocab.padId],
  ];
  for (const [key, id] of ids) if (id !== undefined) entries.push([key, ggufValue.u32(id)]);
  if (vocab.addBos !== undefined) entries.push(["tokenizer.ggml.add_bos_token", ggufValue.bool(vocab.addBos)]);
  if (vocab.addEos !== undefined) entries.push(["tokenizer.ggml.add_eos_token", ggufValue.bool(vocab.addEos)]);
  if (vocab.addSpacePrefix !== undefined) entries.push(["tokenizer.ggml.add_space_prefix", ggufValue.bool(vocab.addSpacePrefix)]);
  if (vocab.chatTemplate) entries.push(["tokenizer.chat_template", ggufValue.string(vocab.chatTemplate)]);
  if (originalTokenizerJson) entries.push([HF_TOKENIZER_KEY, ggufValue.string(originalTokenizerJson)]);
  return entries;
}

function getNumber(metadata: GgufMetadata, key: string): number | undefined {
  const v = metadata.get(key);
  if (!v || v.type === "array" || v.type === "string" || v.type === "bool") return undefined;
  return Number(v.value);
}

/** Rebuild a LlamaConfig from GGUF metadata (and the stored config.json when present). */
export function configFromMetadata(metadata: GgufMetadata, file: string, tied: boolean): LlamaConfig {
  const archValue = metadata.get("general.architecture");
  const arch = archValue?.type === "string" ? archValue.value : undefined;
  if (arch !== "llama" && arch !== "qwen2") {
    throw new InputFileError(file, `general.architecture is ${JSON.stringify(arch)}; cogen converts llama and qwen2 models`);
  }
  const stored = metadata.get(HF_CONFIG_KEY);
  let raw: Record<string, unknown> = {};
  if (stored?.type === "string") {
    try {
      raw = JSON.parse(stored.value) as Record<string, unknown>;
    } catch {
      throw new InputFileError(file, `${HF_CONFIG_KEY} is not valid JSON`);
    }
  }
  const need = (key: string): number => {
    const value = getNumber(metadata, `${arch}.${key}`);
    if (value === undefined) throw new InputFileError(file, `missing ${arch}.${key}`);
    return value;
  };
  const heads = need("attention.head_count");
  const tokens = metadata.get("tokenizer.ggml.tokens");
  const json: Record<string, unknown> = {
    ...raw,
    architectures: [raw.architectures && Array.isArray(raw.architectures) ? raw.architectures[0] : arch === "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"],
    hidden_size: need("embedding_length"),
    intermediate_size: need("feed_forward_length"),
    num_hidden_layers: need("block_count"),
    num_attention_heads: heads,
    num_key_value_heads: getNumber(metadata, `${arch}.attention.head_count_kv`) ?? heads,
    head_dim: getNumber(metadata, `${arch}.attention.key_length`) ?? need("embedding_length") / heads,
    vocab_size: getNumber(metadata, `${arch}.vocab_size`) ?? (tokens?.type === "array" ? tokens.value.length : undefined),
    rms_norm_eps: Math.fround(need("attention.layer_norm_rms_epsilon")),
    rope_theta: getNumber(metadata, `${arch}.rope.freq_base`) ?? 10000,
    max_position_embeddings: need("context_length"),
    tie_word_embeddings: tied,
  };
  // A mixture of experts (llama.cpp's `llama` with expert_count) is a Mixtral.
  const experts = getNumber(metadata, `${arch}.expert_count`) ?? 0;
  if (experts > 0) {
    Object.assign(json, {
      architectures: ["MixtralForCausalLM"],
      num_local_experts: experts,
      num_experts_per_tok: getNumber(metadata, `${arch}.expert_used_count`) ?? 2,
    });
  }
  // Special tokens: the stored config.json's own say when there is one (the tokenizer's may differ).
  if (!stored) {
    Object.assign(json, {
      bos_token_id: getNumber(metadata, "tokenizer.ggml.bos_token_id"),
      eos_token_id: getNumber(metadata, "tokenizer.ggml.eos_token_id"),
      rope_scaling: ropeScalingFromMetadata(metadata, arch),
      sliding_window: getNumber(metadata, `${arch}.attention.sliding_window`),
    });
  }
  // f32 metadata cannot hold every float64 exactly: prefer the stored config's exact values.
  if (typeof raw.rms_norm_eps === "number" && Math.fround(raw.rms_norm_eps) === json.rms_norm_eps) json.rms_norm_eps = raw.rms_norm_eps;
  if (typeof raw.rope_theta === "number" && Math.fround(raw.rope_theta) === Math.fround(json.rope_theta as number)) json.rope_theta = raw.rope_theta;
  const config = parseLlamaConfig(json, file);
  return { ...config, raw: llamaConfigToJson(config) };
}

/** Read the tokenizer vocabulary stored in GGUF metadata. */
export function vocabFromMetadata(metadata: GgufMetadata, file: string): GgufVocab {
  const model = metadata.get("tokenizer.ggml.model");
  if (model?.type !== "string" || (model.value !== "gpt2" && model.value !== "llama")) {
    throw new InputFileError(file, `tokenizer.ggml.model must be "gpt2" or "llama" to rebuild a Hugging Face tokenizer`);
  }
  const strings = (key: string): string[] | undefined => {
    const v = metadata.get(key);
    return v?.type === "array" && v.itemType === "string" ? v.value : undefined;
  };
  const numbers = (key: string): number[] | undefined => {
    const v = metadata.get(key);
    if (v?.type !== "array") return undefined;
    return v.itemType === "array" || v.itemType === "string" || v.itemType === "bool" ? undefined : v.value.map(Number);
  };
  const bool = (key: string): boolean | undefined => {
    const v = metadata.get(key);
    return v?.type === "bool" ? v.value : undefined;
  };
  const tokens = strings("tokenizer.ggml.tokens");
  if (!tokens) throw new InputFileError(file, "tokenizer.ggml.tokens is missing or not a string array");
  const pre = metadata.get("tokenizer.ggml.pre");
  const template = metadata.get("tokenizer.chat_template");
  return {
    model: model.value,
    pre: pre?.type === "string" ? pre.value : undefined,
    tokens,
    tokenTypes: numbers("tokenizer.ggml.token_type") ?? tokens.map(() => 1),
    scores: numbers("tokenizer.ggml.scores"),
    merges: strings("tokenizer.ggml.merges"),
    bosId: getNumber(metadata, "tokenizer.ggml.bos_token_id"),
    eosId: getNumber(metadata, "tokenizer.ggml.eos_token_id"),
    unkId: getNumber(metadata, "tokenizer.ggml.unknown_token_id"),
    padId: getNumber(metadata, "tokenizer.ggml.padding_token_id"),
    addBos: bool("tokenizer.ggml.add_bos_token"),
    addEos: bool("tokenizer.ggml.add_eos_token"),
    addSpacePrefix: bool("tokenizer.ggml.add_space_prefix"),
    chatTemplate: template?.type === "string" ? template.value : undefined,
  };
}
