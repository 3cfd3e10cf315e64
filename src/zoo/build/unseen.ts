/**
 * The zoo's ninth domain (ZOO_UNSEEN_DOMAIN), built the way the eight are — WordNet records, the
 * same hash split, the same item generators and seeds — but trained on by no zoo model: the
 * domain on which new experts made by `cogen adapt` are measured. Its records are claimed after
 * the eight domains', and any record whose definition appears anywhere in the eight (train or
 * held out) is dropped, so neither its train text nor its held-out items were ever seen.
 *
 * In a zoo folder:
 *   unseen/<domain>.train.txt       its train text (for `cogen adapt lora --data`)
 *   unseen/<domain>.heldout.jsonl   its held-out records {id, key, headword, definition, text, source}
 *   unseen/items/<kind>.jsonl       its held-out items (src/formats/tasks.ts)
 *   manifest.json → unseen          name, sizes, hashes and item files
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { writeDirAtomic, writeFileAtomic } from "../../core/atomic.js";
import { InputFileError } from "../../core/errors.js";
import { defaultDataDirs, domainRecords, splitCorpus, type BuildCorpusOptions, type Corpus } from "../corpora/build.js";
import { ZOO_DOMAINS, ZOO_UNSEEN_DOMAIN } from "../corpora/domains.js";
import { readFactbook } from "../corpora/factbook.js";
import { readWordNet } from "../corpora/wordnet.js";
import { generateItems, ITEM_FILES, ITEM_KINDS, type ItemKind, type ZooItems } from "../items/generate.js";
import { toJsonl } from "../items/item.js";

export interface UnseenDomainEntry {
  name: string;
  description: string;
  trainFile: string;
  heldOutFile: string;
  trainBytes: number;
  trainHash: string;
  heldOutRecords: number;
  /** Records dropped because their definition appears in one of the eight domains. */
  droppedShared: number;
  items: Record<ItemKind, { file: string; count: number }>;
}

export interface UnseenDomain {
  corpus: Corpus;
  items: ZooItems;
  droppedShared: number;
}

export async function buildUnseenDomain(options: BuildCorpusOptions & { perDomain?: number } = {}): Promise<UnseenDomain> {
  const defaults = options.wordnetDir && options.factbookDir ? undefined : defaultDataDirs();
  const wordnet = await readWordNet(options.wordnetDir ?? defaults!.wordnetDir);
  const countries = await readFactbook(options.factbookDir ?? defaults!.factbookDir);
  const specs = [...ZOO_DOMAINS, ZOO_UNSEEN_DOMAIN];
  const records = domainRecords(wordnet, countries, specs);
  const known = new Set(records.slice(0, ZOO_DOMAINS.length).flat().map((r) => r.definition));
  const own = records[ZOO_DOMAINS.length].filter((r) => !known.has(r.definition));
  const corpus = splitCorpus([ZOO_UNSEEN_DOMAIN], [own], options);
  const items = generateItems(corpus, { seed: options.seed, perDomain: options.perDomain });
  return { corpus, items, droppedShared: records[ZOO_DOMAINS.length].length - own.length };
}

/** Write the unseen domain into a built zoo and record it in its manifest (files first, then the manifest). */
export async function writeUnseenDomain(zooDir: string, options: BuildCorpusOptions & { perDomain?: number } = {}): Promise<UnseenDomainEntry> {
  const manifestFile = path.join(zooDir, "manifest.json");
  const manifest = await readManifestObject(manifestFile);
  const data = manifest.data as { seed?: number } | undefined;
  const plan = manifest.plan as { itemsPerDomain?: number } | undefined;
  const built = await buildUnseenDomain({ seed: data?.seed, perDomain: plan?.itemsPerDomain, ...options });
  const entry = unseenEntry(built);
  await writeDirAtomic(path.join(zooDir, "unseen"), async (tmp) => {
    const domain = built.corpus.domains[0];
    await fs.writeFile(path.join(tmp, `${domain.name}.train.txt`), domain.trainText);
    await fs.writeFile(path.join(tmp, `${domain.name}.heldout.jsonl`), toJsonl(domain.heldOut));
    await fs.mkdir(path.join(tmp, "items"));
    for (const kind of ITEM_KINDS) await fs.writeFile(path.join(tmp, "items", ITEM_FILES[kind]), toJsonl(built.items[kind]));
  });
  await writeFileAtomic(manifestFile, JSON.stringify({ ...manifest, unseen: entry }, null, 2) + "\n");
  return entry;
}

export function unseenEntry(built: UnseenDomain): UnseenDomainEntry {
  const domain = built.corpus.domains[0];
  return {
    name: domain.name,
    description: domain.description,
    trainFile: `unseen/${domain.name}.train.txt`,
    heldOutFile: `unseen/${domain.name}.heldout.jsonl`,
    trainBytes: domain.stats.trainBytes,
    trainHash: createHash("sha256").update(domain.trainText).digest("hex"),
    heldOutRecords: domain.heldOut.length,
    droppedShared: built.droppedShared,
    items: Object.fromEntries(ITEM_KINDS.map((k) => [k, { file: `unseen/items/${ITEM_FILES[k]}`, count: built.items[k].length }])) as UnseenDomainEntry["items"],
  };
}

async function readManifestObject(file: string): Promise<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fs.readFile(file, "utf8"));
  } catch (error) {
    throw new InputFileError(file, `cannot read the zoo manifest: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new InputFileError(file, "not a zoo manifest");
  if ((parsed as { format?: unknown }).format !== "cogen-zoo/1") throw new InputFileError(file, 'not a zoo manifest (format must be "cogen-zoo/1")');
  if ((parsed as { complete?: unknown }).complete !== true) throw new InputFileError(file, "the zoo build is not complete; finish it before adding the unseen domain");
  return parsed as Record<string, unknown>;
}
