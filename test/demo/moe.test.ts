import { describe, expect, it } from "vitest";
import { moeGoals, moeRowId, type GenerationSpeed } from "../../src/demo/moe.js";
import type { ScoreRow } from "../../src/unify/scoreboard.js";

const row = (model: string, macroBpb: number): ScoreRow => ({ model, domains: {}, macroBpb });
const speed = (ratio: number): GenerationSpeed => ({ moe: "unified-moe-trained-top2", dense: "a-expert-law", moeTokensPerSecond: 100 * ratio, denseTokensPerSecond: 100, ratio, rounds: 5 });

describe("demo: mixture-of-experts rows and goals", () => {
  it("names rows after the checkpoint without its family", () => {
    expect(moeRowId("a-trained-top2")).toBe("unified-moe-trained-top2");
    expect(moeRowId("a-hidden")).toBe("unified-moe-hidden");
  });

  it("judges the best trained-gate row against every single model, the TIES merge and the router", () => {
    const base = [row("a-control", 2.356), row("a-expert-law", 2.5), row("unified-router", 2.148), row("unified-ties-merge", 2.718), row("unified-moe-hidden", 2.2)];
    const within = moeGoals([...base, row("unified-moe-trained-top2", 2.19), row("unified-moe-trained-top1", 2.4)], ["a-control", "a-expert-law"], speed(0.7));
    expect(within.map((g) => g.met)).toEqual([true, false, true]);
    expect(within[0].detail).toMatch(/unified-moe-trained-top2 2\.190/);
    // Beating the singles is not enough: 0.06 behind the router misses the goal.
    expect(moeGoals([...base, row("unified-moe-trained-top2", 2.208)], ["a-control"], speed(0.4)).map((g) => g.met)).toEqual([false, false, false]);
    // Behind the best single model misses it too, even close to the router.
    expect(moeGoals([...base.slice(1), row("a-control", 2.15), row("unified-moe-trained-top2", 2.16)], ["a-control"], undefined).map((g) => g.met)).toEqual([false, false]);
    // The moonshot: below the router.
    expect(moeGoals([...base, row("unified-moe-trained-top1", 2.1)], ["a-control"], undefined).map((g) => g.met)).toEqual([true, true]);
    // No trained-gate row: no bits-per-byte goals.
    expect(moeGoals(base, ["a-control"], undefined)).toEqual([]);
  });
});
