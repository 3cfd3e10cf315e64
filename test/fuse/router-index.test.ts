import { readdirSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { splitItems } from "../../src/unify/items.js";
import { readTasksFile, type TaskItem } from "../../src/formats/tasks.js";
import { itemText } from "../../src/fuse/router/evidence.js";
import { KnnIndex, type LabelledItem } from "../../src/fuse/router/knn.js";
import { Router } from "../../src/fuse/router/router.js";
import { FEATURE_BUCKETS, termCounts, TfIdf } from "../../src/fuse/text-features.js";

const ZOO_ITEMS = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "zoo", "items");

async function zooItems(): Promise<TaskItem[]> {
  const files = readdirSync(ZOO_ITEMS).filter((f) => f.endsWith(".jsonl")).sort();
  return (await Promise.all(files.map((f) => readTasksFile(path.join(ZOO_ITEMS, f))))).flat();
}

/** The zoo's items as evidence for four experts with seeded scores: each good at some domains. */
function labelled(items: readonly TaskItem[], experts: readonly string[], seed: number): LabelledItem[] {
  const rng = new Rng(seed);
  return items.map((item) => ({
    id: item.id,
    text: itemText(item),
    domain: item.domain,
    scores: Object.fromEntries(experts.map((e, j) => [e, rng.next() < ((item.domain.length + j) % experts.length === 0 ? 0.8 : 0.4) ? 1 : 0])),
  }));
}

/** The hashing spelled out plainly (a substring per n-gram), as the features were first defined. */
function plainTermCounts(text: string): Map<number, number> {
  const fnv = (s: string) => {
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    return (h >>> 0) % FEATURE_BUCKETS;
  };
  const counts = new Map<number, number>();
  const add = (term: string) => counts.set(fnv(term), (counts.get(fnv(term)) ?? 0) + 1);
  const normalized = text.toLowerCase().replace(/\s+/g, " ").trim();
  const words = normalized.match(/[\p{L}\p{N}]+/gu) ?? [];
  words.forEach((w, i) => {
    add("w:" + w);
    if (i > 0) add("b:" + words[i - 1] + " " + w);
  });
  const padded = ` ${normalized} `;
  for (let n = 3; n <= 5; n++) for (let i = 0; i + n <= padded.length; i++) add("c:" + padded.slice(i, i + n));
  return counts;
}

describe("router index", () => {
  it("hashes the same features as the plain definition", async () => {
    // ASCII text takes the one-pass path; the rest (non-breaking and other Unicode spaces, letters
    // whose lowercase differs in length, astral code points) the Unicode-aware definition.
    const edges = ["Ünïcode ﬁ café  NAÏVE\tx", "", "ab", "  a  ", " \t\n\v\f\rMixed CASE 42x\x1cy--z ", "x\u00a0y\u2003z\u1680", "İstanbul ΣΑΣ STRASSE straße", "emoji 😀 ok 😀😀"];
    const texts = [...(await zooItems()).slice(0, 300).map(itemText), ...edges];
    for (const text of texts) {
      const fast = termCounts(text);
      const plain = plainTermCounts(text);
      expect([...fast].sort((a, b) => a[0] - b[0])).toEqual([...plain].sort((a, b) => a[0] - b[0]));
    }
    // The vectors list the same buckets, ascending (their own sort, not Array#sort).
    const vectors = new TfIdf(texts).vectors;
    texts.forEach((text, i) => expect([...vectors[i].indices]).toEqual([...plainTermCounts(text).keys()].sort((a, b) => a - b)));
  });

  it("weighs terms counted past a byte (a word repeated hundreds of times) as the plain definition does", () => {
    const texts = ["so ".repeat(700) + "end", "so so end", "other words"];
    const plain = texts.map(plainTermCounts);
    const df = new Map<number, number>();
    for (const counts of plain) for (const h of counts.keys()) df.set(h, (df.get(h) ?? 0) + 1);
    const { vectors } = new TfIdf(texts);
    expect(Math.max(...plain[0].values())).toBeGreaterThan(600);
    plain.forEach((counts, i) => {
      const buckets = [...counts.keys()].sort((a, b) => a - b);
      const raw = buckets.map((h) => (1 + Math.log(counts.get(h)!)) * (Math.log((1 + texts.length) / (1 + df.get(h)!)) + 1));
      const norm = Math.hypot(...raw);
      expect([...vectors[i].indices]).toEqual(buckets);
      vectors[i].values.forEach((value, j) => expect(value).toBeCloseTo(raw[j] / norm, 5));
    });
  });

  it("finds exactly the neighbours the linear scan finds on the zoo's items", { timeout: 300_000 }, async () => {
    const items = labelled(await zooItems(), ["e0", "e1", "e2", "e3"], 1);
    const index = new KnnIndex(items);
    const rng = new Rng(3);
    for (let q = 0; q < 30; q++) {
      const i = rng.int(items.length);
      for (const k of [1, 16, 64]) {
        // Leave-one-out (as calibration queries) and a fresh request text.
        expect(index.queryIndex(i, k)).toEqual(index.scan(items[i].text, k, i));
        const text = items[i].text.split(" ").slice(1).join(" ") + " and more";
        expect(index.query(text, k)).toEqual(index.scan(text, k));
      }
    }
    // A request sharing no feature with anything: the scan's answer is the first items at similarity 0.
    expect(index.query("", 3)).toEqual(index.scan("", 3));
    expect(index.query("", 3, 0).map((n) => [n.index, n.similarity])).toEqual([[1, 0], [2, 0], [3, 0]]);
  });

  it("finds exactly the scan's neighbours on a large synthetic index, pruning most items", { timeout: 300_000 }, async () => {
    // English words from the zoo, a Zipf-weighted shared vocabulary plus one per topic, so
    // character n-grams are as common as in real text and every band of the index is used.
    const words = [...new Set((await zooItems()).flatMap((t) => itemText(t).toLowerCase().match(/\p{L}{2,}/gu) ?? []))].sort();
    const rng = new Rng(11);
    rng.shuffle(words);
    const zipf = (n: number) => Math.min(n - 1, Math.floor(Math.exp(rng.next() * Math.log(n + 1))) - 1);
    const topics = 12;
    const perTopic = Math.floor((words.length - 300) / topics);
    const text = (topic: number) =>
      Array.from({ length: 6 + rng.int(25) }, () => (rng.next() < 0.45 ? words[zipf(300)] : words[300 + topic * perTopic + zipf(perTopic)])).join(" ");
    const texts = Array.from({ length: 4000 }, (_, i) => text(i % topics));
    // Exact duplicates tie: the scan keeps the lower index first.
    for (let i = 0; i < 40; i++) texts[3960 + i] = texts[i * 7];
    const items: LabelledItem[] = texts.map((t, i) => ({ id: `s${i}`, text: t, domain: `d${i % topics}`, scores: {} }));
    const index = new KnnIndex(items);
    let scored = 0;
    let queries = 0;
    let refined = 0;
    for (let q = 0; q < 60; q++) {
      const request = text(q % topics);
      for (const k of [1, 16]) {
        expect(index.query(request, k)).toEqual(index.scan(request, k));
        scored += index.lastScored;
        refined += index.lastRefined;
        queries++;
      }
      const i = rng.int(items.length);
      expect(index.queryIndex(i, 16)).toEqual(index.scan(items[i].text, 16, i));
      expect(index.queryIndex(q * 7, 16)).toEqual(index.scan(items[q * 7].text, 16, q * 7));
    }
    // Requests made of the commonest words only, and ones sharing nothing with the index.
    for (const request of [words.slice(0, 3).join(" "), words[0], "zzqx", "", "the the the"]) {
      expect(index.query(request, 16)).toEqual(index.scan(request, 16));
      expect(index.query(request, 5000)).toEqual(index.scan(request, 5000));
    }
    // The comparison is not the scan in disguise: most items were never scored.
    expect(scored / queries).toBeLessThan(items.length / 10);
    // The comparison covers bands added from the survivors' own features, not only walked ones.
    expect(refined).toBeGreaterThan(0);
  });

  it("routes every test item of the demo as the brute-force router does", { timeout: 300_000 }, async () => {
    const all = await zooItems();
    const { dev, test } = splitItems(all, { perDomainAndKind: 10, maxPassageChars: 256 });
    const experts = ["e0", "e1", "e2", "e3"];
    const testIds = new Set(test.map((t) => t.id));
    // As the demo: dev items scored, the other non-test items as domain-only text.
    const domainItems = all.filter((t) => !testIds.has(t.id)).map((t) => ({ id: t.id, text: itemText(t), domain: t.domain, scores: {} }));
    const router = new Router(labelled(dev, experts, 2), { experts, domainItems });
    expect(test.length).toBeGreaterThan(100);
    const firstChoices = new Set<string>();
    for (const item of test) {
      const decision = router.route(itemText(item));
      expect(decision).toEqual(router.route(itemText(item), "scan"));
      firstChoices.add(decision.ranked[0].expert);
    }
    // The comparison has power: the decisions vary across items.
    expect(firstChoices.size).toBeGreaterThan(1);
  });
});
