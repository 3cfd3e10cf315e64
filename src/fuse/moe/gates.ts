/**
 * Router initialisation as mergekit-moe does it (facts from mergekit/moe/router.py; own code).
 * Each expert gets one gate row per layer, [E, hidden] per layer:
 * - hidden / hidden_last: the base model's residual stream entering the layer (Hugging Face's
 *   hidden_states[layer], i.e. after the layers before it, before this layer's norm) at the
 *   prompt's last token; hidden_avg: the mean over the prompt's tokens. Each prompt is BOS +
 *   text. Mean over the positive prompts minus the mean over the negative prompts, then scaled to
 *   unit L2 norm per layer (norm floored at 1e-8).
 * - cheap_embed: the sum of the embedding rows of every token of every positive prompt (BOS
 *   included), unit-normalised; minus the same for the negative prompts; unit-normalised again.
 *   The same row at every layer.
 * - random: standard normal entries; uniform_random: U(-1/√hidden, 1/√hidden) (torch.nn.Linear's
 *   default); both from the seed.
 * The forward pass holds one layer of the base at a time (plus the embeddings); `threads` > 1
 * splits the prompts over worker threads (hidden-states.ts), with the same values.
 */
import { Rng } from "../../core/rng.js";
import type { TensorSource } from "../../core/tensor.js";
import type { GateMode } from "../../formats/moe-config.js";
import type { LlamaConfig } from "../../formats/hf/config.js";
import { promptHiddenStates } from "./hidden-states.js";

/** One expert's prompts as token ids (BOS first when the tokenizer has one). */
export interface ExpertPromptTokens {
  positive: number[][];
  negative: number[][];
}

/**
 * The router weights of every layer: gates[layer] is row-major [experts, hidden].
 * `base` is the model whose hidden states or embeddings are used (mergekit-moe: base_model).
 */
export async function initialGates(
  mode: GateMode,
  config: LlamaConfig,
  base: TensorSource,
  experts: ExpertPromptTokens[],
  seed = 0,
  threads = 1,
): Promise<Float32Array[]> {
  const { numLayers: layers, hiddenSize: dim } = config;
  const count = experts.length;
  if (mode === "random" || mode === "uniform_random") {
    const rng = new Rng(seed);
    const bound = 1 / Math.sqrt(dim);
    return Array.from({ length: layers }, () => Float32Array.from({ length: count * dim }, () => (mode === "random" ? rng.normal() : (2 * rng.next() - 1) * bound)));
  }
  const embed = await base.readF32("model.embed_tokens.weight");
  if (mode === "cheap_embed") {
    const sumEmbeddings = (prompts: number[][]): Float64Array => {
      const sum = new Float64Array(dim);
      for (const tokens of prompts) for (const t of tokens) for (let i = 0; i < dim; i++) sum[i] += embed[t * dim + i];
      return normalise(sum);
    };
    const rows = experts.map((e) => contrast(sumEmbeddings(e.positive), e.negative.length ? sumEmbeddings(e.negative) : undefined));
    return Array.from({ length: layers }, () => stackRows(rows, dim));
  }
  const states = await promptHiddenStates(config, base, embed, experts.flatMap((e) => [...e.positive, ...e.negative]), mode === "hidden_avg", threads);
  const gates: Float32Array[] = [];
  for (let layer = 0; layer < layers; layer++) {
    let seq = 0;
    const mean = (prompts: number[][]): Float64Array => {
      const m = new Float64Array(dim);
      for (let p = 0; p < prompts.length; p++, seq++) for (let i = 0; i < dim; i++) m[i] += states[layer][seq][i] / prompts.length;
      return m;
    };
    const rows = experts.map((e) => {
      const positive = mean(e.positive);
      return contrast(positive, e.negative.length ? mean(e.negative) : undefined);
    });
    gates.push(stackRows(rows, dim));
  }
  return gates;
}

/** The positive direction minus the negative one, at unit length. */
function contrast(positive: Float64Array, negative: Float64Array | undefined): Float64Array {
  if (negative) for (let i = 0; i < positive.length; i++) positive[i] -= negative[i];
  return normalise(positive);
}

function normalise(v: Float64Array): Float64Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const norm = Math.max(Math.sqrt(sum), 1e-8);
  return v.map((x) => x / norm);
}

function stackRows(rows: Float64Array[], dim: number): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, e) => out.set(r, e * dim));
  return out;
}
