/**
 * One base GGUF with several runtime LoRA adapters whose scales change per call: llama.cpp
 * loads each adapter file once per model (node-llama-cpp caches them), and a candidate mix is
 * a fresh small context with its scales set, so trying a weighting never merges or writes
 * weights and never reloads the base. Used by the adapter-composition search (adapt/compose).
 */
import type { LlamaContext, LlamaModel, Token } from "node-llama-cpp";
import { BackendError, ConfigError } from "../../core/errors.js";
import { sequenceStart } from "../../formats/sequence-start.js";
import { acquireBaseModel } from "./runtime.js";
import { validateGgufForLlamaCpp } from "./validate.js";

/** A text to score: the bits of `target` after `context` (which may be empty). */
export interface ScoredText {
  context: string;
  target: string;
}

export interface MixScore {
  /** Total surprisal of the targets, in bits, and their UTF-8 bytes. */
  bits: number;
  bytes: number;
  /** Per text, in the given order. */
  perText: { bits: number; bytes: number }[];
}

export interface AdapterMix {
  /** Score the texts with adapter i at scales[i]. */
  score(texts: readonly ScoredText[], scales: readonly number[]): Promise<MixScore>;
  /** Token count (with any start token) of context + target, for length checks. */
  tokenCount(text: ScoredText): number;
  close(): Promise<void>;
}

const MIN_PROBABILITY = 1e-30;

export async function openAdapterMix(baseGguf: string, adapters: readonly string[], options: { threads?: number } = {}): Promise<AdapterMix> {
  await validateGgufForLlamaCpp(baseGguf);
  for (const a of adapters) await validateGgufForLlamaCpp(a, "adapter");
  const base = await acquireBaseModel(baseGguf, false);
  const model: LlamaModel = base.model;
  // The one start rule (src/formats/sequence-start.ts), as the llama.cpp backend's logLikelihood starts a text.
  const startTokens = { addBos: model.tokens.shouldPrependBosToken, bos: model.tokens.bos, eos: model.tokens.eos };
  const splitText = (t: ScoredText) => {
    const context = [...sequenceStart<Token>(startTokens, t.context === ""), ...model.tokenize(t.context, false)];
    return { context, target: model.tokenize(t.target, false) };
  };
  return {
    tokenCount: (t) => {
      const s = splitText(t);
      return s.context.length + s.target.length;
    },
    async score(texts, scales) {
      if (scales.length !== adapters.length) throw new ConfigError([`${scales.length} scales for ${adapters.length} adapters`], "adapter mix");
      const split = texts.map(splitText);
      // The smallest context that holds the longest text (rounded so runs share a size); a text
      // longer than the model's context is scored in consecutive windows, each starting fresh.
      const window = Math.min(model.trainContextSize, 32 * Math.ceil(Math.max(32, ...split.map((t) => t.context.length + t.target.length)) / 32));
      const contextSize = window;
      let context: LlamaContext;
      try {
        context = await model.createContext({
          contextSize, batchSize: contextSize, threads: options.threads ?? 1, sequences: 1, flashAttention: false,
          lora: { adapters: adapters.map((filePath, i) => ({ filePath, scale: scales[i] })) },
        });
      } catch (error) {
        throw new BackendError("llamacpp", `cannot create a context with ${adapters.length} adapters: ${(error as Error).message}`);
      }
      try {
        const sequence = context.getSequence();
        const perText: { bits: number; bytes: number }[] = [];
        for (const [k, text] of texts.entries()) {
          const { context: ctx, target } = split[k];
          const whole = [...ctx, ...target];
          let bits = 0;
          for (let from = 0; from + 1 < whole.length; from += window - 1) {
            const segment = whole.slice(from, from + window);
            await sequence.clearHistory();
            const input = segment.slice(0, -1).map((token, i) =>
              from + i >= ctx.length - 1 ? ([token, { generateNext: { probabilities: true } }] as [Token, { generateNext: { probabilities: true } }]) : token);
            const out = await sequence.controlledEvaluate(input);
            for (let i = Math.max(0, ctx.length - 1 - from); i < segment.length - 1; i++) {
              const probabilities = out[i]?.next.probabilities;
              if (!probabilities) throw new BackendError("llamacpp", `no probabilities at token ${from + i}`);
              bits -= Math.log2(Math.max(probabilities.get(segment[i + 1]) ?? 0, MIN_PROBABILITY));
            }
          }
          perText.push({ bits, bytes: Buffer.byteLength(text.target, "utf8") });
        }
        return { bits: perText.reduce((s, t) => s + t.bits, 0), bytes: perText.reduce((s, t) => s + t.bytes, 0), perText };
      } finally {
        await context.dispose();
      }
    },
    close: () => base.release(),
  };
}
