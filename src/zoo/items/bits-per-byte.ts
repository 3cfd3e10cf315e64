/**
 * Held-out text for bits per byte: held-out lines in a seeded order, packed into chunks of at
 * most `chunkBytes` (a line longer than that is its own chunk), one item per chunk.
 */
import { Rng } from "../../core/rng.js";
import type { CorpusRecord } from "../corpora/record.js";
import { shuffled, type BitsPerByteJson } from "./item.js";

export const BITS_PER_BYTE_TASK = "zoo-bits-per-byte";

export function bitsPerByteItems(domain: string, heldOut: readonly CorpusRecord[], rng: Rng, limit: number, chunkBytes: number): BitsPerByteJson[] {
  const items: BitsPerByteJson[] = [];
  let lines: string[] = [];
  let bytes = 0;
  const flush = () => {
    if (lines.length === 0) return;
    items.push({ id: `${domain}/bits-per-byte/${items.length}`, domain, task: BITS_PER_BYTE_TASK, text: lines.join("\n") + "\n" });
    lines = [];
    bytes = 0;
  };
  for (const record of shuffled(heldOut, rng)) {
    if (items.length >= limit) break;
    const size = Buffer.byteLength(record.text) + 1;
    if (bytes > 0 && bytes + size > chunkBytes) flush();
    lines.push(record.text);
    bytes += size;
  }
  if (items.length < limit) flush();
  return items;
}
