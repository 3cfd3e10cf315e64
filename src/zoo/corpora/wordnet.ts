/**
 * A strict reader for WordNet's data files (data.noun, data.verb, data.adj, data.adv; wndb(5WN)).
 * Each non-header line is one synset:
 *
 *   offset lex_filenum ss_type w_cnt (word lex_id){w_cnt} p_cnt (symbol offset pos source/target){p_cnt} [frames] | gloss
 *
 * `offset` is 8 decimal digits (the line's byte offset), `lex_filenum` 2 decimal digits, `ss_type`
 * one of n v a s r, `w_cnt` 2 hex digits, `lex_id` 1 hex digit, `p_cnt` 3 decimal digits, and each
 * pointer's source/target 4 hex digits. Header lines (the licence) begin with two spaces.
 */
import * as path from "node:path";
import { InputFileError } from "../../core/errors.js";
import { readTextFile } from "../../core/files.js";
import { lexName } from "./lexnames.js";

export type WordNetPos = "n" | "v" | "a" | "r";
export const WORDNET_DATA_FILES: Record<WordNetPos, string> = { n: "data.noun", v: "data.verb", a: "data.adj", r: "data.adv" };

export interface WordNetPointer {
  symbol: string;
  /** Key of the target synset (see `synsetKey`). */
  target: string;
}

export interface Synset {
  /** `pos` + 8-digit offset, e.g. "n06052606"; adjective satellites use "a". */
  key: string;
  pos: WordNetPos;
  satellite: boolean;
  lexFile: number;
  lexName: string;
  /** Words with underscores turned into spaces and adjective markers such as "(p)" removed. */
  words: string[];
  pointers: WordNetPointer[];
  /** Definition, then any examples, as in the file (trimmed). */
  gloss: string;
}

export function synsetKey(pos: string, offset: string): string {
  return (pos === "s" ? "a" : pos) + offset;
}

export function parseWordNetData(text: string, file: string, pos: WordNetPos): Synset[] {
  const synsets: Synset[] = [];
  let start = 0;
  let line = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    line++;
    const raw = text.slice(start, end);
    start = end + 1;
    if (raw.startsWith("  ") || raw.trim() === "") continue;
    synsets.push(parseLine(raw, (problem) => new InputFileError(file, problem, line), pos));
  }
  if (synsets.length === 0) throw new InputFileError(file, "no synsets");
  return synsets;
}

function parseLine(raw: string, fail: (problem: string) => Error, pos: WordNetPos): Synset {
  const bar = raw.indexOf(" | ");
  const head = bar < 0 ? raw.trimEnd() : raw.slice(0, bar);
  const gloss = bar < 0 ? "" : raw.slice(bar + 3).trim();
  const t = head.split(" ");
  let i = 0;
  const take = (what: string, pattern: RegExp): string => {
    const value = t[i++];
    if (value === undefined) throw fail(`line ends before ${what}`);
    if (!pattern.test(value)) throw fail(`${what} '${value}' is malformed`);
    return value;
  };
  const offset = take("synset_offset", /^\d{8}$/);
  const lexFile = Number(take("lex_filenum", /^\d{2}$/));
  const name = lexName(lexFile);
  if (name === undefined) throw fail(`lex_filenum ${lexFile} is not a lexicographer file`);
  const ssType = take("ss_type", /^[nvasr]$/);
  if ((ssType === "s" ? "a" : ssType) !== pos) throw fail(`ss_type '${ssType}' in a data file for '${pos}'`);
  const wordCount = parseInt(take("w_cnt", /^[0-9a-f]{2}$/i), 16);
  if (wordCount === 0) throw fail("w_cnt is 0");
  const words: string[] = [];
  for (let w = 0; w < wordCount; w++) {
    const word = take("word", /^\S+$/);
    take("lex_id", /^[0-9a-f]$/i);
    words.push(word.replace(/\((?:a|p|ip)\)$/, "").replaceAll("_", " "));
  }
  const pointerCount = Number(take("p_cnt", /^\d{3}$/));
  const pointers: WordNetPointer[] = [];
  for (let p = 0; p < pointerCount; p++) {
    const symbol = take("pointer_symbol", /^[!@~#%;=+\-*>$&<^\\]{1,2}[a-z]?$/);
    const target = take("pointer offset", /^\d{8}$/);
    const targetPos = take("pointer pos", /^[nvasr]$/);
    take("source/target", /^[0-9a-f]{4}$/i);
    pointers.push({ symbol, target: synsetKey(targetPos, target) });
  }
  if (bar < 0) throw fail("no gloss (' | ' separator missing)");
  return { key: synsetKey(ssType, offset), pos, satellite: ssType === "s", lexFile, lexName: name, words, pointers, gloss };
}

export interface WordNet {
  synsets: Map<string, Synset>;
  /** Synsets in file order: nouns, verbs, adjectives, adverbs. */
  ordered: Synset[];
}

/** Read all four data files from a WordNet `dict` directory. */
export async function readWordNet(dictDir: string): Promise<WordNet> {
  const ordered: Synset[] = [];
  for (const pos of ["n", "v", "a", "r"] as const) {
    const file = path.join(dictDir, WORDNET_DATA_FILES[pos]);
    const text = await readTextFile(file);
    ordered.push(...parseWordNetData(text, file, pos));
  }
  const synsets = new Map<string, Synset>();
  for (const s of ordered) synsets.set(s.key, s);
  return { synsets, ordered };
}

/** Every synset reachable from `roots` by the given pointer symbols, roots included. */
export function closure(wordnet: WordNet, roots: Iterable<string>, symbols: readonly string[]): Set<string> {
  const seen = new Set<string>(roots);
  const stack = [...seen];
  while (stack.length > 0) {
    const synset = wordnet.synsets.get(stack.pop()!);
    if (!synset) continue;
    for (const p of synset.pointers) {
      if (symbols.includes(p.symbol) && !seen.has(p.target)) {
        seen.add(p.target);
        stack.push(p.target);
      }
    }
  }
  return seen;
}

/** Synsets whose words include `lemma` (case-insensitive), optionally restricted to one lexicographer file. */
export function findSynsets(wordnet: WordNet, lemma: string, lexNameFilter?: string): Synset[] {
  const wanted = lemma.toLowerCase().replaceAll("_", " ");
  return wordnet.ordered.filter((s) => (lexNameFilter === undefined || s.lexName === lexNameFilter) && s.words.some((w) => w.toLowerCase() === wanted));
}
