import type { DType } from "../../../src/core/tensor.js";
import { encodeTensor } from "../../../src/formats/gguf/codec.js";
import type { GgufTensorPlan } from "../../../src/formats/gguf/encode-header.js";
import { ggufValue, type GgufValue } from "../../../src/formats/gguf/values.js";
import { writeGguf } from "../../../src/formats/gguf/writer.js";

/** unk, bos, eos, the 256 byte tokens llama.cpp's byte fallback needs, the space marker and three letters. */
export const TINY_TOKENS: string[] = [
  "<unk>", "<s>", "</s>",
  ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`),
  "\u2581", "a", "b", "c",
];

export interface TinyLlama {
  metadata: Map<string, GgufValue>;
  plan: GgufTensorPlan[];
}

/** A minimal, complete llama-architecture description: 2 blocks, n_embd 8, 2 heads (1 kv head), n_ff 16, and the 263 tokens of TINY_TOKENS. */
export function tinyLlama(arch: "llama" | "qwen2" = "llama"): TinyLlama {
  const tokens = TINY_TOKENS;
  const metadata = new Map<string, GgufValue>([
    ["general.architecture", ggufValue.string(arch)],
    ["general.name", ggufValue.string("tiny")],
    [`${arch}.context_length`, ggufValue.u32(64)],
    [`${arch}.embedding_length`, ggufValue.u32(8)],
    [`${arch}.block_count`, ggufValue.u32(2)],
    [`${arch}.feed_forward_length`, ggufValue.u32(16)],
    [`${arch}.attention.head_count`, ggufValue.u32(2)],
    [`${arch}.attention.head_count_kv`, ggufValue.u32(1)],
    [`${arch}.attention.layer_norm_rms_epsilon`, ggufValue.f32(1e-5)],
    ["tokenizer.ggml.model", ggufValue.string("llama")],
    ["tokenizer.ggml.tokens", ggufValue.array("string", tokens)],
    ["tokenizer.ggml.scores", ggufValue.array("f32", tokens.map((_, i) => -i))],
    ["tokenizer.ggml.token_type", ggufValue.array("i32", tokens.map((t, i) => (i === 0 ? 2 : i < 3 ? 3 : t.startsWith("<0x") ? 6 : 1)))],
    ["tokenizer.ggml.bos_token_id", ggufValue.u32(1)],
    ["tokenizer.ggml.eos_token_id", ggufValue.u32(2)],
    ["tokenizer.ggml.unknown_token_id", ggufValue.u32(0)],
  ]);
  const t = (name: string, shape: number[], dtype: DType = "F32"): GgufTensorPlan => ({ name, dtype, shape });
  const plan = [t("token_embd.weight", [tokens.length, 8]), t("output_norm.weight", [8]), t("output.weight", [tokens.length, 8])];
  for (let i = 0; i < 2; i++) {
    const p = `blk.${i}.`;
    plan.push(t(`${p}attn_norm.weight`, [8]), t(`${p}attn_q.weight`, [8, 8]), t(`${p}attn_k.weight`, [4, 8]),
      t(`${p}attn_v.weight`, [4, 8]), t(`${p}attn_output.weight`, [8, 8]));
    if (arch === "qwen2") plan.push(t(`${p}attn_q.bias`, [8]), t(`${p}attn_k.bias`, [4]), t(`${p}attn_v.bias`, [4]));
    plan.push(t(`${p}ffn_norm.weight`, [8]), t(`${p}ffn_gate.weight`, [16, 8]), t(`${p}ffn_up.weight`, [16, 8]),
      t(`${p}ffn_down.weight`, [8, 16]));
  }
  return { metadata, plan };
}

/** Write a tiny model with small deterministic weights (norms are 1). */
export async function writeTinyLlama(file: string, model: TinyLlama): Promise<void> {
  await writeGguf(file, {
    metadata: model.metadata,
    plan: model.plan,
    produce: async (info) => {
      const n = info.shape.reduce((a, b) => a * b, 1);
      const values = new Float32Array(n).map((_, i) => (info.name.includes("norm") ? 1 : Math.sin(i + info.index) * 0.1));
      return encodeTensor(values, info.dtype);
    },
  });
}
