import * as path from "node:path";
import { InputFileError } from "../../core/errors.js";
import { readJsonFile } from "../../core/json-file.js";

/**
 * The llama family as cogen understands it: Llama, Mistral and Qwen2 share one decoder (RMSNorm,
 * rotary embeddings, SwiGLU, grouped-query attention); Qwen2 adds biases on q/k/v; Mixtral replaces
 * each feed-forward network by `num_local_experts` of them and a router (src/fuse/moe).
 */
export type LlamaArchitecture = "LlamaForCausalLM" | "MistralForCausalLM" | "Qwen2ForCausalLM" | "MixtralForCausalLM";

/** The GGUF architecture names llama.cpp uses for each family member. */
export const GGUF_ARCHITECTURE: Record<LlamaArchitecture, "llama" | "qwen2"> = {
  LlamaForCausalLM: "llama",
  MistralForCausalLM: "llama",
  Qwen2ForCausalLM: "qwen2",
  MixtralForCausalLM: "llama",
};

export interface LlamaConfig {
  architecture: LlamaArchitecture;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  maxPositions: number;
  tieWordEmbeddings: boolean;
  /** Qwen2 has biases on the q, k and v projections. */
  attentionBias: boolean;
  bosTokenId?: number;
  eosTokenId?: number;
  /** Rotary scaling (config.json's `rope_scaling`): Llama 3.1's llama3, linear (position interpolation), YaRN. */
  ropeScaling?: RopeScaling;
  /** Mistral's sliding attention window (recorded; llama.cpp's llama architecture attends to the whole context). */
  slidingWindow?: number;
  /** Mixtral: feed-forward experts per layer (`num_local_experts`) and experts used per token. */
  moe?: { experts: number; expertsPerToken: number };
  /** The whole config.json, so fields cogen does not model are carried along untouched. */
  raw: Record<string, unknown>;
}

export type RopeScaling =
  | { type: "linear"; factor: number }
  | { type: "llama3"; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }
  | { type: "yarn"; factor: number; originalMaxPositions: number; betaFast: number; betaSlow: number };

/**
 * config.json's `rope_scaling` (keys `rope_type` or the older `type`), checked. The types llama.cpp
 * runs under `llama`/`qwen2` are accepted; any other, and YaRN settings llama.cpp would not honour,
 * are problems naming the field.
 */
function parseRopeScaling(raw: unknown, maxPositions: number, problems: string[]): RopeScaling | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== "object" || Array.isArray(raw)) {
    problems.push(`"rope_scaling" must be an object (got ${JSON.stringify(raw)})`);
    return undefined;
  }
  const r = raw as Record<string, unknown>;
  const type = r.rope_type ?? r.type;
  const num = (key: string, fallback?: number): number => {
    const value = r[key] ?? fallback;
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
      problems.push(`"rope_scaling.${key}" must be a positive number (got ${JSON.stringify(value)})`);
      return 1;
    }
    return value;
  };
  switch (type) {
    case "default":
      return undefined;
    case "linear":
      return { type, factor: num("factor") };
    case "llama3":
      return {
        type,
        factor: num("factor", 8),
        lowFreqFactor: num("low_freq_factor", 1),
        highFreqFactor: num("high_freq_factor", 4),
        originalMaxPositions: num("original_max_position_embeddings", 8192),
      };
    case "yarn": {
      // llama.cpp derives the attention scale from the factor and drops these; accepting them would mispredict.
      for (const key of ["attention_factor", "attn_factor", "mscale", "mscale_all_dim", "extrapolation_factor"]) {
        if (r[key] !== undefined && r[key] !== null) problems.push(`"rope_scaling.${key}" is not supported for YaRN (llama.cpp derives the attention scale from the factor)`);
      }
      return { type, factor: num("factor"), originalMaxPositions: num("original_max_position_embeddings", maxPositions), betaFast: num("beta_fast", 32), betaSlow: num("beta_slow", 1) };
    }
    default:
      problems.push(`"rope_scaling" type ${JSON.stringify(type)} is not supported (supported: linear, llama3, yarn)`);
      return undefined;
  }
}

const SUPPORTED = Object.keys(GGUF_ARCHITECTURE) as LlamaArchitecture[];

/** Parse and validate a config.json object. `file` names it in errors. */
export function parseLlamaConfig(raw: unknown, file: string): LlamaConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new InputFileError(file, "config.json must be a JSON object");
  }
  const obj = raw as Record<string, unknown>;
  const problems: string[] = [];
  const archs = obj.architectures;
  let architecture: LlamaArchitecture = "LlamaForCausalLM";
  if (!Array.isArray(archs) || archs.length === 0 || typeof archs[0] !== "string") {
    problems.push(`"architectures" must be a non-empty list (one of ${SUPPORTED.join(", ")})`);
  } else if (!SUPPORTED.includes(archs[0] as LlamaArchitecture)) {
    problems.push(`architecture "${archs[0]}" is not supported (supported: ${SUPPORTED.join(", ")})`);
  } else {
    architecture = archs[0] as LlamaArchitecture;
  }

  const int = (key: string, fallback?: number): number => {
    const value = obj[key] ?? fallback;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
      problems.push(`"${key}" must be a positive integer (got ${JSON.stringify(value)})`);
      return 1;
    }
    return value;
  };
  const num = (key: string, fallback: number): number => {
    const value = obj[key] ?? fallback;
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
      problems.push(`"${key}" must be a positive number (got ${JSON.stringify(value)})`);
      return fallback;
    }
    return value;
  };
  const optionalId = (key: string): number | undefined => {
    const value = obj[key];
    if (value === undefined || value === null) return undefined;
    if (Array.isArray(value)) return typeof value[0] === "number" ? value[0] : undefined;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      problems.push(`"${key}" must be a token id (got ${JSON.stringify(value)})`);
      return undefined;
    }
    return value;
  };

  const hiddenSize = int("hidden_size");
  const numHeads = int("num_attention_heads");
  const numKvHeads = int("num_key_value_heads", typeof obj.num_attention_heads === "number" ? obj.num_attention_heads : undefined);
  const headDim = int("head_dim", Math.floor(hiddenSize / numHeads));
  const config: LlamaConfig = {
    architecture,
    hiddenSize,
    intermediateSize: int("intermediate_size"),
    numLayers: int("num_hidden_layers"),
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: int("vocab_size"),
    rmsNormEps: num("rms_norm_eps", 1e-6),
    ropeTheta: num("rope_theta", 10000),
    maxPositions: int("max_position_embeddings", 2048),
    tieWordEmbeddings: obj.tie_word_embeddings === true,
    attentionBias: architecture === "Qwen2ForCausalLM" || obj.attention_bias === true,
    bosTokenId: optionalId("bos_token_id"),
    eosTokenId: optionalId("eos_token_id"),
    raw: obj,
  };
  if (architecture === "MixtralForCausalLM") {
    const experts = int("num_local_experts");
    const expertsPerToken = int("num_experts_per_tok", 2);
    if (expertsPerToken > experts) problems.push(`"num_experts_per_tok" (${expertsPerToken}) is larger than "num_local_experts" (${experts})`);
    config.moe = { experts, expertsPerToken };
  }
  if (numHeads % numKvHeads !== 0) problems.push(`num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  if (headDim % 2 !== 0) problems.push(`head dimension (${headDim}) must be even for rotary embeddings`);
  config.ropeScaling = parseRopeScaling(obj.rope_scaling, config.maxPositions, problems);
  if (obj.sliding_window !== undefined && obj.sliding_window !== null) config.slidingWindow = int("sliding_window");
  if (problems.length) throw new InputFileError(file, problems.join("; "));
  return config;
}

/** Read `config.json` from a Hugging Face model folder. */
export async function readLlamaConfig(dir: string): Promise<LlamaConfig> {
  const file = path.join(dir, "config.json");
  return parseLlamaConfig(await readJsonFile(file, "a Hugging Face model folder needs config.json"), file);
}

/** The config.json object for a config, keeping any fields of the original it came from. */
export function llamaConfigToJson(config: LlamaConfig): Record<string, unknown> {
  const modelType = { LlamaForCausalLM: "llama", MistralForCausalLM: "mistral", Qwen2ForCausalLM: "qwen2", MixtralForCausalLM: "mixtral" }[config.architecture];
  return {
    ...config.raw,
    architectures: [config.architecture],
    model_type: modelType,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    head_dim: config.headDim,
    vocab_size: config.vocabSize,
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    max_position_embeddings: config.maxPositions,
    tie_word_embeddings: config.tieWordEmbeddings,
    hidden_act: "silu",
    ...(config.bosTokenId !== undefined ? { bos_token_id: config.bosTokenId } : {}),
    ...(config.eosTokenId !== undefined ? { eos_token_id: config.eosTokenId } : {}),
    ...(config.moe ? { num_local_experts: config.moe.experts, num_experts_per_tok: config.moe.expertsPerToken } : {}),
  };
}

/** Tokenizer and generation files a model folder carries along untouched. */
export const TOKENIZER_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "tokenizer.model",
  "special_tokens_map.json",
  "added_tokens.json",
  "vocab.json",
  "merges.txt",
  "generation_config.json",
  "chat_template.jinja",
];
