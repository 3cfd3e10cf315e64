import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { PostingWalk, type ItemFeatures } from "../../src/fuse/router/posting-walk.js";

const LISTS = 48;

/**
 * Random features over `items` items (each item in a few random lists, so lists hold far-apart
 * items: steps past 255 and fillers), plus edge lists: steps of exactly 255 and 256, the first and
 * last item alone, values 0 and 1, a list of zeros only; walked in full with random weights — the
 * kernel against a plain loop over the same lists in the same order.
 */
function walkBoth(items: number, seed: number, sparseLists = 0) {
  const rng = new Rng(seed);
  const lists = LISTS + sparseLists;
  const byItem: { list: number; value: number }[][] = Array.from({ length: items }, () => []);
  for (let item = 0; item < items; item++) {
    const lists = new Set(Array.from({ length: rng.int(3) }, () => rng.int(LISTS - 4)));
    for (const list of lists) byItem[item].push({ list, value: Math.fround(rng.next()) });
  }
  const edge = (list: number, members: number[], value: (i: number) => number) => members.forEach((item, i) => byItem[item].push({ list, value: Math.fround(value(i)) }));
  edge(LISTS - 4, [0, 255, 511, 512, items - 1], (i) => [1, 1e-7, 0.5, 0, 0.25][i]);
  edge(LISTS - 3, [items - 1], () => 1);
  edge(LISTS - 2, [0, 1, 2], () => 0);
  edge(LISTS - 1, [3, items - 2], (i) => (i === 0 ? 0.75 : 1e-3));
  // Lists of two far-apart items: fillers that outgrow the postings' list-major copy.
  for (let l = LISTS; l < lists; l++) edge(l, [rng.int(8), items - 1 - rng.int(8)], () => rng.next());
  const start = new Int32Array(items + 1);
  byItem.forEach((features, item) => (start[item + 1] = start[item] + features.length));
  const features: ItemFeatures = {
    start,
    list: Int32Array.from(byItem.flat(), (f) => f.list),
    value: Float32Array.from(byItem.flat(), (f) => f.value),
  };
  const walk = new PostingWalk(items, lists, features);
  const exact = new Float64Array(items);
  /**
   * Per item, the most the rounding of its gap postings can add: Σ over its lists of weight × (the
   * list's largest / 255 + 2 / 65,535: the u16 fixed point the gap postings are built from).
   */
  const rounding = new Float64Array(items);
  const members: { item: number; value: number }[][] = Array.from({ length: lists }, () => []);
  byItem.forEach((features, item) => features.forEach((f) => members[f.list].push({ item, value: f.value })));
  for (let list = 0; list < lists; list++) {
    const weight = rng.next();
    walk.add(list, weight);
    const largest = members[list].reduce((most, m) => Math.max(most, m.value), 0);
    for (const { item, value } of members[list]) {
      exact[item] += weight * value;
      rounding[item] += weight * (largest / 255 + 2 / 65535);
    }
  }
  walk.run();
  return { walked: walk.partial, exact, rounding };
}

describe("posting walk", () => {
  it("never sums under the exact partial sums, and stays within the gap postings' rounding of them", () => {
    for (const [items, seed, sparseLists] of [
      [3000, 1, 0],
      [65_536, 3, 0],
      [65_536, 4, 6000],
    ]) {
      const { walked, exact, rounding } = walkBoth(items, seed, sparseLists);
      const under = exact.filter((x, i) => walked[i] < x - 1e-12);
      const over = exact.filter((x, i) => walked[i] - x > rounding[i] + 1e-12);
      expect([under.length, over.length]).toEqual([0, 0]);
      expect(exact.filter((x) => x > 0).length).toBeGreaterThan(items / 2);
      // The rounding is real but small: some sums above the exact ones, none by much.
      expect(walked.some((x, i) => x > exact[i])).toBe(true);
    }
  });

  it("sums exactly as JavaScript does past 65,536 items (wide postings)", () => {
    const { walked, exact } = walkBoth(70_000, 2);
    expect(Array.from(walked)).toEqual(Array.from(exact));
  });

  it("refuses a value outside [0, 1], which the fixed point could not hold", () => {
    const features = { start: Int32Array.of(0, 0, 0, 0, 1), list: Int32Array.of(0), value: Float32Array.of(1.5) };
    expect(() => new PostingWalk(4, 1, features)).toThrow(RangeError);
  });
});
