/**
 * All zoo evaluation items for a corpus, deterministic for a seed: per domain, definition →
 * headword, cloze and continuation (multiple choice), and bits-per-byte chunks, all drawn from
 * held-out records only. Each generator gets its own random stream per domain, so changing one
 * item type's limit leaves the others' items unchanged.
 */
import { Rng } from "../../core/rng.js";
import { fnv1a32 } from "../split.js";
import type { Corpus } from "../corpora/build.js";
import { bitsPerByteItems } from "./bits-per-byte.js";
import { clozeItems } from "./cloze.js";
import { continuationItems } from "./continuation.js";
import { definitionItems } from "./definition.js";
import type { BitsPerByteJson, MultipleChoiceJson } from "./item.js";

export interface GenerateItemsOptions {
  seed?: number;
  /** Multiple-choice items per domain and type (default 200). */
  perDomain?: number;
  /** Bits-per-byte chunks per domain (default 32). */
  bitsPerByteChunks?: number;
  /** Bytes per bits-per-byte chunk (default 2048). */
  chunkBytes?: number;
}

export interface ZooItems {
  definition: MultipleChoiceJson[];
  cloze: MultipleChoiceJson[];
  continuation: MultipleChoiceJson[];
  bitsPerByte: BitsPerByteJson[];
}

export type ItemKind = keyof ZooItems;
export const ITEM_KINDS: readonly ItemKind[] = ["definition", "cloze", "continuation", "bitsPerByte"];
/** File name of each kind's JSONL. */
export const ITEM_FILES: Record<ItemKind, string> = {
  definition: "definition.jsonl",
  cloze: "cloze.jsonl",
  continuation: "continuation.jsonl",
  bitsPerByte: "bits-per-byte.jsonl",
};

export function generateItems(corpus: Corpus, options: GenerateItemsOptions = {}): ZooItems {
  const seed = options.seed ?? corpus.seed;
  const limit = options.perDomain ?? 200;
  const chunks = options.bitsPerByteChunks ?? 32;
  const chunkBytes = options.chunkBytes ?? 2048;
  const items: ZooItems = { definition: [], cloze: [], continuation: [], bitsPerByte: [] };
  const stream = (domain: string, kind: ItemKind) => new Rng(fnv1a32(`zoo-items/${seed}/${domain}/${kind}`));
  for (const d of corpus.domains) {
    items.definition.push(...definitionItems(d.name, d.heldOut, stream(d.name, "definition"), limit));
    items.cloze.push(...clozeItems(d.name, d.heldOut, stream(d.name, "cloze"), limit));
    items.continuation.push(...continuationItems(d.name, d.heldOut, stream(d.name, "continuation"), limit));
    items.bitsPerByte.push(...bitsPerByteItems(d.name, d.heldOut, stream(d.name, "bitsPerByte"), chunks, chunkBytes));
  }
  return items;
}
