import type { TokenLogprob } from "../core/language-model.js";

/**
 * Composites of models with different tokenizers have no vocabulary of their own: they use
 * Unicode code points as tokens, which every member can score as text and which detokenize
 * losslessly. `tokenize`, `detokenize` and `LogLikelihood.tokens` of a composite all count code
 * points; its next-token candidates are strings with `token: null`.
 */
export async function codePointTokens(text: string): Promise<number[]> {
  return Array.from(text, (c) => c.codePointAt(0)!);
}

export async function codePointText(tokens: number[]): Promise<string> {
  for (const t of tokens) {
    if (!Number.isInteger(t) || t < 0 || t > 0x10ffff) throw new RangeError(`token ${t} is not a Unicode code point`);
  }
  return String.fromCodePoint(...tokens);
}

/** How many tokens a composite counts in `text`: its code points. */
export function codePointCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** A proposal can join shared text only if it is whole characters (not a partial UTF-8 piece). */
export function isWholeText(text: string): boolean {
  return text.length > 0 && !text.includes("\ufffd");
}

/**
 * A composite's next-step candidates: each distinct whole-character proposal scored by `score`
 * (the composite's own log-likelihood of that string, so the two always agree), then a
 * prefix-free subset taken most likely first. Strings none of which begins another are disjoint
 * events ("the continuation starts with s"), so their probabilities sum to at most 1 — a
 * proposal that extends or is extended by a likelier one is left out.
 */
export async function scoredCandidates(proposals: readonly string[], score: (text: string) => Promise<number>, topK: number): Promise<TokenLogprob[]> {
  const texts = [...new Set(proposals.filter(isWholeText))];
  // Scored concurrently: members answer in parallel (each backend queues its own calls).
  const logprobs = await Promise.all(texts.map(score));
  const scored: TokenLogprob[] = texts.map((text, i) => ({ token: null, text, logprob: logprobs[i] }));
  scored.sort((a, b) => b.logprob - a.logprob || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
  const kept: TokenLogprob[] = [];
  for (const candidate of scored) {
    if (kept.length >= topK) break;
    if (candidate.logprob === -Infinity) break;
    if (kept.some((k) => k.text.startsWith(candidate.text) || candidate.text.startsWith(k.text))) continue;
    kept.push(candidate);
  }
  return kept;
}
