/**
 * WordNet's lexicographer files, by number (lexnames(5WN)): every synset's `lex_filenum` names
 * the file it was written in, which doubles as a coarse semantic category.
 */
export const LEX_NAMES: readonly string[] = [
  "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact", "noun.attribute",
  "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling", "noun.food", "noun.group",
  "noun.location", "noun.motive", "noun.object", "noun.person", "noun.phenomenon", "noun.plant", "noun.possession",
  "noun.process", "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
  "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition", "verb.consumption",
  "verb.contact", "verb.creation", "verb.emotion", "verb.motion", "verb.perception", "verb.possession", "verb.social",
  "verb.stative", "verb.weather", "adj.ppl",
];

export function lexName(lexFile: number): string | undefined {
  return LEX_NAMES[lexFile];
}

/** WordNet pointer symbols the zoo follows (wninput(5WN)). */
export const POINTER = {
  hyponym: "~",
  instanceHyponym: "~i",
  topicDomain: ";c",
} as const;
