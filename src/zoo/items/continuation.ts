/**
 * Continuation of held-out text, four-way multiple choice: a held-out line is cut at a word
 * boundary; the true choice is the span of words that follows, the others are spans cut from
 * other held-out lines of the same domain, drawn from the `SOURCE_NEIGHBOURS` lines nearest to it
 * by TF-IDF (so their vocabulary is alike; nearer sources make the true span share slightly fewer
 * character n-grams with the context than the distractors do, random sources slightly more):
 *
 *   context  "psoriasis: a chronic skin disease characterized by"
 *   choices  [" dry red patches covered with", " a small amount of the drug", ...]
 *
 * What a tiny byte-level model learns (spelling, local statistics of its domain) is enough to
 * prefer the true span, but no surface cue gives it away: every span starts at a word boundary
 * after a lower-case word, starts with a lower-case letter, is `SPAN_CHARS` to `SPAN_CHARS` +
 * `SPAN_SLACK` characters long (one length bucket), ends at a word boundary, and is never the
 * end of its line.
 */
import { Rng } from "../../core/rng.js";
import type { CorpusRecord } from "../corpora/record.js";
import { placeAnswer, shuffled, type MultipleChoiceJson } from "./item.js";
import { buildTfIdf, neighbours } from "./tfidf.js";

export const CONTINUATION_TASK = "zoo-continuation";
export const SPAN_CHARS = 28;
export const SPAN_SLACK = 6;
/** The cut falls within this many characters of the line's start (long passages). */
export const CONTINUATION_MAX_CONTEXT = 300;
const MIN_CONTEXT_WORDS = 4;
const SOURCE_NEIGHBOURS = 50;

interface Span {
  /** Index of the span's first token. */
  start: number;
  text: string;
}

/** Spans of whole tokens starting at token `start`: " w1 w2 ..." of SPAN_CHARS..+SPAN_SLACK characters, not reaching the end. */
function spanAt(tokens: string[], start: number): Span | undefined {
  if (start < 1 || !/^[a-z]/.test(tokens[start]) || !/[a-z]$/.test(tokens[start - 1])) return undefined;
  let text = "";
  let k = start;
  while (k < tokens.length && text.length < SPAN_CHARS) text += " " + tokens[k++];
  if (k >= tokens.length || text.length > SPAN_CHARS + SPAN_SLACK) return undefined;
  return { start, text };
}

export function continuationItems(domain: string, heldOut: readonly CorpusRecord[], rng: Rng, limit: number): MultipleChoiceJson[] {
  const pool = [...heldOut];
  const tokenised = pool.map((r) => r.text.split(" "));
  const prefixTokens = pool.map((r) => r.text.slice(0, r.text.length - r.definition.length).split(" ").length - 1);
  const index = buildTfIdf(pool.map((r) => r.definition));
  const spansOf = (i: number, maxStartChars: number): Span[] => {
    const tokens = tokenised[i];
    const spans: Span[] = [];
    let at = 0;
    for (let k = 0; k < tokens.length && at <= maxStartChars; k++) {
      if (k >= prefixTokens[i] + 1) {
        const span = spanAt(tokens, k);
        if (span) spans.push(span);
      }
      at += tokens[k].length + 1;
    }
    return spans;
  };
  const items: MultipleChoiceJson[] = [];
  for (const i of shuffled(pool.map((_, k) => k), rng)) {
    if (items.length >= limit) break;
    const record = pool[i];
    const own = spansOf(i, CONTINUATION_MAX_CONTEXT).filter((s) => s.start >= MIN_CONTEXT_WORDS);
    if (own.length === 0) continue;
    const truth = own[rng.int(own.length)];
    const sources = neighbours(index, i, SOURCE_NEIGHBOURS).map((n) => n.doc).filter((d) => pool[d].key !== record.key);
    const chosen: string[] = [];
    const pick = (candidates: number[], want: number) => {
      for (const d of candidates) {
        if (chosen.length >= want) break;
        const spans = spansOf(d, Infinity).filter((s) => s.text !== truth.text && !chosen.includes(s.text));
        if (spans.length > 0) chosen.push(spans[rng.int(spans.length)].text);
      }
    };
    pick(shuffled(sources, rng), 3);
    if (chosen.length < 3) continue;
    const { choices, answer } = placeAnswer(truth.text, chosen, rng);
    items.push({
      id: `${domain}/continuation/${record.id}`,
      domain,
      task: CONTINUATION_TASK,
      context: tokenised[i].slice(0, truth.start).join(" "),
      choices,
      answer,
    });
  }
  return items;
}
