/**
 * Which ggml type each tensor of a llama-family GGUF gets for a llama.cpp file type ("Q4_K_M"
 * and friends), following llama-quantize's rules (llama-quant.cpp, no importance matrix, no
 * per-tensor overrides). The subset implemented, for the llama/qwen2 architectures cogen writes:
 *
 * - Only matrices named `*weight` are quantized, never norms or a mixture's router
 *   (`ffn_gate_inp`); everything else keeps its type.
 * - `output.weight` (or `token_embd.weight` when the embeddings are tied): Q6_K, or Q8_0 where
 *   its rows are not whole blocks of the base type (or the base type is Q8_0).
 * - `attn_v` (block i of n; llama.cpp visits blocks in order): Q6_K for Q4_K_M/Q5_K_M when `moreBits(i, n)`;
 *   Q5_K for Q4_K_S in the first 4; Q8_0 for any type when the model has 8 experts.
 * - `attn_k`: Q8_0 with 8 experts. `attn_output`: Q5_K with 8 experts for Q4_K_S/Q4_K_M.
 * - `ffn_down` (by layer): Q6_K for Q4_K_M/Q5_K_M when `moreBits`; Q5_K for Q4_K_S in the first
 *   eighth of the layers.
 * - Rows that are not whole blocks fall back as llama.cpp does (Q4_K→Q5_0, Q5_K→Q5_1,
 *   Q6_K→Q8_0), then to F16.
 *
 * Not implemented: the rules for Q2_K/Q3_K/IQ file types, Falcon, and the 70B attn_v bump
 * (llama.cpp keys that on its own model-size detection).
 */
import type { DType } from "../../core/tensor.js";
import { GGML_TYPES } from "./constants.js";

/** The quantized llama.cpp file types cogen writes, with each one's base tensor type. */
export const QUANT_FILE_TYPES = {
  Q4_0: "Q4_0", Q4_1: "Q4_1", Q5_0: "Q5_0", Q5_1: "Q5_1", Q8_0: "Q8_0",
  Q4_K_S: "Q4_K", Q4_K_M: "Q4_K", Q5_K_S: "Q5_K", Q5_K_M: "Q5_K", Q6_K: "Q6_K",
} as const satisfies Record<string, DType>;

export type QuantFileType = keyof typeof QUANT_FILE_TYPES;

export interface RecipeTensor {
  /** GGUF tensor name, e.g. `blk.3.attn_v.weight`. */
  name: string;
  /** Row-major shape, outermost first (the innermost dimension is the row). */
  shape: readonly number[];
  /** Its type when not quantized. */
  dtype: DType;
}

/** llama.cpp's use_more_bits: the first and last eighth of layers and every third one between. */
function moreBits(i: number, n: number): boolean {
  const eighth = Math.trunc(n / 8);
  return i < eighth || i >= Math.trunc((7 * n) / 8) || (i - eighth) % 3 === 2;
}

function quantizable(t: RecipeTensor): boolean {
  return t.shape.length >= 2 && t.name.endsWith("weight") && !t.name.includes("_norm.weight") && !t.name.includes("ffn_gate_inp.weight");
}

const FALLBACK: Partial<Record<DType, DType>> = { Q4_K: "Q5_0", Q5_K: "Q5_1", Q6_K: "Q8_0" };

function fitRows(type: DType, rowLength: number): DType {
  const fits = (t: DType): boolean => rowLength % GGML_TYPES[t]!.blockSize === 0;
  if (fits(type)) return type;
  const fallback = FALLBACK[type];
  return fallback && fits(fallback) ? fallback : "F16";
}

/** The type of every tensor, in order, for `fileType` (`experts` is the model's expert count, 0 without). */
export function quantRecipe(tensors: readonly RecipeTensor[], fileType: QuantFileType, experts = 0): DType[] {
  const base: DType = QUANT_FILE_TYPES[fileType];
  const tied = !tensors.some((t) => t.name === "output.weight");
  const nV = tensors.filter((t) => t.name.includes("attn_v.weight")).length;
  const nDown = tensors.filter((t) => t.name.includes("ffn_down")).length;
  return tensors.map((t) => {
    const layer = Number(/^blk\.(\d+)\./.exec(t.name)?.[1] ?? -1);
    if (!quantizable(t)) return t.dtype;
    const rowLength = t.shape[t.shape.length - 1];
    let type: DType = base;
    if (t.name === "output.weight" || (tied && t.name === "token_embd.weight")) {
      type = rowLength % GGML_TYPES[base]!.blockSize !== 0 || base === "Q8_0" ? "Q8_0" : "Q6_K";
    } else if (t.name.includes("attn_v.weight")) {
      if ((fileType === "Q4_K_M" || fileType === "Q5_K_M") && moreBits(layer, nV)) type = "Q6_K";
      else if (fileType === "Q4_K_S" && layer < 4) type = "Q5_K";
      if (experts === 8) type = "Q8_0";
    } else if (t.name.includes("attn_k.weight")) {
      if (experts === 8) type = "Q8_0";
    } else if (t.name.includes("ffn_down")) {
      if ((fileType === "Q4_K_M" || fileType === "Q5_K_M") && moreBits(layer, nDown)) type = "Q6_K";
      else if (fileType === "Q4_K_S" && layer < Math.trunc(nDown / 8)) type = "Q5_K";
    } else if (t.name.includes("attn_output.weight")) {
      if (experts === 8 && (fileType === "Q4_K_S" || fileType === "Q4_K_M")) type = "Q5_K";
    }
    return fitRows(type, rowLength);
  });
}
