import { promises as fs } from "node:fs";
import * as path from "node:path";
import { Rng } from "../core/rng.js";
import { f32ToBf16, f32ToF16 } from "../core/half.js";
import { llamaConfigToJson, parseLlamaConfig, type LlamaArchitecture, type LlamaConfig } from "../formats/hf/config.js";
import { writeSafetensorsSharded, type TensorPlanEntry } from "../formats/safetensors/index.js";

/**
 * Generated llama-family models with random weights, written as Hugging Face folders: fixtures
 * for the tests (tiny models that llama.cpp really runs) and inputs for benchmarks (models of
 * any size, streamed to disk one tensor at a time).
 */
export interface RandomLlamaOptions {
  architecture?: LlamaArchitecture;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads?: number;
  vocabSize: number;
  tieWordEmbeddings?: boolean;
  dtype?: "F32" | "F16" | "BF16";
  seed?: number;
  /** Standard deviation of the weights (norm weights are 1 + this much noise). */
  scale?: number;
  maxShardBytes?: number;
  /** tokenizer.json and tokenizer_config.json contents to write alongside. */
  tokenizer?: { tokenizer: Record<string, unknown>; config: Record<string, unknown> };
  bosTokenId?: number;
  eosTokenId?: number;
  /** Per-head dimension when it is not hiddenSize / numHeads (config.json's head_dim). */
  headDim?: number;
  /** More config.json fields (e.g. rope_scaling, sliding_window), parsed as config.json would be. */
  extraConfig?: Record<string, unknown>;
}

export function randomLlamaConfig(options: RandomLlamaOptions): LlamaConfig {
  const numKvHeads = options.numKvHeads ?? options.numHeads;
  const architecture = options.architecture ?? "LlamaForCausalLM";
  const config: LlamaConfig = {
    architecture,
    hiddenSize: options.hiddenSize,
    intermediateSize: options.intermediateSize,
    numLayers: options.numLayers,
    numHeads: options.numHeads,
    numKvHeads,
    headDim: options.headDim ?? options.hiddenSize / options.numHeads,
    vocabSize: options.vocabSize,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    maxPositions: 512,
    tieWordEmbeddings: options.tieWordEmbeddings ?? false,
    attentionBias: architecture === "Qwen2ForCausalLM",
    bosTokenId: options.bosTokenId,
    eosTokenId: options.eosTokenId,
    raw: { torch_dtype: { F32: "float32", F16: "float16", BF16: "bfloat16" }[options.dtype ?? "F32"] },
  };
  if (!options.extraConfig) return config;
  return parseLlamaConfig(llamaConfigToJson({ ...config, raw: { ...config.raw, ...options.extraConfig } }), "config.json");
}

/** The tensors of a llama-family model in Hugging Face naming, with row-major shapes. */
export function llamaTensorShapes(config: LlamaConfig): { name: string; shape: number[] }[] {
  const { hiddenSize: d, intermediateSize: ff, numHeads, numKvHeads, headDim, vocabSize } = config;
  const out: { name: string; shape: number[] }[] = [{ name: "model.embed_tokens.weight", shape: [vocabSize, d] }];
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}.`;
    out.push({ name: p + "input_layernorm.weight", shape: [d] });
    out.push({ name: p + "self_attn.q_proj.weight", shape: [numHeads * headDim, d] });
    if (config.attentionBias) out.push({ name: p + "self_attn.q_proj.bias", shape: [numHeads * headDim] });
    out.push({ name: p + "self_attn.k_proj.weight", shape: [numKvHeads * headDim, d] });
    if (config.attentionBias) out.push({ name: p + "self_attn.k_proj.bias", shape: [numKvHeads * headDim] });
    out.push({ name: p + "self_attn.v_proj.weight", shape: [numKvHeads * headDim, d] });
    if (config.attentionBias) out.push({ name: p + "self_attn.v_proj.bias", shape: [numKvHeads * headDim] });
    out.push({ name: p + "self_attn.o_proj.weight", shape: [d, numHeads * headDim] });
    out.push({ name: p + "post_attention_layernorm.weight", shape: [d] });
    out.push({ name: p + "mlp.gate_proj.weight", shape: [ff, d] });
    out.push({ name: p + "mlp.up_proj.weight", shape: [ff, d] });
    out.push({ name: p + "mlp.down_proj.weight", shape: [d, ff] });
  }
  out.push({ name: "model.norm.weight", shape: [d] });
  if (!config.tieWordEmbeddings) out.push({ name: "lm_head.weight", shape: [vocabSize, d] });
  return out;
}

/** Write a random llama-family model as a Hugging Face folder; returns its config. */
export async function writeRandomLlama(dir: string, options: RandomLlamaOptions): Promise<LlamaConfig> {
  const config = randomLlamaConfig(options);
  const dtype = options.dtype ?? "F32";
  const scale = options.scale ?? 0.02;
  const seed = options.seed ?? 0;
  const shapes = llamaTensorShapes(config);
  const plan: TensorPlanEntry[] = shapes.map(({ name, shape }) => ({ name, dtype, shape }));
  await fs.mkdir(dir, { recursive: true });
  await writeSafetensorsSharded(
    dir,
    plan,
    async (_info, index) => {
      const { name, shape } = shapes[index];
      const rng = new Rng(seed * 1_000_003 + index);
      const n = shape.reduce((a, b) => a * b, 1);
      const values = new Float32Array(n);
      const isNorm = name.endsWith("norm.weight");
      for (let i = 0; i < n; i++) values[i] = isNorm ? 1 + scale * rng.normal() : scale * rng.normal();
      if (dtype === "F16") return f32ToF16(values);
      if (dtype === "BF16") return f32ToBf16(values);
      return values;
    },
    { maxShardBytes: options.maxShardBytes, metadata: { format: "pt" } },
  );
  await fs.writeFile(path.join(dir, "config.json"), JSON.stringify(llamaConfigToJson(config), null, 2) + "\n");
  if (options.tokenizer) {
    await fs.writeFile(path.join(dir, "tokenizer.json"), JSON.stringify(options.tokenizer.tokenizer));
    await fs.writeFile(path.join(dir, "tokenizer_config.json"), JSON.stringify(options.tokenizer.config, null, 2) + "\n");
  }
  return config;
}
