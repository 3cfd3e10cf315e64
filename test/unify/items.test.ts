import { describe, expect, it } from "vitest";
import { cutAtWord, splitItems } from "../../src/unify/items.js";
import type { TaskItem } from "../../src/formats/tasks.js";

function items(): TaskItem[] {
  const out: TaskItem[] = [];
  for (const domain of ["law", "food"]) {
    for (let i = 0; i < 30; i++) {
      out.push({ kind: "multiple_choice", id: `${domain}/mc/${i}`, domain, task: "t", context: `q${i}`, choices: [" a", " b"], answer: 0 });
      out.push({ kind: "bits_per_byte", id: `${domain}/bpb/${i}`, domain, task: "t", text: `word${i} `.repeat(40) });
    }
  }
  return out;
}

describe("the demo's dev/test split", () => {
  it("never puts an item on both sides, and keeps every item when the cap allows", () => {
    const all = items();
    const { dev, test } = splitItems(all, { perDomainAndKind: 1000, maxPassageChars: 256 });
    const devIds = new Set(dev.map((i) => i.id));
    expect(test.filter((i) => devIds.has(i.id))).toEqual([]);
    expect(new Set([...dev, ...test].map((i) => i.id))).toEqual(new Set(all.map((i) => i.id)));
    // A hash split, not an alternation: both sides get items, neither gets all.
    expect(dev.length).toBeGreaterThan(all.length / 4);
    expect(test.length).toBeGreaterThan(all.length / 4);
  });

  it("decides an item's side by its id alone, whatever the other items and their order", () => {
    const all = items();
    const { dev } = splitItems(all, { perDomainAndKind: 1000, maxPassageChars: 256 });
    const devIds = new Set(dev.map((i) => i.id));
    const reversed = splitItems([...all].reverse(), { perDomainAndKind: 1000, maxPassageChars: 256 });
    expect(new Set(reversed.dev.map((i) => i.id))).toEqual(devIds);
    for (const item of all.slice(0, 10)) {
      const alone = splitItems([item], { perDomainAndKind: 1, maxPassageChars: 256 });
      expect(alone.dev.length === 1, item.id).toBe(devIds.has(item.id));
    }
  });

  it("caps each side, domain and kind, taking items in file order", () => {
    const all = items();
    const { dev, test } = splitItems(all, { perDomainAndKind: 3, maxPassageChars: 256 });
    for (const side of [dev, test]) {
      for (const domain of ["law", "food"]) {
        for (const kind of ["multiple_choice", "bits_per_byte"]) {
          const kept = side.filter((i) => i.domain === domain && i.kind === kind);
          expect(kept).toHaveLength(3);
          // The first three of that side's items, in order.
          const uncapped = splitItems(all, { perDomainAndKind: 1000, maxPassageChars: 256 });
          const sameSide = (side === dev ? uncapped.dev : uncapped.test).filter((i) => i.domain === domain && i.kind === kind);
          expect(kept.map((i) => i.id)).toEqual(sameSide.slice(0, 3).map((i) => i.id));
        }
      }
    }
  });

  it("cuts bits-per-byte passages at a word boundary, leaving other items as they are", () => {
    const { dev, test } = splitItems(items(), { perDomainAndKind: 1000, maxPassageChars: 50 });
    for (const item of [...dev, ...test]) {
      if (item.kind === "bits_per_byte") {
        expect(item.text.length).toBeLessThanOrEqual(50);
        expect(item.text.endsWith(" ")).toBe(false);
        expect(`word${item.id.split("/")[2]} `.repeat(40).startsWith(item.text)).toBe(true);
      } else {
        expect(item.kind === "multiple_choice" && item.context).toBe(`q${item.id.split("/")[2]}`);
      }
    }
  });

  it("cutAtWord: whole text when short, the last space when it is past half, else a hard cut", () => {
    expect(cutAtWord("short", 10)).toBe("short");
    expect(cutAtWord("hello world again", 12)).toBe("hello world");
    expect(cutAtWord("abcdefghij", 5)).toBe("abcde");
    expect(cutAtWord("a bcdefghijkl", 8)).toBe("a bcdefg");
  });
});
