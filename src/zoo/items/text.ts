/** Small text helpers shared by the item generators: words, stop words, crude stems, n-grams. */

const STOP_WORDS = new Set(
  ("a an the and or but of in on at to for from by with without as is are was were be been being it its this that these those " +
    "which who whom whose what when where how than then there their them they he she his her him we you your our not no nor " +
    "so such into onto over under about above below between among through during before after up down out off very more most " +
    "any all some each other another one two also used use especially usually often sometimes can may might will would should " +
    "having has have had do does did etc e g i ie something someone").split(" "),
);

export function isStopWord(word: string): boolean {
  return STOP_WORDS.has(word.toLowerCase());
}

/** Lower-cased runs of letters and digits. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** Words of three or more letters that are not stop words. */
export function contentWords(text: string): string[] {
  return words(text).filter((w) => w.length >= 3 && !isStopWord(w));
}

/** Minimum shared prefix for two different words to count as sharing a stem. */
export const STEM_PREFIX = 5;

/**
 * Crude stem match: one word is a prefix of the other (the shorter having at least three
 * letters: "law"/"lawyer"), or they share a prefix of `STEM_PREFIX` letters ("surgeon"/"surgery").
 */
export function shareStem(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const shorter = x.length <= y.length ? x : y;
  const longer = shorter === x ? y : x;
  if (shorter.length >= 3 && longer.startsWith(shorter)) return true;
  let i = 0;
  while (i < shorter.length && x[i] === y[i]) i++;
  return i >= STEM_PREFIX;
}

/** Length of the longest common substring of two strings (case-insensitive). */
export function longestCommonSubstring(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let best = 0;
  let previous = new Uint16Array(y.length + 1);
  let current = new Uint16Array(y.length + 1);
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      current[j] = x[i - 1] === y[j - 1] ? previous[j - 1] + 1 : 0;
      if (current[j] > best) best = current[j];
    }
    [previous, current] = [current, previous];
    current.fill(0);
  }
  return best;
}

/** The set of character n-grams of a lower-cased text. */
export function charNgrams(text: string, n: number): Set<string> {
  const t = text.toLowerCase();
  const grams = new Set<string>();
  for (let i = 0; i + n <= t.length; i++) grams.add(t.slice(i, i + n));
  return grams;
}

/** How many distinct character n-grams of `choice` also occur in `context` (case-insensitive). */
export function sharedNgramCount(context: string | Set<string>, choice: string, n: number): number {
  const grams = typeof context === "string" ? charNgrams(context, n) : context;
  let count = 0;
  for (const g of charNgrams(choice, n)) if (grams.has(g)) count++;
  return count;
}

/** The character n-gram length that the surface-cue checks use. */
export const CUE_NGRAM = 4;
