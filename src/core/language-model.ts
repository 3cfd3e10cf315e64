/**
 * The LanguageModel contract: the one interface every backend (llama.cpp, an OpenAI-compatible
 * server) and every composite (kNN router, token-level ensemble) implements. A composite of
 * language models is a language model, so anything that accepts one accepts the other.
 *
 * Contexts are text, not token ids, so models with different tokenizers can be compared and
 * combined. Token-level variants exist only where a backend allows them (`tokenize`,
 * `detokenize`, the optional `*Tokens` methods). A model's token ids are its own: a composite
 * whose members tokenize differently has Unicode code points as its tokens (`tokenize`,
 * `detokenize` and `LogLikelihood.tokens` all count code points) and reports next-token
 * candidates as text with `token: null`, never a member's ids. test/models/conformance.ts is the
 * executable form of this contract. This file has no dependencies and must stay small.
 */

/** One candidate next token. */
export interface TokenLogprob {
  /**
   * The token id in this model's vocabulary (`detokenize([token])` gives `text`), or null when
   * the model has no ids to give: remote backends, and composites, whose candidates are strings.
   */
  token: number | null;
  /** The token's text (may be a partial UTF-8 sequence rendered with U+FFFD; composites give whole characters). */
  text: string;
  /** Natural-log probability. */
  logprob: number;
}

/** The log-likelihood of a continuation given a context. */
export interface LogLikelihood {
  /** Sum of natural-log probabilities of the continuation's tokens. */
  logprob: number;
  /** Number of continuation tokens scored, in this model's own tokens (code points for a composite). */
  tokens: number;
  /** UTF-8 byte length of the continuation (the denominator of bits per byte). */
  bytes: number;
  /**
   * True when greedy decoding from the context would produce exactly these tokens — for a
   * composite, when its own temperature-0 generation would produce exactly this text, step by step.
   */
  greedy: boolean;
  /**
   * Where the backend knows them: the scored token ids and each one's log-probability (summing to
   * `logprob`). Lets composites mix members that share a tokenizer token by token.
   */
  perToken?: { ids: number[]; logprobs: number[] };
}

/** One token of a text scored in one pass, with the distribution that predicted it. */
export interface SequenceToken {
  /** The token id, or null when the backend does not expose ids. */
  token: number | null;
  /** The token's text (U+FFFD where it holds part of a UTF-8 character). */
  text: string;
  /**
   * Its UTF-8 byte span [start, end) in the scored text. Spans are contiguous and cover the text;
   * a token holding the first bytes of a character split over several tokens has an empty span at
   * the character's start, the token completing it spans the whole character.
   */
  start: number;
  end: number;
  /** log P(this token | the tokens before it); NaN when the backend has no distribution before it (no BOS). */
  logprob: number;
  /** The k most likely tokens at this position, most likely first (empty where logprob is NaN). */
  top: TokenLogprob[];
}

/** One message of a chat, as OpenAI's chat completions carry it. */
export interface ChatTurn {
  role: "system" | "user" | "assistant" | "tool" | "developer";
  content: string;
}

/** A chat rendered by a model's own template: the prompt to continue, and the texts that end the answer. */
export interface ChatPrompt {
  prompt: string;
  stop: string[];
  /**
   * The prompt's length in tokens as generation sees it (each template marker is one special
   * token, which `tokenize`, reading the prompt as text, would split), where the model knows it.
   */
  promptTokens?: number;
}

export interface GenerateOptions {
  /** Upper bound on generated tokens; backends pick a default when absent. */
  maxTokens?: number;
  /** 0 means greedy (the default). */
  temperature?: number;
  topP?: number;
  /** Generation ends before the first occurrence of any of these strings (not included). */
  stop?: string[];
  /** Sampling with the same seed (and inputs) repeats its text; without one, every call draws a fresh seed. */
  seed?: number;
  signal?: AbortSignal;
  /**
   * The caller reads the text only once generation has ended (a non-streaming answer): a backend
   * may then give it as one chunk (a remote server asked without streaming, cheaper on both sides).
   */
  whole?: boolean;
}

/**
 * Generation is a stream of tagged chunks: text pieces, then exactly one `finish`. A composite
 * says first, before any text, which models answer (`experts`: a router's pick, an ensemble's
 * participants); a stream without it was answered by the model itself.
 */
export type GenerateChunk =
  | { type: "text"; text: string }
  | { type: "experts"; ids: string[] }
  | {
      type: "finish";
      reason: "stop" | "length" | "abort";
      /** Tokens generated, when the backend knows. */
      tokens?: number;
      /** Tokens of the prompt, when the backend knows (saves callers a tokenize round trip). */
      promptTokens?: number;
    };

export interface LanguageModel {
  /** Stable identifier; results and rankings are keyed by it. */
  readonly id: string;
  /**
   * Tokens the model attends to at once (BOS, prompt and generated tokens together), where the
   * backend knows it (llama.cpp); the gateway refuses prompts that do not fit instead of cutting them.
   */
  readonly contextSize?: number;
  /** Token ids of `text` without special tokens (no BOS). */
  tokenize(text: string): Promise<number[]>;
  detokenize(tokens: number[]): Promise<string>;
  /**
   * The `topK` most likely next tokens after `context`, most likely first. For a candidate that
   * `logLikelihood(context, text)` scores as one step (one token, or one composite step), both
   * give the same log-probability.
   */
  nextTokenLogprobs(context: string, topK: number): Promise<TokenLogprob[]>;
  /** Token-level variant of nextTokenLogprobs after exact token ids (an empty context is the start of a document). */
  nextTokenLogprobsTokens?(context: number[], topK: number): Promise<TokenLogprob[]>;
  /**
   * Where a backend knows them, the raw bytes each token decodes to. A token may hold part of a
   * UTF-8 character (byte-fallback and byte-level vocabularies), which its text cannot show.
   */
  tokenBytes?(tokens: number[]): Promise<Uint8Array[]>;
  /**
   * log P(continuation | context). The scored tokens are those of context+continuation after
   * its longest common prefix with the context's own tokens: where the context's tokenization is
   * a prefix (the usual case) this is exactly lm-evaluation-harness's rule, and a token that
   * straddles the boundary counts for the continuation. An empty context means "from the start
   * of a document" (after BOS).
   */
  logLikelihood(context: string, continuation: string): Promise<LogLikelihood>;
  /**
   * Token-level variant, where a backend exposes its vocabulary: log P(continuation | context)
   * for exact token ids (no re-tokenization at the boundary). An empty context means the start
   * of a document. Absent on backends that only take text.
   */
  logLikelihoodTokens?(context: number[], continuation: number[]): Promise<LogLikelihood>;
  /**
   * Whole-sequence top-K, where a backend can score a text in one evaluation pass: every token of
   * `text` (from the start of a document) with its byte span, its own log-probability and the `k`
   * most likely tokens at its position. A text longer than the context is a BackendError (never
   * cut). Absent on composites and backends that cannot give prompt distributions.
   */
  sequenceTopK?(text: string, k: number): Promise<SequenceToken[]>;
  generate(prompt: string, options?: GenerateOptions): AsyncIterable<GenerateChunk>;
  /**
   * The chat as the model's own chat template lays it out, up to where the assistant's answer
   * begins, where the model carries one (a GGUF's `tokenizer.chat_template`); undefined (or
   * absent) when it has none, and callers use a plain layout. Generating from the returned prompt
   * keeps the template's special tokens.
   */
  formatChat?(messages: readonly ChatTurn[]): ChatPrompt | undefined;
  /**
   * Generation from the chat's messages themselves, for a model whose chat template lives
   * elsewhere (an OpenAI-compatible server applies its own). Callers prefer `formatChat`, then
   * this, then a plain layout.
   */
  generateChat?(messages: readonly ChatTurn[], options?: GenerateOptions): AsyncIterable<GenerateChunk>;
  /** Free resources; the model is unusable afterwards. Safe to call twice. */
  close(): Promise<void>;
}

/** Collect a generation stream into its text and finish reason. */
export async function generateText(
  model: LanguageModel,
  prompt: string,
  options?: GenerateOptions,
): Promise<{ text: string; reason: "stop" | "length" | "abort" }> {
  let text = "";
  let reason: "stop" | "length" | "abort" = "stop";
  for await (const chunk of model.generate(prompt, options)) {
    if (chunk.type === "text") text += chunk.text;
    else if (chunk.type === "finish") reason = chunk.reason;
  }
  return { text, reason };
}

/** UTF-8 byte length of a string. */
export function utf8Length(text: string): number {
  return Buffer.byteLength(text, "utf8");
}
