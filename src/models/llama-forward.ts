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
  /** Sees each MoE layer's routing per position: the chosen experts and their weights (and, in a batch, the sequence). */
  onRouting?: (layer: number, position: number, experts: number[], weights: number[], sequence: number) => void;
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
  llamaLayerBatch(config, index, weight, [xs], options);
}

/**
 * llamaLayer over several independent sequences at once: every projection runs over all their
 * positions together (a weight row read once per layer for the whole batch), attention stays
 * within each sequence. Each value is computed exactly as for its sequence alone (same operations
 * in the same order), so the results are bit for bit those of one llamaLayer call per sequence.
 */
export function llamaLayerBatch(config: LlamaConfig, index: number, weight: WeightLookup, sequences: Float64Array[][], options: ForwardOptions = {}): void {
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
  // Every position of every sequence, with its sequence, position in it and the sequence's first index.
  const xs = sequences.flat();
  const where: { seq: number; pos: number; start: number }[] = [];
  let start = 0;
  for (const [i, seq] of sequences.entries()) {
    for (let pos = 0; pos < seq.length; pos++) where.push({ seq: i, pos, start });
    start += seq.length;
  }

  // Each projection runs over every position at once, so a weight row is read once per layer, not once per token.
  const hs = xs.map((x) => rmsNorm(x, attnNorm, eps));
  const qs = matMul(q, hs, numHeads * headDim, qBias);
  const keys = matMul(k, hs, numKvHeads * headDim, kBias);
  const values = matMul(v, hs, numKvHeads * headDim, vBias);
  const rotary = rotaryFrequencies(config);
  qs.forEach((qv, i) => applyRotary(qv, numHeads, headDim, where[i].pos, rotary));
  keys.forEach((kv, i) => applyRotary(kv, numKvHeads, headDim, where[i].pos, rotary));

  const scale = 1 / Math.sqrt(headDim);
  const attended = qs.map((qv, i) => {
    const { pos, start: first } = where[i];
    const out = new Float64Array(numHeads * headDim);
    for (let head = 0; head < numHeads; head++) {
      const kvOffset = Math.floor(head / groupSize) * headDim;
      const scores = keys.slice(first, first + pos + 1).map((key) => {
        let s = 0;
        for (let d = 0; d < headDim; d++) s += qv[head * headDim + d] * key[kvOffset + d];
        return s * scale;
      });
      const weights = softmax(scores);
      for (let t = 0; t < weights.length; t++) {
        const value = values[first + t];
        for (let d = 0; d < headDim; d++) out[head * headDim + d] += weights[t] * value[kvOffset + d];
      }
    }
    return out;
  });
  matMul(o, attended, dim).forEach((y, i) => addInPlace(xs[i], y));

  const gs = xs.map((x) => rmsNorm(x, ffnNorm, eps));
  if (mlp) {
    swiGlu(mlp, gs, config.intermediateSize, dim).forEach((y, i) => addInPlace(xs[i], y));
    return;
  }
  const routes = matMul(router!, gs, config.moe!.experts).map((logits) => route(logits, config.moe!.expertsPerToken));
  routes.forEach((r, i) => options.onRouting?.(index, where[i].pos, r.experts, r.weights, where[i].seq));
  // Each expert runs on the positions routed to it; contributions are added in routing order.
  const outputs = experts.map((ffn, e) => {
    const positions = routes.flatMap((r, i) => (r.experts.includes(e) ? [i] : []));
    const ys = swiGlu(ffn, positions.map((i) => gs[i]), config.intermediateSize, dim);
    return new Map(positions.map((i, j) => [i, ys[j]]));
  });
  routes.forEach((r, i) => r.experts.forEach((e, j) => {
    const y = outputs[e].get(i)!;
    for (let c = 0; c < dim; c++) xs[i][c] += r.weights[j] * y[c];
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

/**
 * y_p = W·x_p for a row-major [rows, cols] matrix and every vector x_p. Two rows × four positions
 * are computed together: eight independent sums share each loaded weight and input, which hides
 * the latency of the additions; every sum still adds its products in column order starting from
 * the bias, so the result is bit for bit that of one dot product at a time.
 */
function matMul(w: Float32Array, xs: readonly Float64Array[], rows: number, bias?: Float32Array): Float64Array[] {
  const ys = xs.map(() => new Float64Array(rows));
  if (xs.length === 0) return ys;
  const cols = xs[0].length;
  if (w.length !== rows * cols) throw new Error(`weight of ${w.length} values is not ${rows}×${cols}`);
  const n = xs.length;
  let r = 0;
  for (; r + 2 <= rows; r += 2) {
    const b0 = r * cols;
    const b1 = b0 + cols;
    const init0 = bias ? bias[r] : 0;
    const init1 = bias ? bias[r + 1] : 0;
    let p = 0;
    for (; p + 4 <= n; p += 4) {
      const x0 = xs[p], x1 = xs[p + 1], x2 = xs[p + 2], x3 = xs[p + 3];
      let s0 = init0, s1 = init0, s2 = init0, s3 = init0;
      let t0 = init1, t1 = init1, t2 = init1, t3 = init1;
      for (let c = 0; c < cols; c++) {
        const u = w[b0 + c], v = w[b1 + c];
        const a0 = x0[c], a1 = x1[c], a2 = x2[c], a3 = x3[c];
        s0 += u * a0; s1 += u * a1; s2 += u * a2; s3 += u * a3;
        t0 += v * a0; t1 += v * a1; t2 += v * a2; t3 += v * a3;
      }
      ys[p][r] = s0; ys[p + 1][r] = s1; ys[p + 2][r] = s2; ys[p + 3][r] = s3;
      ys[p][r + 1] = t0; ys[p + 1][r + 1] = t1; ys[p + 2][r + 1] = t2; ys[p + 3][r + 1] = t3;
    }
    for (; p < n; p++) {
      ys[p][r] = dot(w, b0, xs[p], cols, init0);
      ys[p][r + 1] = dot(w, b1, xs[p], cols, init1);
    }
  }
  for (; r < rows; r++) for (let p = 0; p < n; p++) ys[p][r] = dot(w, r * cols, xs[p], cols, bias ? bias[r] : 0);
  return ys;
}

function dot(w: Float32Array, offset: number, x: Float64Array, cols: number, init: number): number {
  let s = init;
  for (let c = 0; c < cols; c++) s += w[offset + c] * x[c];
  return s;
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
