/**
 * Does a definition give its headword away? A definition → headword item is useless when the
 * answer can be read off the definition's surface. Three tests, each named in the result:
 *
 * - "stem": a content word of the headword shares a stem with a word of the definition
 *   ("psoriasis" / "psoriatic", "law" / "lawyer");
 * - "substring": headword and definition share a run of `LEAK_SUBSTRING` or more characters
 *   inside one word ("Rhizopogonaceae" / "Rhizopogon");
 * - "acronym": the headword is an acronym of consecutive definition words, or the definition
 *   holds the initials of a multi-word headword ("operating system" / "OS").
 */
import { contentWords, longestCommonSubstring, shareStem, words } from "./text.js";

export const LEAK_SUBSTRING = 5;

export type LeakReason = "stem" | "substring" | "acronym";

export function leak(headword: string, definition: string): LeakReason | undefined {
  const headWords = contentWords(headword);
  const defWords = words(definition);
  const defContent = defWords.filter((w) => w.length >= 3);
  if (headWords.some((h) => defContent.some((d) => shareStem(h, d)))) return "stem";
  const headTokens = words(headword);
  if (headTokens.some((h) => h.length >= LEAK_SUBSTRING && defContent.some((d) => longestCommonSubstring(h, d) >= LEAK_SUBSTRING))) {
    return "substring";
  }
  if (isAcronymLeak(headword, headTokens, defWords)) return "acronym";
  return undefined;
}

function isAcronymLeak(headword: string, headTokens: string[], defWords: string[]): boolean {
  // The headword's initials, as a word of the definition.
  if (headTokens.length >= 2) {
    const initials = headTokens.map((t) => t[0]).join("");
    if (defWords.includes(initials)) return true;
  }
  // An acronym headword ("AIDS", "CPU") spelled by the initials of consecutive definition words,
  // with or without the definition's small words.
  if (!/^[A-Z][A-Z0-9]{1,7}s?$/.test(headword.trim())) return false;
  const compact = headword.trim().replace(/s$/, "").toLowerCase();
  const spells = (tokens: string[]): boolean => tokens.map((t) => t[0]).join("").includes(compact);
  return spells(defWords) || spells(defWords.filter((w) => w.length > 3));
}
