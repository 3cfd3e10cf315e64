import { BackendError } from "../core/errors.js";
import { chatInput, generateFrom } from "../core/chat.js";
import type { ChatTurn, GenerateChunk, GenerateOptions, LanguageModel } from "../core/language-model.js";
import type { ExpertSpec } from "../formats/models-file.js";
import type { ModelPool } from "../models/pool.js";

/**
 * An expert that is loaded from the pool when a call needs it, and held only for that call (a
 * generation holds it until its stream ends). A composition of more experts than the pool keeps
 * loaded at once (a router over hundreds) is served this way: idle experts are closed least
 * recently used first. The token-level methods are offered for llama.cpp experts, which have them.
 */
export function pooledModel(spec: ExpertSpec, pool: ModelPool): LanguageModel {
  const use = <T>(call: (model: LanguageModel) => Promise<T>): Promise<T> => pool.use(spec, call);
  const optional = <K extends "nextTokenLogprobsTokens" | "tokenBytes" | "logLikelihoodTokens" | "sequenceTopK">(name: K) =>
    ((...args: unknown[]) =>
      use((model) => {
        const method = model[name] as ((...a: unknown[]) => Promise<unknown>) | undefined;
        if (!method) throw new BackendError(spec.id, `${name} is not available on this backend`);
        return method.apply(model, args);
      })) as NonNullable<LanguageModel[K]>;
  const tokenLevel = spec.backend === "llamacpp"
    ? { nextTokenLogprobsTokens: optional("nextTokenLogprobsTokens"), tokenBytes: optional("tokenBytes"), logLikelihoodTokens: optional("logLikelihoodTokens"), sequenceTopK: optional("sequenceTopK") }
    : {};
  return {
    id: spec.id,
    tokenize: (text) => use((m) => m.tokenize(text)),
    detokenize: (tokens) => use((m) => m.detokenize(tokens)),
    nextTokenLogprobs: (context, topK) => use((m) => m.nextTokenLogprobs(context, topK)),
    logLikelihood: (context, continuation) => use((m) => m.logLikelihood(context, continuation)),
    ...tokenLevel,
    async *generate(prompt: string, options?: GenerateOptions): AsyncGenerator<GenerateChunk> {
      const lease = await pool.lease(spec);
      try {
        yield* lease.model.generate(prompt, options);
      } finally {
        lease.release();
      }
    },
    // A chat is laid out by the loaded model (its own template, its server's, or the plain layout).
    async *generateChat(messages: readonly ChatTurn[], options?: GenerateOptions): AsyncGenerator<GenerateChunk> {
      const lease = await pool.lease(spec);
      try {
        yield* generateFrom(lease.model, chatInput(lease.model, messages), options);
      } finally {
        lease.release();
      }
    },
    // The pool owns the loaded model.
    async close() {},
  };
}
