import type { LanguageModel, TokenLogprob } from "../core/language-model.js";
import { GatewayError } from "./openai-errors.js";

/** The legacy completions `logprobs` object: one entry per token of the returned text. */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[] | null;
  text_offset: number[];
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A token's text as OpenAI's legacy completions show it: its characters when its bytes are
 * whole UTF-8 characters, else `bytes:` and each byte as `\xNN` (a token holding part of a
 * character, e.g. one of the three bytes of "€").
 */
export function tokenText(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return "bytes:" + [...bytes].map((b) => "\\x" + b.toString(16).padStart(2, "0")).join("");
  }
}

/**
 * Per-token log-probabilities of `completion` after `prompt` (and of the prompt's own tokens
 * with `echo`), through the LanguageModel contract, so composites are served like single
 * models. Tokens are the model's own; each is scored against the true preceding text: by token
 * ids where the model has token-level methods (llama.cpp), else as text (composites, whose
 * tokens are whole code points). `text_offset` counts code points (Python string indices, as
 * OpenAI and vLLM count) of the returned text; a token that starts inside a character gets that
 * character's offset. With `echo`, the first token has no context and gets null, as OpenAI's
 * echo does. Non-echo offsets start at 0, at the completion.
 */
export async function completionLogprobs(model: LanguageModel, prompt: string, completion: string, top: number, echo: boolean): Promise<CompletionLogprobs> {
  const promptIds = await model.tokenize(prompt);
  const completionIds = await model.tokenize(completion);
  const all = [...promptIds, ...completionIds];
  const first = echo ? 0 : promptIds.length; // where in `all` the returned tokens begin
  const text = echo ? prompt + completion : completion;
  const bytes = await tokenBytesOf(model, all.slice(first), text);
  const texts = bytes.map(tokenText);
  const tokenLevel = model.logLikelihoodTokens !== undefined;
  // A token that splits a character cannot be scored, nor followed, as text.
  const needsIds = !tokenLevel || (top > 0 && !model.nextTokenLogprobsTokens);
  if (needsIds && texts.some((t) => t.startsWith("bytes:"))) {
    throw new GatewayError(500, "server_error", `the model '${model.id}' has tokens that split a character and no token-level scoring, so it cannot report their log-probabilities`, "logprobs");
  }
  const charOfByte = codePointIndexOfBytes(text);
  const out: CompletionLogprobs = { tokens: texts, token_logprobs: [], top_logprobs: top > 0 ? [] : null, text_offset: [] };
  const scores = tokenLevel ? await scoreIds(model, all, first) : undefined;
  let start = 0; // bytes of `text` before the token
  let before = echo ? "" : prompt; // the true text before the token (text-level models only)
  for (let i = 0; i < texts.length; i++) {
    const position = first + i;
    out.text_offset.push(charOfByte[start]);
    if (position === 0) {
      // The first token of a document has no context: null, as OpenAI's echo gives.
      out.token_logprobs.push(null);
      out.top_logprobs?.push(null);
    } else {
      let score = scores ? scores[i] : (await model.logLikelihood(before, texts[i])).logprob;
      if (out.top_logprobs) {
        const candidates = model.nextTokenLogprobsTokens ? await model.nextTokenLogprobsTokens(all.slice(0, position), top) : await model.nextTokenLogprobs(before, top);
        out.top_logprobs.push(await candidateTexts(model, candidates));
        // A token among the candidates takes its value from the same evaluation, so comparing it
        // with them (is it greedy?) is exact; llama.cpp's batched and incremental evaluations
        // differ in the last float digits.
        const same = candidates.find((c) => c.token !== null && c.token === all[position]);
        if (same) score = same.logprob;
      }
      out.token_logprobs.push(score);
    }
    start += bytes[i].length;
    before += texts[i];
  }
  return out;
}

/** Each token's raw bytes; they must spell `text` exactly. */
async function tokenBytesOf(model: LanguageModel, ids: number[], text: string): Promise<Uint8Array[]> {
  const bytes = model.tokenBytes ? await model.tokenBytes(ids) : await Promise.all(ids.map(async (id) => Buffer.from(await model.detokenize([id]), "utf8")));
  if (!Buffer.concat(bytes).equals(Buffer.from(text, "utf8"))) {
    throw new GatewayError(500, "server_error", `the model '${model.id}' cannot give the raw bytes of its tokens for this text, so it cannot report per-token log-probabilities`, "logprobs");
  }
  return bytes;
}

/** log P(all[p] | all[..p]) for every returned position p ≥ first (the document's first token: null). */
async function scoreIds(model: LanguageModel, all: number[], first: number): Promise<(number | null)[]> {
  const from = Math.max(first, 1);
  const scores: (number | null)[] = new Array(all.length - first).fill(null);
  if (from >= all.length) return scores;
  const ll = await model.logLikelihoodTokens!(all.slice(0, from), all.slice(from));
  const perToken = ll.perToken?.logprobs;
  for (let p = from; p < all.length; p++) {
    scores[p - first] = perToken?.length === all.length - from ? perToken[p - from] : (await model.logLikelihoodTokens!(all.slice(0, p), [all[p]])).logprob;
  }
  return scores;
}

/** A top_logprobs entry: candidates keyed by their text (`bytes:` form for a partial character). */
async function candidateTexts(model: LanguageModel, candidates: TokenLogprob[]): Promise<Record<string, number>> {
  const withIds = candidates.filter((c) => c.token !== null);
  const raw = model.tokenBytes && withIds.length > 0 ? await model.tokenBytes(withIds.map((c) => c.token!)) : [];
  const entries: Record<string, number> = {};
  for (const c of candidates) {
    const index = withIds.indexOf(c);
    const key = index >= 0 && raw.length > 0 ? tokenText(raw[index]) : c.text;
    if (!(key in entries)) entries[key] = c.logprob; // most likely first: a dict keeps the first of equal keys
  }
  return entries;
}

/** For every byte of `text`'s UTF-8 (and one past the end), the index of the code point it belongs to. */
function codePointIndexOfBytes(text: string): number[] {
  const out: number[] = [];
  let index = 0;
  for (const char of text) {
    const n = Buffer.byteLength(char, "utf8");
    for (let k = 0; k < n; k++) out.push(index);
    index++;
  }
  out.push(index);
  return out;
}
