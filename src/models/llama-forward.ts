import type { LlamaConfig } from "../formats/hf/config.js";

/**
 * A plain TypeScript forward pass of the llama decoder, on weights in Hugging Face naming and
 * layout (half-split rotary embeddings). It is the independent reference that exported models
 * are checked against: llama.cpp must give the same next-token probabilities. Written for
 * clarity and small models, not speed: one token at a time with a key/value cache, float64
 * accumulation.
 */
export type WeightLookup = (hfName: string) => Float32Array;

/** Logits for the next token after each position of `tokens`. */
export function llamaForward(config: LlamaConfig, weight: WeightLookup, tokens: readonly number[]): Float32Array[] {
  const { hiddenSize: dim, numLayers, numHeads, numKvHeads, headDim, vocabSize } = config;
  const embed = weight("model.embed_tokens.weight");
  const lmHead = config.tieWordEmbeddings ? embed : weight("lm_head.weight");
  const layers = Array.from({ length: numLayers }, (_, i) => {
    const w = (part: string) => weight(`model.layers.${i}.${part}`);
    const bias = (part: string) => (config.attentionBias ? w(part) : undefined);
    return {
      attnNorm: w("input_layernorm.weight"),
      q: w("self_attn.q_proj.weight"), qBias: bias("self_attn.q_proj.bias"),
      k: w("self_attn.k_proj.weight"), kBias: bias("self_attn.k_proj.bias"),
      v: w("self_attn.v_proj.weight"), vBias: bias("self_attn.v_proj.bias"),
      o: w("self_attn.o_proj.weight"),
      ffnNorm: w("post_attention_layernorm.weight"),
      gate: w("mlp.gate_proj.weight"),
      up: w("mlp.up_proj.weight"),
      down: w("mlp.down_proj.weight"),
      keys: [] as Float64Array[],
      values: [] as Float64Array[],
    };
  });
  const finalNorm = weight("model.norm.weight");
  const groupSize = numHeads / numKvHeads;
  const out: Float32Array[] = [];

  tokens.forEach((token, pos) => {
    if (token < 0 || token >= vocabSize) throw new Error(`token ${token} is outside the vocabulary (${vocabSize})`);
    const x = Float64Array.from(embed.subarray(token * dim, (token + 1) * dim));
    for (const layer of layers) {
      const h = rmsNorm(x, layer.attnNorm, config.rmsNormEps);
      const q = matVec(layer.q, h, numHeads * headDim, layer.qBias);
      const k = matVec(layer.k, h, numKvHeads * headDim, layer.kBias);
      const v = matVec(layer.v, h, numKvHeads * headDim, layer.vBias);
      applyRotary(q, numHeads, headDim, pos, config.ropeTheta);
      applyRotary(k, numKvHeads, headDim, pos, config.ropeTheta);
      layer.keys.push(k);
      layer.values.push(v);

      const attended = new Float64Array(numHeads * headDim);
      const scale = 1 / Math.sqrt(headDim);
      for (let head = 0; head < numHeads; head++) {
        const kvOffset = Math.floor(head / groupSize) * headDim;
        const scores = layer.keys.map((key) => {
          let s = 0;
          for (let d = 0; d < headDim; d++) s += q[head * headDim + d] * key[kvOffset + d];
          return s * scale;
        });
        const weights = softmax(scores);
        for (let t = 0; t < weights.length; t++) {
          const value = layer.values[t];
          for (let d = 0; d < headDim; d++) attended[head * headDim + d] += weights[t] * value[kvOffset + d];
        }
      }
      addInPlace(x, matVec(layer.o, attended, dim));

      const g = rmsNorm(x, layer.ffnNorm, config.rmsNormEps);
      const gate = matVec(layer.gate, g, config.intermediateSize);
      const up = matVec(layer.up, g, config.intermediateSize);
      for (let i = 0; i < gate.length; i++) gate[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
      addInPlace(x, matVec(layer.down, gate, dim));
    }
    const normed = rmsNorm(x, finalNorm, config.rmsNormEps);
    out.push(Float32Array.from(matVec(lmHead, normed, vocabSize)));
  });
  return out;
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

/** y = W·x for a row-major [rows, x.length] matrix. */
function matVec(w: Float32Array, x: Float64Array, rows: number, bias?: Float32Array): Float64Array {
  const cols = x.length;
  if (w.length !== rows * cols) throw new Error(`weight of ${w.length} values is not ${rows}×${cols}`);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = bias ? bias[r] : 0;
    const base = r * cols;
    for (let c = 0; c < cols; c++) s += w[base + c] * x[c];
    y[r] = s;
  }
  return y;
}

/** Half-split rotary embedding (Hugging Face's rotate_half) at position `pos`. */
function applyRotary(v: Float64Array, heads: number, headDim: number, pos: number, theta: number): void {
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      const angle = pos * Math.pow(theta, (-2 * j) / headDim);
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
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
