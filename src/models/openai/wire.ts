/**
 * Pure mapping between OpenAI-compatible wire formats and the LanguageModel types. No I/O.
 */
import { BackendError, ContextLengthError } from "../../core/errors.js";
import type { LogLikelihood, SequenceToken, TokenLogprob } from "../../core/language-model.js";
import { utf8Length } from "../../core/language-model.js";

/** The `logprobs` object of a legacy /v1/completions choice. */
interface CompletionLogprobs {
  tokens?: string[];
  token_logprobs?: (number | null)[];
  top_logprobs?: (Record<string, number> | null)[] | null;
  text_offset?: number[];
}

const GREEDY_EPSILON = 1e-6;

function firstChoice(response: unknown, backend: string, what: string): Record<string, unknown> {
  const choices = (response as { choices?: unknown })?.choices;
  if (!Array.isArray(choices) || choices.length === 0 || typeof choices[0] !== "object" || choices[0] === null) {
    throw new BackendError(backend, `${what}: response has no choices`);
  }
  return choices[0] as Record<string, unknown>;
}

/** Python-style string length (code points), which is what servers' text_offset counts. */
export function codePointLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * Score `continuation` from a /v1/completions response to prompt = context + continuation with
 * `echo: true, logprobs: 1, max_tokens: 1`. Prompt tokens are those starting before the prompt's
 * end; continuation tokens are the prompt tokens that contain any continuation character (so a
 * token straddling the boundary counts for the continuation, as in lm-evaluation-harness).
 */
export function echoLogLikelihood(response: unknown, context: string, continuation: string, backend: string): LogLikelihood {
  const choice = firstChoice(response, backend, "log-likelihood");
  const lp = choice.logprobs as CompletionLogprobs | null | undefined;
  const noEcho = `the server returned no prompt log-probabilities, so it cannot score log-likelihoods ` +
    `(it must support /v1/completions with echo and logprobs, as vLLM does)`;
  if (!lp || !Array.isArray(lp.token_logprobs) || !Array.isArray(lp.text_offset) || !Array.isArray(lp.tokens)) {
    throw new BackendError(backend, noEcho);
  }
  const contextChars = codePointLength(context);
  const promptChars = contextChars + codePointLength(continuation);
  const { offsets, promptTokens, shift } = echoedPrompt(response, lp as Required<CompletionLogprobs>, promptChars, backend, noEcho);
  const contextEnd = contextChars + shift;
  const promptEnd = promptChars + shift;
  let logprob = 0;
  let tokens = 0;
  let greedy = true;
  for (let i = 0; i < promptTokens; i++) {
    const end = i + 1 < offsets.length ? offsets[i + 1] : promptEnd;
    if (end <= contextEnd) continue;
    const value = lp.token_logprobs[i];
    if (value === null || value === undefined) {
      if (i === 0 && (lp.tokens[0] ?? "") !== "" && contextEnd === 0) {
        throw new BackendError(backend, `cannot score the first token of a document: the server adds no BOS token; give a non-empty context`);
      }
      if (i === 0) continue;
      throw new BackendError(backend, `log-likelihood: token ${i} has no log-probability`);
    }
    logprob += value;
    tokens++;
    const top = lp.top_logprobs?.[i];
    if (top) {
      const best = Math.max(...Object.values(top));
      if (best > value + GREEDY_EPSILON) greedy = false;
    } else {
      greedy = false;
    }
  }
  return { logprob, tokens, bytes: utf8Length(continuation), greedy };
}

/**
 * OpenAI (and cogen's gateway) show a token holding part of a UTF-8 character as `bytes:\xNN…`;
 * as a TokenLogprob's text that is the partial sequence rendered with U+FFFD.
 */
export function fromBytesForm(text: string): string {
  const match = /^bytes:((?:\\x[0-9a-fA-F]{2})+)$/.exec(text);
  if (!match) return text;
  return Buffer.from(match[1].split("\\x").filter(Boolean).map((h) => parseInt(h, 16))).toString("utf8");
}

/**
 * Where an echoed prompt's tokens are: how many of the response's tokens are the prompt's (the
 * server's own count when it reports usage, else those that start before the prompt's end), and
 * the shift of its text offsets when a server renders special tokens (BOS as "<s>") into them.
 */
function echoedPrompt(response: unknown, lp: Required<CompletionLogprobs>, promptChars: number, backend: string, noEcho: string):
  { offsets: number[]; count: number; promptTokens: number; shift: number } {
  const offsets = lp.text_offset;
  const count = Math.min(offsets.length, lp.tokens.length, lp.token_logprobs.length);
  // How many tokens are the prompt's: the server's own count when it reports usage, else those
  // that start before the prompt's end.
  const usage = (response as { usage?: { prompt_tokens?: unknown } }).usage?.prompt_tokens;
  let promptTokens = 0;
  if (typeof usage === "number" && Number.isInteger(usage) && usage > 0) {
    if (usage > count) throw new BackendError(backend, noEcho);
    let starting = 0;
    while (starting < count && offsets[starting] < promptChars) starting++;
    if (usage < starting) {
      // The server evaluated fewer tokens than it echoed: it cut the prompt, as servers do with
      // a prompt longer than their context, so these log-probabilities are not the prompt's.
      throw new ContextLengthError(backend, `the server echoed ${starting} prompt tokens but counted usage.prompt_tokens = ${usage}: ` +
        `it cut the prompt, most likely because it is longer than the server's context`);
    }
    promptTokens = usage;
  } else {
    while (promptTokens < count && offsets[promptTokens] < promptChars) promptTokens++;
  }
  if (promptTokens === 0) throw new BackendError(backend, noEcho);
  // Some servers render special tokens (BOS as "<s>") into the offsets; measure that shift at the
  // prompt's end, where the echoed token texts must line up with the prompt.
  const promptTextEnd = promptTokens < count ? offsets[promptTokens] : offsets[count - 1] + codePointLength(lp.tokens[count - 1]);
  const shift = promptTextEnd - promptChars;
  if (shift < 0 || offsets[0] !== 0) throw new BackendError(backend, noEcho);
  return { offsets, count, promptTokens, shift };
}

/**
 * Every token of `text` with its top-k from a /v1/completions response to prompt = text with
 * `echo: true, logprobs: k` (vLLM returns prompt log-probabilities this way). Text offsets count
 * code points; spans are converted to UTF-8 bytes. A token before the text (BOS) is dropped; the
 * first text token has NaN log-probability when the server gives none (no BOS).
 */
export function echoSequenceTopK(response: unknown, text: string, k: number, backend: string, noTopK: string): SequenceToken[] {
  const choice = firstChoice(response, backend, "sequence top-k");
  const lp = choice.logprobs as CompletionLogprobs | null | undefined;
  if (!lp || !Array.isArray(lp.token_logprobs) || !Array.isArray(lp.text_offset) || !Array.isArray(lp.tokens) || !Array.isArray(lp.top_logprobs)) {
    throw new BackendError(backend, noTopK);
  }
  const chars = [...text];
  const byteAt = [0];
  for (const c of chars) byteAt.push(byteAt[byteAt.length - 1] + utf8Length(c));
  const { offsets, count, promptTokens, shift } = echoedPrompt(response, lp as Required<CompletionLogprobs>, chars.length, backend, noTopK);
  const clamp = (cp: number) => byteAt[Math.max(0, Math.min(chars.length, cp - shift))];
  const result: SequenceToken[] = [];
  for (let i = 0; i < promptTokens; i++) {
    const endCp = i + 1 < count ? offsets[i + 1] : chars.length + shift;
    // BOS: before the text, no log-probability of its own.
    if (i === 0 && endCp <= shift && i + 1 < promptTokens) continue;
    const value = lp.token_logprobs[i];
    const top = lp.top_logprobs?.[i];
    if ((value === null || value === undefined) !== (top === null || top === undefined)) throw new BackendError(backend, noTopK);
    result.push({
      token: null,
      text: fromBytesForm(lp.tokens[i]),
      start: clamp(offsets[i]),
      end: clamp(Math.min(endCp, chars.length + shift)),
      logprob: value ?? Number.NaN,
      top: top ? Object.entries(top).map(([t, l]) => ({ token: null, text: fromBytesForm(t), logprob: l })).sort((a, b) => b.logprob - a.logprob).slice(0, k) : [],
    });
  }
  return result;
}

/** Top next-token candidates from a /v1/completions response with `logprobs: k, max_tokens: 1`. */
export function topLogprobs(response: unknown, topK: number, backend: string): TokenLogprob[] {
  const choice = firstChoice(response, backend, "next-token log-probabilities");
  const lp = choice.logprobs as CompletionLogprobs | null | undefined;
  const top = lp?.top_logprobs?.[0];
  if (!top) throw new BackendError(backend, "the server returned no top log-probabilities");
  return Object.entries(top)
    .map(([text, logprob]) => ({ token: null, text: fromBytesForm(text), logprob }))
    .sort((a, b) => b.logprob - a.logprob)
    .slice(0, topK);
}

/** One streamed chunk of /v1/completions or /v1/chat/completions. */
export function streamDelta(data: string, chat: boolean, backend: string): { text: string; finish: string | null; usage?: { prompt_tokens?: number; completion_tokens?: number } } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    throw new BackendError(backend, `stream: event is not JSON: ${data.slice(0, 100)}`);
  }
  const error = (parsed as { error?: { message?: string } }).error;
  if (error) throw new BackendError(backend, `stream: ${error.message ?? JSON.stringify(error)}`);
  const usage = (parsed as { usage?: { prompt_tokens?: number; completion_tokens?: number } | null }).usage ?? undefined;
  const choices = (parsed as { choices?: unknown[] }).choices;
  if (!Array.isArray(choices) || choices.length === 0) return { text: "", finish: null, usage };
  const choice = choices[0] as { text?: string; delta?: { content?: string | null }; finish_reason?: string | null };
  const text = chat ? choice.delta?.content ?? "" : choice.text ?? "";
  return { text, finish: choice.finish_reason ?? null, usage };
}

/** The answer of a non-streaming /v1/completions or /v1/chat/completions response. */
export function completionAnswer(response: unknown, chat: boolean, backend: string): { text: string; finish: string | null; usage?: { prompt_tokens?: number; completion_tokens?: number } } {
  const choice = firstChoice(response, backend, "generation") as { text?: unknown; message?: { content?: unknown } | null; finish_reason?: string | null };
  const text = chat ? choice.message?.content ?? "" : choice.text ?? "";
  if (typeof text !== "string") throw new BackendError(backend, `generation: the response's ${chat ? "message content" : "text"} is not a string`);
  const usage = (response as { usage?: { prompt_tokens?: number; completion_tokens?: number } | null }).usage ?? undefined;
  return { text, finish: choice.finish_reason ?? null, usage };
}

/**
 * The server's message when an HTTP 4xx error says the prompt does not fit its context, else
 * undefined: OpenAI's `context_length_exceeded` code (as cogen's gateway answers it), llama.cpp
 * server's `exceed_context_size_error`, or vLLM's "maximum context length" wording. The body may
 * be cut short in the error message, so it is matched as text when it is not whole JSON.
 */
export function contextLengthExceeded(message: string): string | undefined {
  const body = /HTTP 4\d\d[^:]*: (.*)$/s.exec(message)?.[1];
  if (!body || !CONTEXT_LENGTH.test(body)) return undefined;
  try {
    const error = (JSON.parse(body) as { error?: { message?: unknown } }).error;
    if (typeof error?.message === "string") return error.message;
  } catch {
    // cut short: read the message field as text below
  }
  const quoted = /"message"\s*:\s*"((?:[^"\\]|\\.)*)/.exec(body)?.[1];
  return quoted ? quoted.replace(/\\(.)/g, "$1") : body;
}

const CONTEXT_LENGTH = /context_length_exceeded|exceed_context_size_error|maximum context length|exceeds the available context size/;

/** Whether an HTTP 4xx error says the server has no chat template for the model (vLLM's refusal of chats to a base model). */
export function lacksChatTemplate(message: string): boolean {
  const body = /HTTP 4\d\d[^:]*: (.*)$/s.exec(message)?.[1];
  return body !== undefined && /chat[ _]template/i.test(body);
}
