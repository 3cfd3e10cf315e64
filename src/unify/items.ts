import type { TaskItem } from "../formats/tasks.js";

/**
 * The demo's held-out items, split in two by a hash of the item id: `dev` items are the
 * evidence that ranks the models and trains the router; `test` items judge the unified models.
 * Nothing is judged on items that shaped it. Each domain and kind is capped for time.
 */
export interface DemoItems {
  dev: TaskItem[];
  test: TaskItem[];
}

function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function splitDemoItems(items: readonly TaskItem[], perDomainAndKind: number, maxPassageChars = 256): DemoItems {
  const dev: TaskItem[] = [];
  const test: TaskItem[] = [];
  const counts = new Map<string, number>();
  for (const item of items) {
    const side = hash(`demo-split/${item.id}`) % 2 === 0 ? "dev" : "test";
    const key = `${side}/${item.domain}/${item.kind}`;
    const n = counts.get(key) ?? 0;
    if (n >= perDomainAndKind) continue;
    counts.set(key, n + 1);
    const kept = item.kind === "bits_per_byte" ? { ...item, text: cutAtWord(item.text, maxPassageChars) } : item;
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
