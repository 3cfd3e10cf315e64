/**
 * The zoo's preference pairs, from TRAINING lines only (never held-out items): the one pair
 * builder behind `cogen distill pairs --zoo` and the FPO pivot's records (zoo-fpo.ts). The zoo's
 * cloze construction (src/zoo/items/cloze.ts) runs on each domain's training lines, in the test
 * cloze's exact format — prompt = a line up to a masked word, chosen = the true word and the next
 * few words, rejected = a same-length distractor of the domain's training vocabulary with the same
 * next words. One sentence gives up to three pairs (one per distractor).
 */
import { Rng, seedFromLabel } from "../../core/rng.js";
import type { CorpusRecord } from "../../zoo/corpora/record.js";
import { clozeItems } from "../../zoo/items/cloze.js";
import type { PreferencePair } from "./prefs.js";

export interface ZooPairsOptions {
  seed: number;
  /** Training sentences per domain (each gives `distractors` pairs). */
  perDomain: number;
  /** Pairs per sentence, 1–3 (default 1). */
  distractors?: number;
}

export interface ZooPair extends PreferencePair {
  /** "<domain>/train-pair/train/<domain>/<line>/<distractor>": the training line it was cut from. */
  id: string;
  domain: string;
}

/** The cloze pairs of every domain's training lines (`lines`: one corpus line each, "headword: definition"). */
export function zooClozePairs(domains: readonly { domain: string; lines: readonly string[] }[], options: ZooPairsOptions): ZooPair[] {
  const distractors = options.distractors ?? 1;
  if (!(Number.isInteger(distractors) && distractors >= 1 && distractors <= 3)) throw new RangeError(`distractors must be 1, 2 or 3 (got ${distractors})`);
  const pairs: ZooPair[] = [];
  for (const { domain, lines } of domains) {
    const rng = new Rng(seedFromLabel(`pivot-prefs/${options.seed}/${domain}`));
    const corpus: CorpusRecord[] = lines.map((text, i) => {
      const colon = text.indexOf(": ");
      const headword = colon > 0 ? text.slice(0, colon) : text;
      return { id: `train/${domain}/${i}`, key: headword, headword, definition: colon > 0 ? text.slice(colon + 2) : text, text, source: "wordnet" };
    });
    for (const item of clozeItems(domain, corpus, rng, options.perDomain)) {
      const n = item.choices.length;
      // The first distractor is drawn; the others follow it in choice order.
      const first = (item.answer + 1 + rng.int(n - 1)) % n;
      const wrong: number[] = [];
      for (let j = 0; wrong.length < Math.min(distractors, n - 1); j++) {
        const i = (first + j) % n;
        if (i !== item.answer) wrong.push(i);
      }
      const id = item.id.replace("/cloze/", "/train-pair/");
      wrong.forEach((i, j) => pairs.push({ id: `${id}/${j}`, domain, prompt: item.context, chosen: item.choices[item.answer]!, rejected: item.choices[i]! }));
    }
  }
  return pairs;
}
