/** One unit of zoo text: a WordNet synset line or a World Factbook passage. */
export interface CorpusRecord {
  /** Stable id: "wordnet/n06052606" or "factbook/fr/climate". */
  id: string;
  /** What the split hashes (see split.ts): the headword, or the country's name for a passage. */
  key: string;
  /** The word a WordNet line defines, or the country a passage describes. */
  headword: string;
  /** The gloss's definition (examples removed) or the passage's text. */
  definition: string;
  /** The line as written to the corpus: "headword: gloss" or "France climate: ...". */
  text: string;
  source: "wordnet" | "factbook";
}

/** Collapse white space (including newlines) to single spaces. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
