import type { LlamaConfig } from "../formats/hf/config.js";
import { rotaryFrequencies, type RotaryFrequencies } from "../formats/hf/rope.js";

/**
 * A plain TypeScript forward pass of the llama decoder, on weights in Hugging Face naming and
 * layout (half-split rotary embeddings). It is the independent reference that exported models
 * are checked against: llama.cpp must give the same next-token probabilities. Written for
 * clarity and small models: one layer at a time over every position (each weight row read once
 * per layer; causal attention over the positions before), float64 accumulation. A Mixtral (config.moe) routes each token as Mixtral and llama.cpp do: softmax
 * over all gate logits, the top k kept and renormalised to sum 1, output = Σ weight·SwiGLU_expert.
 */
export type WeightLookup = (hfName: string) => Float32Array;

export interface ForwardOptions {
  /** Sees each MoE layer's routing per position: the chosen experts and their weights. */
  onRouting?: (layer: number, position: number, experts: number[], weights: number[]) => void;
}

interface FeedForward {
  gate: Float32Array;
  up: Float32Array;
  down: Float32Array;
}

/** Logits for the next token after each position of `tokens`. */
export function llamaForward(config: LlamaConfig, weight: WeightLookup, tokens: readonly number[], options: ForwardOptions = {}): Float32Array[] {
  const embed = weight("model.embed_tokens.weight");
  const xs = embedTokens(config, embed, tokens);
  for (let layer = 0; layer < config.numLayers; layer++) llamaLayer(config, layer, weight, xs, options);
  const lmHead = config.tieWordEmbeddings ? embed : weight("lm_head.weight");
  const finalNorm = weight("model.norm.weight");
  return matMul(lmHead, xs.map((x) => rmsNorm(x, finalNorm, config.rmsNormEps)), config.vocabSize).map((l) => Float32Array.from(l));
}

/** The residual stream entering layer 0: each token's embedding row (Hugging Face's hidden_states[0]). */
export function embedTokens(config: LlamaConfig, embed: Float32Array, tokens: readonly number[]): Float64Array[] {
  const dim = config.hiddenSize;
  return tokens.map((token) => {
    if (!(token >= 0 && token < config.vocabSize)) throw new Error(`token ${token} is outside the vocabulary (${config.vocabSize})`);
    return Float64Array.from(embed.subarray(token * dim, (token + 1) * dim));
  });
}

/**
 * Apply decoder layer `index` to the residual streams `xs` of one sequence (positions 0…n-1),
 * in place. Only this layer's weights are looked up, so a caller can hold one layer at a time.
 */
export function llamaLayer(config: LlamaConfig, index: number, weight: WeightLookup, xs: Float64Array[], options: ForwardOptions = {}): void {
  const { hiddenSize: dim, numHeads, numKvHeads, headDim } = config;
  const w = (part: string) => weight(`model.layers.${index}.${part}`);
  const bias = (part: string) => (config.attentionBias ? w(part) : undefined);
  const attnNorm = w("input_layernorm.weight");
  const [q, k, v, o] = ["q", "k", "v", "o"].map((p) => w(`self_attn.${p}_proj.weight`));
  const [qBias, kBias, vBias] = ["q", "k", "v"].map((p) => bias(`self_attn.${p}_proj.bias`));
  const ffnNorm = w("post_attention_layernorm.weight");
  const mlp: FeedForward | undefined = config.moe ? undefined : { gate: w("mlp.gate_proj.weight"), up: w("mlp.up_proj.weight"), down: w("mlp.down_proj.weight") };
  const router = config.moe ? w("block_sparse_moe.gate.weight") : undefined;
  const experts = Array.from({ length: config.moe?.experts ?? 0 }, (_, e): FeedForward => ({
    gate: w(`block_sparse_moe.experts.${e}.w1.weight`),
    up: w(`block_sparse_moe.experts.${e}.w3.weight`),
    down: w(`block_sparse_moe.experts.${e}.w2.weight`),
  }));
  const groupSize = numHeads / numKvHeads;
  const eps = config.rmsNormEps;

  // Each projection runs over every position at once, so a weight row is read once per layer, not once per token.
  const hs = xs.map((x) => rmsNorm(x, attnNorm, eps));
  const qs = matMul(q, hs, numHeads * headDim, qBias);
  const keys = matMul(k, hs, numKvHeads * headDim, kBias);
  const values = matMul(v, hs, numKvHeads * headDim, vBias);
  const rotary = rotaryFrequencies(config);
  qs.forEach((qv, pos) => applyRotary(qv, numHeads, headDim, pos, rotary));
  keys.forEach((kv, pos) => applyRotary(kv, numKvHeads, headDim, pos, rotary));

  const scale = 1 / Math.sqrt(headDim);
  const attended = qs.map((qv, pos) => {
    const out = new Float64Array(numHeads * headDim);
    for (let head = 0; head < numHeads; head++) {
      const kvOffset = Math.floor(head / groupSize) * headDim;
      const scores = keys.slice(0, pos + 1).map((key) => {
        let s = 0;
        for (let d = 0; d < headDim; d++) s += qv[head * headDim + d] * key[kvOffset + d];
        return s * scale;
      });
      const weights = softmax(scores);
      for (let t = 0; t < weights.length; t++) {
        const value = values[t];
        for (let d = 0; d < headDim; d++) out[head * headDim + d] += weights[t] * value[kvOffset + d];
      }
    }
    return out;
  });
  matMul(o, attended, dim).forEach((y, pos) => addInPlace(xs[pos], y));

  const gs = xs.map((x) => rmsNorm(x, ffnNorm, eps));
  if (mlp) {
    swiGlu(mlp, gs, config.intermediateSize, dim).forEach((y, pos) => addInPlace(xs[pos], y));
    return;
  }
  const routes = matMul(router!, gs, config.moe!.experts).map((logits) => route(logits, config.moe!.expertsPerToken));
  routes.forEach((r, pos) => options.onRouting?.(index, pos, r.experts, r.weights));
  // Each expert runs on the positions routed to it; contributions are added in routing order.
  const outputs = experts.map((ffn, e) => {
    const positions = routes.flatMap((r, pos) => (r.experts.includes(e) ? [pos] : []));
    const ys = swiGlu(ffn, positions.map((pos) => gs[pos]), config.intermediateSize, dim);
    return new Map(positions.map((pos, i) => [pos, ys[i]]));
  });
  routes.forEach((r, pos) => r.experts.forEach((e, j) => {
    const y = outputs[e].get(pos)!;
    for (let i = 0; i < dim; i++) xs[pos][i] += r.weights[j] * y[i];
  }));
}

function swiGlu(ffn: FeedForward, xs: Float64Array[], hidden: number, dim: number): Float64Array[] {
  const gates = matMul(ffn.gate, xs, hidden);
  const ups = matMul(ffn.up, xs, hidden);
  gates.forEach((gate, p) => {
    for (let i = 0; i < gate.length; i++) gate[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * ups[p][i];
  });
  return matMul(ffn.down, gates, dim);
}

/**
 * Mixtral routing: the k largest gate logits (lower index first on ties) and their softmax
 * weights renormalised over the chosen k (the same as a softmax over the chosen logits).
 */
export function route(logits: ArrayLike<number>, k: number): { experts: number[]; weights: number[] } {
  const order = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  const experts = order.slice(0, k);
  const weights = Array.from(softmax(experts.map((e) => logits[e])));
  return { experts, weights };
}

/** Probabilities from logits (numerically stable softmax). */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i] - max);
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

function rmsNorm(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let sum = 0;
  for (const value of x) sum += value * value;
  const scale = 1 / Math.sqrt(sum / x.length + eps);
  return x.map((value, i) => value * scale * w[i]);
}

/** y_p = W·x_p for a row-major [rows, cols] matrix and every vector x_p (each weight row read once). */
function matMul(w: Float32Array, xs: readonly Float64Array[], rows: number, bias?: Float32Array): Float64Array[] {
  const ys = xs.map(() => new Float64Array(rows));
  if (xs.length === 0) return ys;
  const cols = xs[0].length;
  if (w.length !== rows * cols) throw new Error(`weight of ${w.length} values is not ${rows}×${cols}`);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let p = 0; p < xs.length; p++) {
      const x = xs[p];
      let s = bias ? bias[r] : 0;
      for (let c = 0; c < cols; c++) s += w[base + c] * x[c];
      ys[p][r] = s;
    }
  }
  return ys;
}

/** Half-split rotary embedding (Hugging Face's rotate_half) at position `pos`, rope scaling included. */
function applyRotary(v: Float64Array, heads: number, headDim: number, pos: number, rotary: RotaryFrequencies): void {
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      const angle = pos * rotary.invFreq[j];
      const cos = Math.cos(angle) * rotary.scale;
      const sin = Math.sin(angle) * rotary.scale;
      const a = v[h * headDim + j];
      const b = v[h * headDim + j + half];
      v[h * headDim + j] = a * cos - b * sin;
      v[h * headDim + j + half] = b * cos + a * sin;
    }
  }
}

function addInPlace(x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) x[i] += y[i];
}
