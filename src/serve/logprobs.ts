import type { LanguageModel } from "../core/language-model.js";

/** The legacy completions `logprobs` object: one entry per token of `text`. */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: Record<string, number>[] | null;
  text_offset: number[];
}

/**
 * Per-token log-probabilities of `text` following `prefix`, through the LanguageModel contract
 * only (so composites are served like single models): each token is scored as the continuation
 * of everything before it. With `startsDocument`, the first token has no context and gets null,
 * as OpenAI's echo does.
 */
export async function tokenLogprobs(
  model: LanguageModel,
  prefix: string,
  text: string,
  top: number,
  startsDocument: boolean,
  offset = 0,
): Promise<CompletionLogprobs> {
  const ids = await model.tokenize(text);
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: top > 0 ? [] : null, text_offset: [] };
  let before = prefix;
  let position = offset;
  for (let i = 0; i < ids.length; i++) {
    const piece = await model.detokenize([ids[i]]);
    const first = startsDocument && i === 0 && before === "";
    out.tokens.push(piece);
    out.text_offset.push(position);
    out.token_logprobs.push(first ? null : (await model.logLikelihood(before, piece)).logprob);
    if (out.top_logprobs) {
      const candidates = first ? [] : await model.nextTokenLogprobs(before, top);
      out.top_logprobs.push(Object.fromEntries(candidates.map((c) => [c.text, c.logprob])));
    }
    before += piece;
    position += piece.length;
  }
  return out;
}
