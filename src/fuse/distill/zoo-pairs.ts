/**
 * Preference pairs on the zoo from its TRAINING split only: the zoo's cloze construction
 * (src/zoo/items/cloze.ts) run on each domain's training records instead of its held-out ones —
 * prompt = a training line up to a masked word, chosen = the true word and the next few words,
 * rejected = a same-length distractor word of the same domain's training vocabulary with the
 * same next words. Held-out records are never read, so no test item can leak into training.
 */
import { Rng, seedFromLabel } from "../../core/rng.js";
import type { Corpus } from "../../zoo/corpora/build.js";
import { clozeItems } from "../../zoo/items/cloze.js";
import type { PreferencePair } from "./prefs.js";

export function zooTrainingPairs(corpus: Pick<Corpus, "domains">, perDomain: number, seed: number): (PreferencePair & { id: string; domain: string })[] {
  const pairs: (PreferencePair & { id: string; domain: string })[] = [];
  for (const domain of corpus.domains) {
    const rng = new Rng(seedFromLabel(`zoo-pairs/${seed}/${domain.name}`));
    for (const item of clozeItems(domain.name, domain.train, rng, perDomain)) {
      const wrong = item.choices.map((_, i) => i).filter((i) => i !== item.answer);
      const rejected = item.choices[wrong[rng.int(wrong.length)]];
      pairs.push({ id: item.id.replace("/cloze/", "/train-pair/"), domain: domain.name, prompt: item.context, chosen: item.choices[item.answer], rejected });
    }
  }
  return pairs;
}
