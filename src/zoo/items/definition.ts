/**
 * Definition → headword, four-way multiple choice, on held-out WordNet lines:
 *
 *   context  "Definition: a chronic skin disease characterized by ...\nWord:"
 *   choices  [" psoriasis", " eczema", " impetigo", " lupus"]
 *
 * Distractors are other held-out headwords of the same domain (so no choice was trained on):
 * the two nearest by TF-IDF of their definitions, plus one at random. Items whose definition
 * leaks its headword (leak.ts) are rejected, and so are distractors whose headword leaks into the
 * definition, shares a stem with the answer, or whose definition is near-identical to it.
 *
 * Surface cues are balanced, not just filtered: every distractor shares exactly as many character
 * 4-grams with the context as the answer does, and the number of distractors longer than the
 * answer is drawn uniformly from 0..3 (none of equal length), so "pick the longest" and "pick
 * the shortest" are right a quarter of the time by construction.
 */
import { Rng } from "../../core/rng.js";
import type { CorpusRecord } from "../corpora/record.js";
import { placeAnswer, shuffled, type MultipleChoiceJson } from "./item.js";
import { leak } from "./leak.js";
import { buildTfIdf, neighbours } from "./tfidf.js";
import { charNgrams, contentWords, CUE_NGRAM, shareStem, sharedNgramCount } from "./text.js";

export const DEFINITION_TASK = "zoo-definition";
/** Definitions at least this similar (cosine) to the answer's are likely synonyms: not distractors. */
export const MAX_DISTRACTOR_SIMILARITY = 0.8;
const NEAR = 2;
const CHOICES = 4;
/** Candidates needed on each side of the answer's length before an item is attempted. */
const FEASIBLE = 6;

export function definitionItems(domain: string, heldOut: readonly CorpusRecord[], rng: Rng, limit: number): MultipleChoiceJson[] {
  const pool = heldOut.filter((r) => r.source === "wordnet");
  const index = buildTfIdf(pool.map((r) => r.definition));
  const items: MultipleChoiceJson[] = [];
  for (const i of shuffled(pool.map((_, k) => k), rng)) {
    if (items.length >= limit) break;
    const record = pool[i];
    if (leak(record.headword, record.definition)) continue;
    const context = `Definition: ${record.definition}\nWord:`;
    const grams = charNgrams(context, CUE_NGRAM);
    const target = sharedNgramCount(grams, " " + record.headword, CUE_NGRAM);
    // Draw the number of longer distractors only for items where every number is possible, so
    // that which items survive does not depend on the draw (a skip after the draw would bias it).
    let longerPool = 0;
    let shorterPool = 0;
    for (const c of pool) {
      if (c.headword.length === record.headword.length || sharedNgramCount(grams, " " + c.headword, CUE_NGRAM) !== target) continue;
      if (c.headword.length > record.headword.length) longerPool++;
      else shorterPool++;
    }
    if (longerPool < FEASIBLE || shorterPool < FEASIBLE) continue;
    const longer = rng.int(CHOICES);
    const chosen: string[] = [];
    const fits = (candidate: CorpusRecord): boolean => {
      const h = candidate.headword;
      const all = [record.headword, ...chosen];
      if (h.length === record.headword.length || all.some((c) => c.toLowerCase() === h.toLowerCase())) return false;
      const isLonger = h.length > record.headword.length;
      const longerSoFar = chosen.filter((c) => c.length > record.headword.length).length;
      if (isLonger ? longerSoFar >= longer : chosen.length - longerSoFar >= CHOICES - 1 - longer) return false;
      if (candidate.definition === record.definition || leak(h, record.definition)) return false;
      if (sharedNgramCount(grams, " " + h, CUE_NGRAM) !== target) return false;
      return !all.some((c) => contentWords(c).some((a) => contentWords(h).some((b) => shareStem(a, b))));
    };
    for (const n of neighbours(index, i, 40)) {
      if (chosen.length >= NEAR) break;
      if (n.similarity < MAX_DISTRACTOR_SIMILARITY && fits(pool[n.doc])) chosen.push(pool[n.doc].headword);
    }
    for (let attempt = 0; attempt < 100 && chosen.length < CHOICES - 1; attempt++) {
      const candidate = pool[rng.int(pool.length)];
      if (candidate !== record && fits(candidate)) chosen.push(candidate.headword);
    }
    if (chosen.length < CHOICES - 1) continue;
    const { choices, answer } = placeAnswer(" " + record.headword, chosen.map((h) => " " + h), rng);
    items.push({
      id: `${domain}/definition/${record.id}`,
      domain,
      task: DEFINITION_TASK,
      context,
      choices,
      answer,
    });
  }
  return items;
}
