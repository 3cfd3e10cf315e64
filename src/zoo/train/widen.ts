import { promises as fs } from "node:fs";
import * as path from "node:path";
import { writeDirAtomic } from "../../core/atomic.js";
import { ConfigError } from "../../core/errors.js";
import { Rng } from "../../core/rng.js";
import { llamaConfigToJson, readLlamaConfig, TOKENIZER_FILES, type LlamaConfig } from "../../formats/hf/config.js";
import { readHfWeightsF32, writeSafetensorsFile } from "../../formats/safetensors/index.js";
import { llamaTensorShapes } from "../random-llama.js";
import { tensorSeed } from "./model.js";

/**
 * A function-preserving widening of a dense llama model (Net2Net-style, with zero read-outs):
 * the wider model computes exactly the same logits as the original, so training it from there
 * starts where the original is and has more room to learn.
 * - FFN: new gate/up rows are seeded random (the RMS of the existing rows), new down_proj columns
 *   are zero, so each new unit adds silu(g)·u·0 = 0 to the residual stream.
 * - Attention heads: whole new heads (q, k, v rows seeded random), with o_proj columns zero;
 *   key/value heads grow by the same factor so every old query head keeps its old key/value head.
 * - Layers: new layers appended after the last one, o_proj and down_proj zero, so each is the
 *   identity on the residual stream (norm weights 1, other projections seeded random).
 * The hidden size stays: padding it would change every RMSNorm's mean, which is not exact.
 */
export interface WidenPlan {
  /** FFN width: a multiple of the model's (at least it). */
  intermediateSize?: number;
  /** Query heads: a multiple of the model's (at least it); key/value heads grow by the same factor. */
  numHeads?: number;
  /** Total layers: at least the model's. */
  numLayers?: number;
  /** Seeds the new weights. */
  seed: number;
}

/** Check a plan against a model: every problem at once. */
function planProblems(config: LlamaConfig, plan: WidenPlan): string[] {
  const problems: string[] = [];
  const size = (key: "intermediateSize" | "numHeads" | "numLayers", current: number, multiple: boolean) => {
    const v = plan[key];
    if (v === undefined) return;
    if (!Number.isSafeInteger(v) || v <= 0) problems.push(`${key} must be a positive integer (got ${JSON.stringify(v)})`);
    else if (v < current) problems.push(`${key} ${v} would shrink the model (it has ${current}); widening only grows`);
    else if (multiple && v % current !== 0) problems.push(`${key} ${v} is not a multiple of the model's ${current}`);
  };
  size("intermediateSize", config.intermediateSize, true);
  size("numHeads", config.numHeads, true);
  size("numLayers", config.numLayers, false);
  if (!Number.isSafeInteger(plan.seed)) problems.push(`seed must be an integer (got ${JSON.stringify(plan.seed)})`);
  if (config.moe) problems.push("a mixture of experts cannot be widened (its FFNs are experts)");
  if (config.attentionBias) problems.push(`${config.architecture} has attention biases; only the bias-free llama architecture is widened`);
  return problems;
}

/** The wider model's config and weights (Hugging Face names and layout); the input is not changed. */
export function widenLlamaWeights(
  config: LlamaConfig,
  weights: ReadonlyMap<string, Float32Array>,
  plan: WidenPlan,
): { config: LlamaConfig; weights: Map<string, Float32Array> } {
  const problems = planProblems(config, plan);
  for (const { name, shape } of llamaTensorShapes(config)) {
    const w = weights.get(name);
    if (!w) problems.push(`weights lack ${name}`);
    else if (w.length !== shape.reduce((a, b) => a * b, 1)) problems.push(`${name} has ${w.length} values, expected [${shape.join(", ")}]`);
  }
  if (problems.length) throw new ConfigError(problems, "widen");

  const headFactor = (plan.numHeads ?? config.numHeads) / config.numHeads;
  const wide: LlamaConfig = {
    ...config,
    intermediateSize: plan.intermediateSize ?? config.intermediateSize,
    numHeads: config.numHeads * headFactor,
    numKvHeads: config.numKvHeads * headFactor,
    numLayers: plan.numLayers ?? config.numLayers,
  };
  const d = config.hiddenSize;
  const out = new Map<string, Float32Array>();
  let tensorIndex = 0;
  const random = (n: number, rms: number) => {
    const rng = new Rng(tensorSeed(plan.seed, tensorIndex++));
    return Float32Array.from({ length: n }, () => rms * rng.normal());
  };
  /** [rows, d] → [newRows, d]: the old rows first, then seeded random ones at the old rows' RMS. */
  const addRows = (w: Float32Array, newRows: number) => {
    const grown = new Float32Array(newRows * d);
    grown.set(w);
    grown.set(random(grown.length - w.length, rms(w)), w.length);
    return grown;
  };
  /** [d, cols] → [d, newCols]: the old columns, then zeros. */
  const addZeroColumns = (w: Float32Array, cols: number, newCols: number) => {
    const grown = new Float32Array(d * newCols);
    for (let r = 0; r < d; r++) grown.set(w.subarray(r * cols, (r + 1) * cols), r * newCols);
    return grown;
  };

  const { headDim } = config;
  for (const { name } of llamaTensorShapes(wide)) {
    const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
    const layer = m ? Number(m[1]) : -1;
    const part = m?.[2];
    if (!m || layer < config.numLayers) {
      const w = weights.get(name)!;
      if (part === "self_attn.q_proj.weight") out.set(name, addRows(w, wide.numHeads * headDim));
      else if (part === "self_attn.k_proj.weight" || part === "self_attn.v_proj.weight") out.set(name, addRows(w, wide.numKvHeads * headDim));
      else if (part === "self_attn.o_proj.weight") out.set(name, addZeroColumns(w, config.numHeads * headDim, wide.numHeads * headDim));
      else if (part === "mlp.gate_proj.weight" || part === "mlp.up_proj.weight") out.set(name, addRows(w, wide.intermediateSize));
      else if (part === "mlp.down_proj.weight") out.set(name, addZeroColumns(w, config.intermediateSize, wide.intermediateSize));
      else out.set(name, Float32Array.from(w));
      continue;
    }
    // A new layer: shaped like the last old one, random where it reads, zero where it writes.
    const like = (p: string) => weights.get(`model.layers.${config.numLayers - 1}.${p}`)!;
    const rows = { "self_attn.q_proj.weight": wide.numHeads * headDim, "self_attn.k_proj.weight": wide.numKvHeads * headDim, "self_attn.v_proj.weight": wide.numKvHeads * headDim, "mlp.gate_proj.weight": wide.intermediateSize, "mlp.up_proj.weight": wide.intermediateSize }[part!];
    if (part!.endsWith("norm.weight")) out.set(name, new Float32Array(d).fill(1));
    else if (rows !== undefined) out.set(name, random(rows * d, rms(like(part!))));
    else out.set(name, new Float32Array(d * (part === "self_attn.o_proj.weight" ? wide.numHeads * headDim : wide.intermediateSize)));
  }
  return { config: wide, weights: out };
}

function rms(w: Float32Array): number {
  let s = 0;
  for (const v of w) s += v * v;
  return Math.sqrt(s / Math.max(w.length, 1));
}

/**
 * Widen the Hugging Face folder `srcDir` into `outDir` (config.json, model.safetensors in float32,
 * and the tokenizer files it has), written atomically. Returns the wider config.
 */
export async function widenHfModel(srcDir: string, outDir: string, plan: WidenPlan): Promise<LlamaConfig> {
  const config = await readLlamaConfig(srcDir);
  const problems = planProblems(config, plan);
  if (problems.length) throw new ConfigError(problems, `widen ${srcDir}`);
  const wide = widenLlamaWeights(config, await readHfWeightsF32(srcDir), plan);
  await writeDirAtomic(outDir, async (tmp) => {
    const tensors = llamaTensorShapes(wide.config).map(({ name, shape }) => ({ name, dtype: "F32" as const, shape, data: wide.weights.get(name)! }));
    await writeSafetensorsFile(path.join(tmp, "model.safetensors"), tensors, { format: "pt" });
    const json = llamaConfigToJson({ ...wide.config, raw: { ...wide.config.raw, torch_dtype: "float32" } });
    await fs.writeFile(path.join(tmp, "config.json"), JSON.stringify(json, null, 2) + "\n");
    for (const name of TOKENIZER_FILES) await fs.copyFile(path.join(srcDir, name), path.join(tmp, name)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
  });
  return wide.config;
}
