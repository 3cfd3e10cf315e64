import { describe, expect, it } from "vitest";
import { closestName, didYouMean, editDistance, unknownKeys } from "../../src/core/suggest.js";

describe("did you mean", () => {
  it("edit distance counts insertions, deletions, substitutions and adjacent swaps as one", () => {
    expect(editDistance("gate", "gat")).toBe(1);
    expect(editDistance("gate", "gaet")).toBe(1);
    expect(editDistance("top_k", "tpo_k")).toBe(1);
    expect(editDistance("density", "densty")).toBe(1);
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
  });

  it("suggests the closest name only when it is a likely typo", () => {
    expect(closestName("gat", ["ranking", "gate", "top_k"])).toBe("gate");
    expect(closestName("Top-K", ["gate", "top_k"])).toBe("top_k");
    expect(closestName("merge-method", ["merge_method", "models"])).toBe("merge_method");
    expect(closestName("temperature", ["gate", "top_k"])).toBeUndefined();
    expect(closestName("xyz", ["gate"])).toBeUndefined();
    expect(didYouMean("densty", ["weight", "density"])).toBe(" (did you mean 'density'?)");
    expect(didYouMean("zzz", ["weight"])).toBe("");
  });

  it("lists every unknown key of a record at once", () => {
    expect(unknownKeys({ gate: 1, gat: 2, colour: 3 }, ["gate", "color"], "option", (k) => `options.${k}`)).toEqual([
      "options.gat: unknown option 'gat' (did you mean 'gate'?); known: gate, color",
      "options.colour: unknown option 'colour' (did you mean 'color'?); known: gate, color",
    ]);
  });
});
