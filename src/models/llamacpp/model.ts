/**
 * A LanguageModel over a local GGUF file through llama.cpp (node-llama-cpp). Every file (model
 * and LoRA adapter) is validated before llama.cpp sees it, since llama.cpp aborts the process on
 * some malformed files. Log-likelihoods come from the full next-token distributions
 * (`controlledEvaluate` with probabilities); the KV cache is reused across calls that share a
 * token prefix (the choices of one multiple-choice item share their context), and the last few
 * next-token distributions are remembered by the tokens they follow, so scoring a one-token
 * continuation right after `nextTokenLogprobs` of the same context evaluates nothing (a
 * token-level ensemble scores its candidates this way; candidates that share their first tokens
 * reuse the distributions after them too). Inputs longer than the context are cut from the left,
 * and long continuations are scored in windows, as lm-evaluation-harness does.
 */
import * as os from "node:os";
import { promises as fs } from "node:fs";
import type { LlamaContext, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import { BackendError, ConfigError } from "../../core/errors.js";
import { freshSeed } from "../../core/rng.js";
import type { ChatPrompt, ChatTurn, GenerateChunk, GenerateOptions, LanguageModel, LogLikelihood, SequenceToken, TokenLogprob } from "../../core/language-model.js";
import { utf8Length } from "../../core/language-model.js";
import { vocabTokenBytes } from "../../formats/hf/token-bytes.js";
import { sequenceStart } from "../../formats/sequence-start.js";
import { Limiter } from "../limiter.js";
import { StopMatcher } from "../stop.js";
import { tokenByteSpans } from "./spans.js";
import { chatRenderer } from "./chat.js";
import { acquireBaseModel, type GpuChoice } from "./runtime.js";
import { stableCutter } from "./stable-cut.js";
import { validateGgufForLlamaCpp } from "./validate.js";

export interface LlamaCppModelSettings {
  id: string;
  /** A local GGUF file. */
  path: string;
  /** A runtime LoRA adapter (GGUF) applied with `scale` (default 1). */
  lora?: { path: string; scale?: number };
  /** Default: 1 for small models (a second thread contends with Node's own), else cores − 1. */
  threads?: number;
  /**
   * Default: the context the model was trained on (its GGUF's `<arch>.context_length`), capped at
   * 2048 to bound memory. An override may be smaller, never larger: positions past the trained
   * ones were never seen, and scores there measure nothing the model learned.
   */
  contextSize?: number;
  /** CPU by default; "auto" uses a GPU when llama.cpp finds one. */
  gpu?: GpuChoice;
}

/** Files below this size get one thread by default. */
const SMALL_MODEL_BYTES = 512 * 1024 * 1024;
const DEFAULT_MAX_TOKENS = 256;
/** Next-token distributions remembered per model (each is a map over the vocabulary). */
const REMEMBERED_DISTRIBUTIONS = 4;
/** Texts whose tokens are remembered (an ensemble step tokenizes its context plus each of ~8 candidates). */
const REMEMBERED_TOKENIZATIONS = 32;
/** Short texts (what follows a cut: a word and a candidate) whose tokens are remembered, and how long "short" is. */
const REMEMBERED_SHORT_TOKENIZATIONS = 4096;
const SHORT_TEXT_CHARACTERS = 64;
/** Chats rendered by `formatChat` whose tokens are remembered for the generation that follows. */
const REMEMBERED_CHATS = 16;
/** float32 probabilities underflow to 0; score such a token as the smallest positive float32. */
const MIN_LOGPROB = Math.log(1.4e-45);

export interface LlamaCppModel extends LanguageModel {
  readonly model: LlamaModel;
  readonly contextSize: number;
}

/** Contexts default to the trained context up to this many tokens (a larger KV cache costs memory). */
const DEFAULT_CONTEXT_CAP = 2048;

/**
 * The context a model is opened with: `requested` when given (a whole number from 1 to the
 * trained context), else the trained context up to DEFAULT_CONTEXT_CAP. `trained` is 0 where the
 * GGUF states none; any positive size is then accepted.
 */
export function chooseContextSize(id: string, requested: number | undefined, trained: number): number {
  if (requested === undefined) return Math.min(DEFAULT_CONTEXT_CAP, trained || DEFAULT_CONTEXT_CAP);
  const problems: string[] = [];
  if (!Number.isInteger(requested) || requested < 1) problems.push(`context_size must be a whole number of tokens, at least 1; got ${requested}`);
  else if (trained > 0 && requested > trained) {
    problems.push(`context_size ${requested} is longer than the ${trained} positions the model was trained on (its GGUF's context_length): ` +
      `positions past them were never seen, so scores there measure nothing learned; use at most ${trained}, or leave context_size out to get ${Math.min(DEFAULT_CONTEXT_CAP, trained)}`);
  }
  if (problems.length > 0) throw new ConfigError(problems, `expert '${id}'`);
  return requested;
}

export async function createLlamaCppModel(settings: LlamaCppModelSettings): Promise<LlamaCppModel> {
  const backend = `llamacpp(${settings.id})`;
  if (settings.contextSize !== undefined) chooseContextSize(settings.id, settings.contextSize, 0);
  const { size: vocabulary, vocab } = await validateGgufForLlamaCpp(settings.path);
  if (settings.lora) await validateGgufForLlamaCpp(settings.lora.path, "adapter");
  const size = (await fs.stat(settings.path)).size;
  const gpu = settings.gpu ?? false;
  const base = await acquireBaseModel(settings.path, gpu);
  const model = base.model;
  let context: LlamaContext;
  let contextSize: number;
  try {
    contextSize = chooseContextSize(settings.id, settings.contextSize, model.trainContextSize);
    const threads = settings.threads ?? (size < SMALL_MODEL_BYTES ? 1 : Math.max(1, os.availableParallelism() - 1));
    context = await model.createContext({
      // node-llama-cpp keeps one cell free (a sequence that fills its context is shifted: its first
      // half erased), so `contextSize` tokens at positions 0..contextSize-1 need one cell more.
      contextSize: contextSize + 1,
      threads,
      sequences: 1,
      ...(settings.lora ? { lora: { adapters: [{ filePath: settings.lora.path, scale: settings.lora.scale ?? 1 }] } } : {}),
    });
  } catch (error) {
    await base.release();
    if (ConfigError.isInstance(error)) throw error;
    throw new BackendError(backend, `cannot create a context: ${(error as Error).message}`);
  }
  const sequence: LlamaContextSequence = context.getSequence();
  const lock = new Limiter(1);
  let closed = false;
  // The one start rule (src/formats/sequence-start.ts), shared with cogen's forward pass.
  const startTokens = { addBos: model.tokens.shouldPrependBosToken, bos: model.tokens.bos, eos: model.tokens.eos };
  /** What a non-empty context starts from: BOS only where the GGUF asks for it. */
  const prefix: Token[] = sequenceStart(startTokens, false);
  /** What an empty context starts from: BOS, or end-of-text for models without BOS (as lm-eval does). */
  const documentStart: Token[] = sequenceStart(startTokens, true);

  // Chats rendered by the model's own template, by their text: their special tokens stay special.
  const renderChat = chatRenderer(model);
  const renderedChats = new Map<string, Token[]>();
  /**
   * The last context, cut where appending cannot change its tokens (stable-cut.ts): its tokens are
   * `head` + the tokens of `tail`, and a text extending it — the context plus a candidate, the
   * next step's context — is tokenized from the cut on (or from its own end, where what is
   * appended starts at a cut), a few characters instead of the whole text.
   */
  const cutter = stableCutter(vocab);
  let anchor: { text: string; tokens: readonly Token[]; head: readonly Token[]; tail: string } | undefined;
  /** Short texts' tokens (what follows a cut; candidates recur from step to step). */
  const shortTokens = new Map<string, readonly Token[]>();
  const tokenizeShort = (text: string): readonly Token[] => {
    if (text.length > SHORT_TEXT_CHARACTERS) return model.tokenize(text, false);
    let tokens = shortTokens.get(text);
    if (!tokens) {
      tokens = model.tokenize(text, false);
      if (shortTokens.size >= REMEMBERED_SHORT_TOKENIZATIONS) shortTokens.delete(shortTokens.keys().next().value!);
      shortTokens.set(text, tokens);
    }
    return tokens;
  };
  const tokenizeWhole = (text: string): readonly Token[] => {
    if (!anchor || !cutter || !text.startsWith(anchor.text)) return model.tokenize(text, false);
    const at = anchor.text.length;
    if (cutter.isCut(text, at)) return [...anchor.tokens, ...tokenizeShort(cutter.tail(text, at))];
    return [...anchor.head, ...tokenizeShort(anchor.tail + text.slice(at))];
  };
  const anchorAt = (text: string, tokens: readonly Token[]) => {
    const at = cutter?.lastCut(text) ?? -1;
    if (at < 0) {
      if (anchor && !text.startsWith(anchor.text)) anchor = undefined;
      return;
    }
    const tail = cutter!.tail(text, at);
    const tailTokens = tokenizeShort(tail);
    // The whole text's tokens end with the tail's, as the cut promises; otherwise texts are tokenized whole.
    const head = tokens.length - tailTokens.length;
    let agrees = head >= 0;
    for (let i = 0; agrees && i < tailTokens.length; i++) agrees = tokens[head + i] === tailTokens[i];
    anchor = agrees ? { text, tokens, head: tokens.slice(0, head), tail } : undefined;
  };
  /**
   * Recent texts' tokens. A token-level ensemble scores `context + candidate` for each candidate
   * and then asks about `context + chosen` — a text tokenized a moment ago; tokenizing is a pure
   * function of the text, so a remembered result is exact.
   */
  const tokenized = new Map<string, readonly Token[]>();
  const tokenize = (text: string): readonly Token[] => {
    let tokens = tokenized.get(text);
    if (!tokens) {
      tokens = tokenizeWhole(text);
      if (tokenized.size >= REMEMBERED_TOKENIZATIONS) tokenized.delete(tokenized.keys().next().value!);
      tokenized.set(text, tokens);
    }
    return tokens;
  };
  const ownTokens = (text: string): readonly Token[] => {
    const rendered = renderedChats.get(text);
    if (rendered) return rendered;
    const tokens = tokenize(text);
    anchorAt(text, tokens);
    return tokens;
  };

  // The last context's tokens: a candidate-scoring caller asks about one context many times.
  let lastText: string | undefined;
  let lastTokens: readonly Token[] = [];
  const tokensOf = (text: string): readonly Token[] => {
    if (text !== lastText) {
      const tokens = [...prefix, ...ownTokens(text)];
      lastTokens = tokens.length > 0 ? tokens : [...documentStart];
      lastText = text;
    }
    return lastTokens;
  };
  const pieces = new Map<Token, string>();
  const pieceOf = (token: Token): string => {
    let text = pieces.get(token);
    if (text === undefined) {
      text = model.detokenize([token], false);
      pieces.set(token, text);
    }
    return text;
  };
  const checkOpen = () => {
    if (closed) throw new BackendError(backend, "model is closed");
  };
  const checkIds = (ids: readonly number[]) => {
    for (const t of ids) {
      if (!Number.isInteger(t) || t < 0 || (vocabulary > 0 && t >= vocabulary)) throw new BackendError(backend, `token id ${t} is outside the vocabulary`);
    }
  };
  /** Raw bytes of a token from the GGUF vocabulary (llama.cpp's detokenize renders partial UTF-8 as U+FFFD). */
  const bytesOf = (token: number): Uint8Array => (vocab ? vocabTokenBytes(vocab, token) : Buffer.from(model.detokenize([token as Token], false), "utf8"));

  /**
   * Distributions after recent token sequences (from position 0 of the window), newest last. A
   * distribution depends only on the tokens before it, so a remembered one is what evaluating
   * them again would give.
   */
  const remembered: { tokens: readonly Token[]; probabilities: Map<Token, number> }[] = [];
  /** Index of the entry remembered after tokens[0..length), compared from the end (where recent ones differ); no key is built. */
  const find = (tokens: readonly Token[], length: number): number =>
    remembered.findIndex((entry) => {
      if (entry.tokens.length !== length) return false;
      for (let i = length - 1; i >= 0; i--) if (entry.tokens[i] !== tokens[i]) return false;
      return true;
    });
  const remember = (tokens: readonly Token[], length: number, probabilities: Map<Token, number>) => {
    const at = find(tokens, length);
    if (at >= 0) remembered.splice(at, 1);
    else if (remembered.length >= REMEMBERED_DISTRIBUTIONS) remembered.shift();
    remembered.push({ tokens: tokens.slice(0, length), probabilities });
  };
  /** A remembered distribution, kept as the newest (the context of a step outlives its candidates'). */
  const recall = (tokens: readonly Token[], length: number): Map<Token, number> | undefined => {
    const at = find(tokens, length);
    if (at < 0) return undefined;
    const [entry] = remembered.splice(at, 1);
    remembered.push(entry);
    return entry.probabilities;
  };

  /**
   * Make the sequence hold tokens[0..keep) (reusing what is cached) and return `keep`, the index
   * of the first token still to evaluate; `keep` is at most `needFrom`, the first position whose
   * next-token distribution is needed.
   */
  async function reuse(tokens: Token[], needFrom: number): Promise<number> {
    const current = sequence.contextTokens;
    let common = 0;
    while (common < current.length && common < tokens.length && current[common] === tokens[common]) common++;
    const keep = Math.min(common, needFrom);
    if (keep < current.length) await sequence.eraseContextTokenRanges([{ start: keep, end: current.length }]);
    return keep;
  }

  async function logLikelihood(contextText: string, continuation: string): Promise<LogLikelihood> {
    checkOpen();
    return lock.run(async () => {
      const ctx = contextText === "" ? documentStart : tokensOf(contextText);
      const whole = [...(contextText === "" ? documentStart : prefix), ...tokenize(contextText + continuation)];
      let common = 0;
      while (common < ctx.length && common < whole.length && ctx[common] === whole[common]) common++;
      return scoreTokens(whole, common, utf8Length(continuation));
    });
  }

  async function logLikelihoodTokens(contextTokens: number[], continuationTokens: number[]): Promise<LogLikelihood> {
    checkOpen();
    checkIds([...contextTokens, ...continuationTokens]);
    return lock.run(async () => {
      // As with text, the document starts with BOS where the model adds one.
      const start = contextTokens.length > 0 ? [...prefix, ...(contextTokens as Token[])] : documentStart;
      const whole = [...start, ...(continuationTokens as Token[])];
      return scoreTokens(whole, start.length, continuationTokens.reduce((n, t) => n + bytesOf(t).length, 0));
    });
  }

  /** log P(whole[common..] | whole[..common]); the caller holds the lock. */
  async function scoreTokens(whole: Token[], firstTarget: number, bytes: number): Promise<LogLikelihood> {
    // The first token of the input has no distribution before it.
    const common = Math.max(firstTarget, 1);
    if (common >= whole.length) return { logprob: 0, tokens: 0, bytes, greedy: true };
    // Targets are scored in windows of at most `contextSize` tokens of input. One window when it
    // all fits (a too-long context is cut from the left, as lm-eval does); past that, disjoint
    // blocks of targets each conditioned on the tokens of its own window (lm-eval's rolling
    // windows for long documents).
    const window = contextSize;
    let logprob = 0;
    let greedy = true;
    const ids: number[] = [];
    const logprobs: number[] = [];
    for (let first = common; first < whole.length; first += window) {
      const end = Math.min(first + window, whole.length);
      const from = Math.max(0, end - 1 - window);
      const evalTokens = whole.slice(from, end - 1);
      const needFrom = first - 1 - from;
      // distributions[j]: after evalTokens[0..needFrom + j]. Any may be remembered (the first
      // after a step's context; later ones where candidates share their first tokens), but no more
      // than REMEMBERED_DISTRIBUTIONS can be, so longer continuations look up only the first.
      const needed = evalTokens.length - needFrom;
      const distributions: (Map<Token, number> | undefined)[] = [];
      for (let j = 0; j < (needed <= REMEMBERED_DISTRIBUTIONS ? needed : 1); j++) distributions.push(recall(evalTokens, needFrom + 1 + j));
      const firstMissing = distributions.findIndex((d) => !d);
      const evalFrom = needFrom + (firstMissing >= 0 ? firstMissing : distributions.length);
      if (evalFrom < evalTokens.length) {
        const start = await reuse(evalTokens, evalFrom);
        const input = evalTokens.slice(start).map((token, j) =>
          start + j >= evalFrom ? ([token, { generateNext: { probabilities: true } }] as [Token, { generateNext: { probabilities: true } }]) : token,
        );
        const out = await sequence.controlledEvaluate(input);
        for (let j = evalFrom; j < evalTokens.length; j++) distributions[j - needFrom] = out[j - start]?.next.probabilities;
        const last = distributions[evalTokens.length - 1 - needFrom];
        if (last) remember(evalTokens, evalTokens.length, last);
      }
      for (let i = first - 1; i < end - 1; i++) {
        const probabilities = distributions[i - from - needFrom];
        if (!probabilities) throw new BackendError(backend, `llama.cpp returned no probabilities at token ${i}`);
        const target = whole[i + 1];
        const p = probabilities.get(target) ?? 0;
        const lp = p > 0 ? Math.log(p) : MIN_LOGPROB;
        logprob += lp;
        ids.push(target as unknown as number);
        logprobs.push(lp);
        const top = probabilities.keys().next().value;
        if (top !== target && (probabilities.get(top as Token) ?? 0) > p) greedy = false;
      }
    }
    return { logprob, tokens: whole.length - common, bytes, greedy, perToken: { ids, logprobs } };
  }

  async function nextTokenLogprobs(contextText: string, topK: number): Promise<TokenLogprob[]> {
    checkOpen();
    return lock.run(() => nextAfter(tokensOf(contextText), topK));
  }

  async function nextTokenLogprobsTokens(contextTokens: number[], topK: number): Promise<TokenLogprob[]> {
    checkOpen();
    checkIds(contextTokens);
    return lock.run(() => nextAfter(contextTokens.length > 0 ? [...prefix, ...(contextTokens as Token[])] : [...documentStart], topK));
  }

  /** The top next tokens after `all` (BOS included); the caller holds the lock. */
  async function nextAfter(all: readonly Token[], topK: number): Promise<TokenLogprob[]> {
    // A context longer than the window is cut from the left.
    const tokens = all.slice(-contextSize);
    let probabilities = recall(tokens, tokens.length);
    if (!probabilities) {
      const start = await reuse(tokens, tokens.length - 1);
      const input = tokens.slice(start).map((token, j) =>
        start + j === tokens.length - 1 ? ([token, { generateNext: { probabilities: true } }] as [Token, { generateNext: { probabilities: true } }]) : token,
      );
      const out = await sequence.controlledEvaluate(input);
      probabilities = out[input.length - 1]?.next.probabilities;
      if (!probabilities) throw new BackendError(backend, "llama.cpp returned no probabilities");
      remember(tokens, tokens.length, probabilities);
    }
    const result: TokenLogprob[] = [];
    for (const [token, p] of probabilities) {
      if (result.length >= topK) break;
      result.push({ token, text: pieceOf(token), logprob: p > 0 ? Math.log(p) : MIN_LOGPROB });
    }
    return result;
  }

  /**
   * One pass over BOS + the text's tokens with the distribution after every token. The cache is
   * cleared first, so a text's numbers never depend on what was evaluated before (a resumed run
   * reproduces them exactly).
   */
  async function sequenceTopK(text: string, k: number): Promise<SequenceToken[]> {
    checkOpen();
    return lock.run(async () => {
      const own = model.tokenize(text, false);
      if (own.length === 0) return [];
      const whole = [...documentStart, ...own];
      if (whole.length - 1 > contextSize) {
        throw new BackendError(backend, `the text has ${own.length} tokens (+${documentStart.length} at the start); the context holds ${contextSize}`);
      }
      await reuse([], 0);
      const input = whole.slice(0, -1).map((token) => [token, { generateNext: { probabilities: true } }] as [Token, { generateNext: { probabilities: true } }]);
      const out = await sequence.controlledEvaluate(input);
      const texts = own.map(pieceOf);
      const spans = tokenByteSpans(text, texts, (from, to) => model.detokenize(own.slice(from, to), false));
      const result: SequenceToken[] = [];
      for (let i = 0; i < own.length; i++) {
        const probabilities = out[i]?.next.probabilities;
        if (!probabilities) throw new BackendError(backend, `llama.cpp returned no probabilities at token ${i}`);
        const p = probabilities.get(own[i]) ?? 0;
        const top: TokenLogprob[] = [];
        for (const [token, q] of probabilities) {
          if (top.length >= k) break;
          top.push({ token, text: pieceOf(token), logprob: q > 0 ? Math.log(q) : MIN_LOGPROB });
        }
        result.push({ token: own[i], text: texts[i], start: spans[i], end: spans[i + 1], logprob: p > 0 ? Math.log(p) : MIN_LOGPROB, top });
      }
      return result;
    });
  }

  async function* generate(prompt: string, options: GenerateOptions = {}): AsyncGenerator<GenerateChunk> {
    checkOpen();
    const release = await lock.acquire();
    try {
      const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS;
      // A prompt that leaves no room to generate is cut from the left, as lm-eval does.
      const tokens = tokensOf(prompt).slice(-Math.max(1, contextSize - maxTokens));
      if (options.signal?.aborted) {
        yield { type: "finish", reason: "abort" };
        return;
      }
      const start = await reuse(tokens, tokens.length - 1);
      const stop = new StopMatcher(options.stop ?? []);
      const generated: Token[] = [];
      let emitted = "";
      let reason: "stop" | "length" | "abort" = "length";
      const temperature = options.temperature ?? 0;
      const iterator = sequence.evaluate(tokens.slice(start), {
        temperature,
        ...(options.topP !== undefined ? { topP: options.topP } : {}),
        // node-llama-cpp's default seed is the clock in seconds: calls within a second would repeat.
        seed: options.seed ?? freshSeed(),
      });
      for await (const token of iterator) {
        if (options.signal?.aborted) {
          reason = "abort";
          break;
        }
        if (model.isEogToken(token)) {
          reason = "stop";
          break;
        }
        generated.push(token);
        if (tokens.length + generated.length >= contextSize) {
          reason = "length";
          break;
        }
        // Detokenize the whole generation so multi-token UTF-8 characters come out whole.
        const text = model.detokenize(generated, false);
        const settled = text.endsWith("\uFFFD") ? text.slice(0, text.lastIndexOf("\uFFFD")) : text;
        if (settled.length > emitted.length && settled.startsWith(emitted)) {
          const piece = stop.push(settled.slice(emitted.length));
          emitted = settled;
          if (piece) yield { type: "text", text: piece };
        }
        if (stop.done) {
          reason = "stop";
          break;
        }
        if (generated.length >= maxTokens) break;
      }
      await iterator.return(undefined);
      if (!stop.done && reason !== "abort") {
        const text = model.detokenize(generated, false);
        const piece = stop.push(text.slice(emitted.length)) + stop.flush();
        if (piece) yield { type: "text", text: piece };
        if (stop.done) reason = "stop";
      }
      // The prompt's own tokens as `tokenize` counts them (no BOS), of those the model saw.
      yield { type: "finish", reason, tokens: generated.length, promptTokens: Math.min(ownTokens(prompt).length, tokens.length) };
    } finally {
      release();
    }
  }

  return {
    id: settings.id,
    model,
    contextSize,
    async tokenize(text: string) {
      checkOpen();
      return model.tokenize(text, false) as number[];
    },
    async detokenize(tokens: number[]) {
      checkOpen();
      return model.detokenize(tokens as Token[], false);
    },
    async tokenBytes(tokens: number[]) {
      checkOpen();
      checkIds(tokens);
      return tokens.map(bytesOf);
    },
    nextTokenLogprobs,
    nextTokenLogprobsTokens,
    logLikelihood,
    logLikelihoodTokens,
    sequenceTopK,
    generate,
    formatChat(messages: readonly ChatTurn[]): ChatPrompt | undefined {
      checkOpen();
      if (!renderChat) return undefined;
      const { tokens, stop } = renderChat(messages);
      const prompt = model.detokenize(tokens, true);
      if (renderedChats.size >= REMEMBERED_CHATS) renderedChats.delete(renderedChats.keys().next().value!);
      renderedChats.set(prompt, tokens);
      return { prompt, stop, promptTokens: tokens.length };
    },
    async close() {
      if (closed) return;
      closed = true;
      remembered.length = 0;
      tokenized.clear();
      shortTokens.clear();
      anchor = undefined;
      await lock.run(async () => {
        await context.dispose();
        await base.release();
      });
    },
  };
}
