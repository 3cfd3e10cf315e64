import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { PostingWalk } from "../../src/fuse/router/posting-walk.js";

/** Random posting lists over `items` items, walked in full with random weights: the kernel against a plain loop. */
function walkBoth(items: number, seed: number) {
  const rng = new Rng(seed);
  const lists = Array.from({ length: 40 }, () => {
    const length = rng.int(60);
    return Array.from({ length }, () => ({ item: rng.int(items), value: rng.next() }));
  });
  // Edge values: the extremes of [0, 1], in a list shorter than one unrolled step (the others cover both loops).
  lists.push([{ item: items - 1, value: 1 }, { item: 0, value: 0 }, { item: items - 1, value: Math.fround(1e-7) }]);
  const postings = lists.reduce((sum, list) => sum + list.length, 0);
  const walk = new PostingWalk(postings, items);
  const exact = new Float64Array(items);
  let at = 0;
  const ranges = lists.map((list) => {
    const start = at;
    for (const { item, value } of list) walk.put(at++, item, Math.fround(value));
    return { start, end: at, list };
  });
  for (const { start, end, list } of ranges) {
    const weight = rng.next();
    walk.add(start, end, weight);
    for (const { item, value } of list) exact[item] += weight * Math.fround(value);
  }
  walk.run();
  return { walked: walk.partial, exact };
}

describe("posting walk", () => {
  it("never sums under the exact partial sums, and stays within the fixed point's rounding of them (narrow postings)", () => {
    const { walked, exact } = walkBoth(3000, 1);
    for (let i = 0; i < exact.length; i++) {
      expect(walked[i]).toBeGreaterThanOrEqual(exact[i] - 1e-12);
      expect(walked[i] - exact[i]).toBeLessThan(1e-3);
    }
    expect(exact.some((x) => x > 0)).toBe(true);
  });

  it("sums exactly as JavaScript does past 65,536 items (wide postings)", () => {
    const { walked, exact } = walkBoth(70_000, 2);
    expect(Array.from(walked)).toEqual(Array.from(exact));
  });

  it("refuses a value outside [0, 1], which the fixed point could not hold", () => {
    const walk = new PostingWalk(1, 10);
    expect(() => walk.put(0, 3, 1.5)).toThrow(RangeError);
  });
});
