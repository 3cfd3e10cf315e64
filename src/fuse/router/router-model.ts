import { BackendError, ConfigError } from "../../core/errors.js";
import { chatInput, generateFrom, plainChat } from "../../core/chat.js";
import type { ChatTurn, GenerateChunk, GenerateOptions, LanguageModel, LogLikelihood, TokenLogprob } from "../../core/language-model.js";
import { codePointCount, codePointText, codePointTokens, scoredCandidates } from "../composite-text.js";
import type { RouteDecision, Router } from "./router.js";

export interface RouterModelOptions {
  id: string;
  /** Try at most this many experts, best first, when backends fail (default: all). */
  fallbacks?: number;
  /** Called with every routing decision (for reports and metrics). */
  onRoute?: (text: string, decision: RouteDecision) => void;
}

/**
 * A router is a LanguageModel: each call goes to the expert the router picks for its text —
 * the context, or the continuation when the context is empty (a document scored from its
 * start). Every choice of one multiple-choice item shares its context, so all are scored by the
 * same expert. A backend failure moves on to the next-ranked expert.
 *
 * Its experts may tokenize differently, so the router has no token ids of its own: its tokens
 * are code points (`tokenize`, `detokenize`, `LogLikelihood.tokens`), its next-token candidates
 * are the expert's proposals as text (`token: null`), each scored by the expert's
 * `logLikelihood` — the router's own — so the two agree. `greedy` is the expert's, whose
 * generation the router's is. Generation's `maxTokens` bounds the expert's tokens; the finish
 * chunk reports no counts (they would be the expert's, not the router's); an `experts` chunk
 * names the expert that answers. A chat (`generateChat`) is routed on its plain layout and
 * answered by the pick as it takes chats: with its own template where it has one.
 */
export function createRouterModel(router: Router, members: ReadonlyMap<string, LanguageModel>, options: RouterModelOptions): LanguageModel & { route(text: string): RouteDecision } {
  for (const expert of router.options.experts) {
    if (!members.has(expert)) throw new ConfigError([`router '${options.id}': expert '${expert}' is not among its members`]);
  }
  const cache = new Map<string, RouteDecision>();
  const route = (text: string): RouteDecision => {
    let decision = cache.get(text);
    if (!decision) {
      decision = router.route(text);
      if (cache.size > 1000) cache.delete(cache.keys().next().value!);
      cache.set(text, decision);
    }
    options.onRoute?.(text, decision);
    return decision;
  };
  const candidates = (text: string): LanguageModel[] =>
    route(text).ranked.slice(0, options.fallbacks ?? Infinity).map((r) => members.get(r.expert)!);

  async function withFallback<T>(text: string, call: (model: LanguageModel) => Promise<T>): Promise<T> {
    const failures: string[] = [];
    for (const model of candidates(text)) {
      try {
        return await call(model);
      } catch (error) {
        if (!(error instanceof BackendError)) throw error;
        failures.push(error.message);
      }
    }
    throw new BackendError(options.id, `every routed expert failed: ${failures.join("; ")}`);
  }

  async function* routedGeneration(text: string, generate: (model: LanguageModel) => AsyncIterable<GenerateChunk>): AsyncGenerator<GenerateChunk> {
    const failures: string[] = [];
    for (const model of candidates(text)) {
      let started = false;
      try {
        for await (const chunk of generate(model)) {
          // The pick is known once it answers (an expert that fails first is passed over);
          // a composite pick's own report stays inside.
          if (!started) yield { type: "experts", ids: [model.id] };
          started = true;
          if (chunk.type === "experts") continue;
          yield chunk.type === "finish" ? { type: "finish", reason: chunk.reason } : chunk;
        }
        return;
      } catch (error) {
        // Once text has gone out, another expert cannot take over mid-answer.
        if (started || !(error instanceof BackendError)) throw error;
        failures.push(error.message);
      }
    }
    throw new BackendError(options.id, `every routed expert failed: ${failures.join("; ")}`);
  }

  return {
    id: options.id,
    route,
    tokenize: codePointTokens,
    detokenize: codePointText,
    nextTokenLogprobs: (context: string, topK: number): Promise<TokenLogprob[]> =>
      withFallback(context, async (m) => {
        const proposals = (await m.nextTokenLogprobs(context, topK)).map((t) => t.text);
        return scoredCandidates(proposals, async (text) => (await m.logLikelihood(context, text)).logprob, topK);
      }),
    logLikelihood: (context: string, continuation: string): Promise<LogLikelihood> =>
      withFallback(context || continuation, async (m) => {
        const ll = await m.logLikelihood(context, continuation);
        // The expert's per-token ids are not the router's: they stay inside.
        return { logprob: ll.logprob, tokens: codePointCount(continuation), bytes: ll.bytes, greedy: ll.greedy };
      }),
    generate: (prompt: string, generateOptions?: GenerateOptions) => routedGeneration(prompt, (model) => model.generate(prompt, generateOptions)),
    // Routed on the plain layout (the text `generate` would get); the pick answers as it takes a chat.
    generateChat: (messages: readonly ChatTurn[], generateOptions?: GenerateOptions) =>
      routedGeneration(plainChat(messages), (model) => generateFrom(model, chatInput(model, messages), generateOptions)),
    async close() {},
  };
}
