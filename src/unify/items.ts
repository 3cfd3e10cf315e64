import type { TaskItem } from "../formats/tasks.js";

/**
 * The held-out items, split in two by a hash of the item id: `dev` items are the evidence that
 * ranks the models and trains the router; `test` items judge every model, single and unified.
 * Nothing is judged on items that shaped it. The split is deterministic and depends on the id
 * alone (not on the file's order or the other items): an item goes to dev when the 32-bit FNV-1a
 * hash of `demo-split/<id>` is even, to test when it is odd. Each domain, kind and side may be
 * capped (for time), in file order; bits-per-byte passages may be cut at a word boundary.
 */
export interface SplitItems {
  dev: TaskItem[];
  test: TaskItem[];
}

export interface SplitOptions {
  /** Items kept per domain, kind and side (default: all). */
  perDomainAndKind?: number;
  /** Bits-per-byte passages longer than this are cut at a word boundary (default: kept whole). */
  maxPassageChars?: number;
}

/** 32-bit FNV-1a over UTF-16 code units. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Which side an item id falls on. (The salt keeps the split the demo has always used.) */
export function sideOf(id: string): "dev" | "test" {
  return hash(`demo-split/${id}`) % 2 === 0 ? "dev" : "test";
}

export function splitItems(items: readonly TaskItem[], options: SplitOptions = {}): SplitItems {
  const cap = options.perDomainAndKind ?? Number.MAX_SAFE_INTEGER;
  const maxChars = options.maxPassageChars ?? Number.MAX_SAFE_INTEGER;
  const dev: TaskItem[] = [];
  const test: TaskItem[] = [];
  const counts = new Map<string, number>();
  for (const item of items) {
    const side = sideOf(item.id);
    const key = `${side}/${item.domain}/${item.kind}`;
    const n = counts.get(key) ?? 0;
    if (n >= cap) continue;
    counts.set(key, n + 1);
    const kept = item.kind === "bits_per_byte" ? { ...item, text: cutAtWord(item.text, maxChars) } : item;
    (side === "dev" ? dev : test).push(kept);
  }
  return { dev, test };
}

/** The first `max` characters of a text, ending at a word boundary when there is one. */
export function cutAtWord(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.lastIndexOf(" ", max);
  return text.slice(0, cut > max / 2 ? cut : max);
}
