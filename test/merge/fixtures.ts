/** Tiny random llama-style Hugging Face folders for merge tests (config.json, safetensors, tokenizer.json). */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { bf16ToF32, f32ToBf16 } from "../../src/core/half.js";
import { Rng } from "../../src/core/rng.js";
import { writeSafetensorsFile } from "../../src/formats/safetensors/index.js";

export interface FixtureOptions {
  layers?: number;
  hidden?: number;
  inter?: number;
  tokens?: string[];
  seed?: number;
  /** Add base + scale·noise to this model's tensors (a "fine-tune"). */
  from?: Map<string, Float32Array>;
  noise?: number;
  /** Stored dtype (default F32); `tensors` then holds the values as stored. */
  dtype?: "F32" | "BF16";
}

export interface Fixture {
  dir: string;
  tensors: Map<string, Float32Array>;
  shapes: Map<string, number[]>;
}

export async function tmp(prefix = "cogen-merge-"): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export function llamaShapes(layers: number, hidden: number, inter: number, vocab: number): Map<string, number[]> {
  const s = new Map<string, number[]>();
  s.set("model.embed_tokens.weight", [vocab, hidden]);
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    s.set(p + "input_layernorm.weight", [hidden]);
    for (const m of ["q", "k", "v", "o"]) s.set(`${p}self_attn.${m}_proj.weight`, [hidden, hidden]);
    s.set(p + "mlp.gate_proj.weight", [inter, hidden]);
    s.set(p + "mlp.up_proj.weight", [inter, hidden]);
    s.set(p + "mlp.down_proj.weight", [hidden, inter]);
    s.set(p + "post_attention_layernorm.weight", [hidden]);
  }
  s.set("model.norm.weight", [hidden]);
  s.set("lm_head.weight", [vocab, hidden]);
  return s;
}

export async function makeModel(dir: string, o: FixtureOptions = {}): Promise<Fixture> {
  const layers = o.layers ?? 2;
  const hidden = o.hidden ?? 8;
  const inter = o.inter ?? 16;
  const tokens = o.tokens ?? ["a", "b", "c", "d", "e", "f"];
  const rng = new Rng(o.seed ?? 1);
  const shapes = llamaShapes(layers, hidden, inter, tokens.length);
  const tensors = new Map<string, Float32Array>();
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const base = o.from?.get(name);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = (base ? base[i] : 0) + rng.normal() * (base ? o.noise ?? 0.05 : 0.5);
    tensors.set(name, o.dtype === "BF16" ? bf16ToF32(f32ToBf16(data)) : data);
  }
  await fs.mkdir(dir, { recursive: true });
  const stored = (data: Float32Array) => (o.dtype === "BF16" ? f32ToBf16(data) : data);
  await writeSafetensorsFile(path.join(dir, "model.safetensors"), [...tensors].map(([name, data]) => ({ name, dtype: o.dtype ?? "F32", shape: shapes.get(name)!, data: stored(data) })), { format: "pt" });
  const config = {
    architectures: ["LlamaForCausalLM"], model_type: "llama", hidden_size: hidden, intermediate_size: inter,
    num_hidden_layers: layers, num_attention_heads: 2, num_key_value_heads: 2, vocab_size: tokens.length,
    rms_norm_eps: 1e-5, rope_theta: 10000, max_position_embeddings: 64, tie_word_embeddings: false, torch_dtype: "float32",
  };
  await fs.writeFile(path.join(dir, "config.json"), JSON.stringify(config));
  const vocab = Object.fromEntries(tokens.map((t, i) => [t, i]));
  await fs.writeFile(path.join(dir, "tokenizer.json"), JSON.stringify({ version: "1.0", added_tokens: [], model: { type: "BPE", vocab, merges: [] } }));
  await fs.writeFile(path.join(dir, "tokenizer_config.json"), JSON.stringify({ model_max_length: 64 }));
  return { dir, tensors, shapes };
}
