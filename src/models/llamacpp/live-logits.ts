/**
 * A second reading of the logits of a context's last evaluation. node-llama-cpp's public API
 * samples each evaluated position once, and the only exact distribution it returns is the whole
 * sorted vocabulary (copied through N-API element by element, then into a Map), which costs about
 * as much as the evaluation itself. llama.cpp keeps the last evaluation's logits until the next
 * one, so its native sampler can be run on them again: with a top-k sampler for the few likeliest
 * tokens (normalised over those k), or with the greedy sampler for the whole distribution exactly
 * as `controlledEvaluate` returns it. This uses node-llama-cpp 3.21.1's internals (the context's
 * native `sampleToken`, the native sampler class, the sequence's sampler settings), all found here
 * and nowhere else; where any is missing, `liveLogits` returns undefined and callers evaluate as
 * before. test/models/llamacpp.test.ts checks both readings against controlledEvaluate.
 */
import type { LlamaContext, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";

interface NativeSampler {
  applyConfig(config: unknown): void;
  dispose(): void;
}

type SampleToken = (batchLogitIndex: number, sampler: NativeSampler, probabilities: boolean, confidence: boolean) => Promise<[number, number[] | undefined, number | undefined]>;

export interface LiveLogits {
  /** The `k` likeliest tokens and their probabilities normalised over those k, most likely first: [token, q, token, q, …]. */
  top(): Promise<number[]>;
  /** The whole distribution, most likely first, as `controlledEvaluate` gives it with `probabilities`. */
  whole(): Promise<Map<Token, number>>;
  dispose(): void;
}

/** Readings of the last evaluation's logits (llama.cpp's last output: batch index −1), or undefined where node-llama-cpp's internals differ. */
export function liveLogits(model: LlamaModel, context: LlamaContext, sequence: LlamaContextSequence, k: number): LiveLogits | undefined {
  const native = (context as unknown as { _ctx?: { sampleToken?: unknown } })._ctx;
  const Sampler = (model as unknown as { _llama?: { _bindings?: { AddonSampler?: unknown } } })._llama?._bindings?.AddonSampler;
  const handle = (model as unknown as { _model?: unknown })._model;
  const settings = (sequence as unknown as { _resolveSamplerConfig?: unknown })._resolveSamplerConfig;
  if (!native || typeof native.sampleToken !== "function" || typeof Sampler !== "function" || !handle || typeof settings !== "function") return undefined;
  const sampleToken = (native.sampleToken as SampleToken).bind(native);
  const samplerWith = (options: Record<string, number>): NativeSampler => {
    const sampler = new (Sampler as new (model: unknown) => NativeSampler)(handle);
    sampler.applyConfig((settings as (o: Record<string, number>) => unknown).call(sequence, options));
    return sampler;
  };
  // Temperature 1, top-p 1 and min-p 0 leave the k logits as they are (the seed only picks a token nobody reads).
  const topK = samplerWith({ temperature: 1, topK: k, topP: 1, minP: 0, seed: 1 });
  // What controlledEvaluate uses when asked for probabilities with no sampling options.
  const greedy = samplerWith({});
  return {
    async top() {
      const [, pairs] = await sampleToken(-1, topK, true, false);
      return pairs ?? [];
    },
    async whole() {
      const [, pairs] = await sampleToken(-1, greedy, true, false);
      const probabilities = new Map<Token, number>();
      for (let i = 1; i < (pairs?.length ?? 0); i += 2) probabilities.set(pairs![i - 1] as Token, pairs![i]);
      return probabilities;
    },
    dispose() {
      topK.dispose();
      greedy.dispose();
    },
  };
}
