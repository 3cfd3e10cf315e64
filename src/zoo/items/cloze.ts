/**
 * Cloze on held-out text, four-way multiple choice: one word of a held-out line is masked and
 * the choices are that word and three other words, each followed by the same few words of the
 * line, so a model scores the masked word in its full local context:
 *
 *   context  "psoriasis: a chronic skin disease characterized by dry red"
 *   choices  [" patches covered with scales", " rhythms covered with scales", ...]
 *
 * The masked word is a lower-case content word of 4–12 letters after the headword, that shares
 * no stem with any other word of the line (no copy cue). Distractors are words of exactly the
 * same length from the domain's held-out vocabulary, sharing no stem with the line's words or
 * with each other, and sharing exactly as many character 4-grams with the context as the true
 * word does: neither length nor overlap with the context can tell the choices apart.
 */
import { Rng } from "../../core/rng.js";
import type { CorpusRecord } from "../corpora/record.js";
import { placeAnswer, shuffled, type MultipleChoiceJson } from "./item.js";
import { charNgrams, CUE_NGRAM, isStopWord, shareStem, sharedNgramCount, words } from "./text.js";

export const CLOZE_TASK = "zoo-cloze";
/** Words after the masked one that every choice carries. */
export const CLOZE_SUFFIX_WORDS = 4;
/** The masked word starts within this many characters of the line's start (long passages). */
export const CLOZE_MAX_CONTEXT = 300;

const MASKABLE = /^[a-z]{4,12}$/;

export function clozeItems(domain: string, heldOut: readonly CorpusRecord[], rng: Rng, limit: number): MultipleChoiceJson[] {
  const byLength = new Map<number, string[]>();
  const vocabulary = new Set<string>();
  for (const r of heldOut) for (const w of r.definition.split(" ")) if (MASKABLE.test(w) && !isStopWord(w)) vocabulary.add(w);
  for (const w of [...vocabulary].sort()) {
    const list = byLength.get(w.length) ?? [];
    list.push(w);
    byLength.set(w.length, list);
  }
  const items: MultipleChoiceJson[] = [];
  for (const record of shuffled(heldOut, rng)) {
    if (items.length >= limit) break;
    const prefixLength = record.text.length - record.definition.length;
    const tokens = record.text.split(" ");
    const starts: number[] = [];
    let at = 0;
    for (const t of tokens) {
      starts.push(at);
      at += t.length + 1;
    }
    const lineWords = words(record.text);
    const eligible = tokens
      .map((t, k) => k)
      .filter((k) => k >= 3 && starts[k] >= prefixLength && starts[k] <= CLOZE_MAX_CONTEXT && k + CLOZE_SUFFIX_WORDS < tokens.length)
      .filter((k) => MASKABLE.test(tokens[k]) && !isStopWord(tokens[k]))
      .filter((k) => lineWords.filter((w) => shareStem(w, tokens[k])).length === 1);
    if (eligible.length === 0) continue;
    const k = eligible[rng.int(eligible.length)];
    const word = tokens[k];
    const suffix = " " + tokens.slice(k + 1, k + 1 + CLOZE_SUFFIX_WORDS).join(" ");
    const context = record.text.slice(0, starts[k] - 1);
    const contextGrams = charNgrams(context, CUE_NGRAM);
    const overlap = (w: string) => sharedNgramCount(contextGrams, " " + w + suffix, CUE_NGRAM);
    const target = overlap(word);
    const candidates = byLength.get(word.length) ?? [];
    const chosen: string[] = [];
    // Walk the same-length words from a random offset: lazy, so only a few are tested.
    const offset = rng.int(Math.max(candidates.length, 1));
    for (let j = 0; j < candidates.length && chosen.length < 3; j++) {
      const w = candidates[(offset + j) % candidates.length];
      if (w === word || chosen.some((c) => shareStem(c, w)) || lineWords.some((l) => shareStem(l, w))) continue;
      if (overlap(w) === target) chosen.push(w);
    }
    if (chosen.length < 3) continue;
    const { choices, answer } = placeAnswer(" " + word + suffix, chosen.map((w) => " " + w + suffix), rng);
    items.push({
      id: `${domain}/cloze/${record.id}`,
      domain,
      task: CLOZE_TASK,
      context,
      choices,
      answer,
    });
  }
  return items;
}
