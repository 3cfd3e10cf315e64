/**
 * Tensor names of the llama family in Hugging Face and in GGUF, and the rotary permutation that
 * separates them. Hugging Face rotates the two halves of each head ("rotate_half"); llama.cpp's
 * `llama` architecture rotates adjacent pairs, so the rows of q and k are interleaved on the way
 * to GGUF (llama.cpp's converter does the same) and de-interleaved on the way back. Qwen2 uses
 * the half-split rotation in llama.cpp too (NEOX mode), so it is not permuted.
 */

const LAYER_PARTS: [hf: string, gguf: string][] = [
  ["input_layernorm.weight", "attn_norm.weight"],
  ["self_attn.q_proj.weight", "attn_q.weight"],
  ["self_attn.q_proj.bias", "attn_q.bias"],
  ["self_attn.k_proj.weight", "attn_k.weight"],
  ["self_attn.k_proj.bias", "attn_k.bias"],
  ["self_attn.v_proj.weight", "attn_v.weight"],
  ["self_attn.v_proj.bias", "attn_v.bias"],
  ["self_attn.o_proj.weight", "attn_output.weight"],
  ["post_attention_layernorm.weight", "ffn_norm.weight"],
  ["mlp.gate_proj.weight", "ffn_gate.weight"],
  ["mlp.up_proj.weight", "ffn_up.weight"],
  ["mlp.down_proj.weight", "ffn_down.weight"],
  ["block_sparse_moe.gate.weight", "ffn_gate_inp.weight"],
];

const GLOBAL_PARTS: [hf: string, gguf: string][] = [
  ["model.embed_tokens.weight", "token_embd.weight"],
  ["model.norm.weight", "output_norm.weight"],
  ["lm_head.weight", "output.weight"],
];

/**
 * Mixtral's experts: Hugging Face stores one matrix per expert (w1 = gate, w2 = down, w3 = up);
 * GGUF stacks the experts of a layer into one 3-D tensor per part, expert outermost.
 */
export type ExpertPart = "gate" | "up" | "down";
const EXPERT_PARTS: Record<string, ExpertPart> = { w1: "gate", w2: "down", w3: "up" };
const HF_EXPERT = /^model\.layers\.(\d+)\.block_sparse_moe\.experts\.(\d+)\.(w[123])\.weight$/;

export function hfExpertTensor(name: string): { layer: number; expert: number; part: ExpertPart } | undefined {
  const m = HF_EXPERT.exec(name);
  return m ? { layer: Number(m[1]), expert: Number(m[2]), part: EXPERT_PARTS[m[3]] } : undefined;
}

export function hfExpertName(layer: number, expert: number, part: ExpertPart): string {
  const w = { gate: "w1", down: "w2", up: "w3" }[part];
  return `model.layers.${layer}.block_sparse_moe.experts.${expert}.${w}.weight`;
}

export function ggufExpertsName(layer: number, part: ExpertPart): string {
  return `blk.${layer}.ffn_${part}_exps.weight`;
}

export function ggufExpertsTensor(name: string): { layer: number; part: ExpertPart } | undefined {
  const m = /^blk\.(\d+)\.ffn_(gate|up|down)_exps\.weight$/.exec(name);
  return m ? { layer: Number(m[1]), part: m[2] as ExpertPart } : undefined;
}

const HF_LAYER = /^model\.layers\.(\d+)\.(.+)$/;
const GGUF_LAYER = /^blk\.(\d+)\.(.+)$/;

export function hfToGgufName(name: string): string | undefined {
  const global = GLOBAL_PARTS.find(([hf]) => hf === name);
  if (global) return global[1];
  const match = HF_LAYER.exec(name);
  if (!match) return undefined;
  const part = LAYER_PARTS.find(([hf]) => hf === match[2]);
  return part ? `blk.${match[1]}.${part[1]}` : undefined;
}

/** Llama 3.1's rope frequency factors: a GGUF tensor computed from config.json's rope_scaling, with no Hugging Face counterpart. */
export const ROPE_FREQS = "rope_freqs.weight";

export function ggufToHfName(name: string): string | undefined {
  const global = GLOBAL_PARTS.find(([, gguf]) => gguf === name);
  if (global) return global[0];
  const match = GGUF_LAYER.exec(name);
  if (!match) return undefined;
  const part = LAYER_PARTS.find(([, gguf]) => gguf === match[2]);
  return part ? `model.layers.${match[1]}.${part[0]}` : undefined;
}

/** Which rotary permutation (if any) a GGUF tensor needs, and with how many heads. */
export function rotaryHeads(ggufName: string, numHeads: number, numKvHeads: number): number | undefined {
  if (/^blk\.\d+\.attn_q\.(weight|bias)$/.test(ggufName)) return numHeads;
  if (/^blk\.\d+\.attn_k\.(weight|bias)$/.test(ggufName)) return numKvHeads;
  return undefined;
}

/**
 * Interleave the rows of a q or k projection for llama.cpp: within each head, row i·(d/2)+j of
 * the half-split layout moves to row 2j+i. `rowLength` is the number of columns (1 for a bias).
 */
export function interleaveRotaryRows(data: Float32Array, heads: number, rowLength: number): Float32Array {
  return new Float32Array(permuteRowBytes(asBytes(data), heads, rowLength * 4, true).buffer);
}

/** The inverse of `interleaveRotaryRows`. */
export function deinterleaveRotaryRows(data: Float32Array, heads: number, rowLength: number): Float32Array {
  return new Float32Array(permuteRowBytes(asBytes(data), heads, rowLength * 4, false).buffer);
}

/**
 * The same permutation on stored bytes of any element type (`rowBytes` bytes per row), so a
 * tensor whose type does not change is permuted without decoding it. Writes into the start of
 * `into` when given (not overlapping `data`), else a new array.
 */
export function permuteRowBytes(data: Uint8Array, heads: number, rowBytes: number, interleave: boolean, into?: Uint8Array): Uint8Array {
  const rows = data.length / rowBytes;
  const headDim = rows / heads;
  if (!Number.isInteger(rows) || !Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new Error(`cannot permute ${rows} rows into ${heads} heads of even size`);
  }
  const half = headDim / 2;
  const out = into ? into.subarray(0, data.length) : new Uint8Array(data.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < half; j++) {
        const split = h * headDim + i * half + j;
        const paired = h * headDim + 2 * j + i;
        const [from, to] = interleave ? [split, paired] : [paired, split];
        out.set(data.subarray(from * rowBytes, (from + 1) * rowBytes), to * rowBytes);
      }
    }
  }
  return out;
}

function asBytes(data: Float32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
