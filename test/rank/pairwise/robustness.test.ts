import { describe, expect, it } from "vitest";
import type { Comparison } from "../../../src/core/evidence.js";
import { ConfigError } from "../../../src/core/errors.js";
import { readBattles } from "../../../src/formats/battles.js";
import { findFragileVotes, rankComparisons } from "../../../src/rank/pairwise/index.js";
import { referenceFile } from "../../reference-data.js";

const LLMFAO = referenceFile("llmfao", "llmfao.csv");
import { simulateVotes } from "./simulate.js";

const repeat = (n: number, c: Comparison): Comparison[] => Array.from({ length: n }, () => ({ ...c }));
const without = (votes: readonly Comparison[], removed: number[]) => {
  const drop = new Set(removed);
  return votes.filter((_, k) => !drop.has(k));
};

describe("findFragileVotes", () => {
  it("finds the exact minimum in a two-model case: 6–4 flips after removing 3 of the leader's wins", () => {
    const votes = [...repeat(6, { a: "x", b: "y", outcome: "a" }), ...repeat(4, { a: "x", b: "y", outcome: "b" })];
    const report = findFragileVotes(votes);
    expect(report.leader).toBe("x");
    expect(report.challenger).toBe("y");
    expect(report.gap).toBeCloseTo(400 * Math.log10(6 / 4), 8);
    expect(report.votes.length).toBe(3);
    expect(report.votes.every((k) => votes[k].outcome === "a")).toBe(true);
    expect(report.refittedGap).toBeCloseTo(400 * Math.log10(3 / 4), 8);
    expect(report.confirmed).toBe(true);
  });

  it("flips a named pair and the refit agrees with an independent ranking without those votes", () => {
    const votes = simulateVotes({ a: 1100, b: 1080, c: 1000, d: 900 }, 3000, 21);
    const report = findFragileVotes(votes, { pair: ["c", "b"] });
    expect(report.leader).toBe("b");
    expect(report.challenger).toBe("c");
    expect(report.confirmed).toBe(true);
    expect(report.refittedGap).toBeLessThan(0);
    expect(report.votes.length).toBeGreaterThan(0);
    expect(new Set(report.votes).size).toBe(report.votes.length);
    const after = rankComparisons(without(votes, report.votes), { bootstrap: 0 }).models;
    const rating = (m: string) => after.find((r) => r.model === m)!.rating;
    expect(rating("b") - rating("c")).toBeCloseTo(report.refittedGap, 6);
    // One vote fewer (the last of the set put back) no longer flips: the set is trimmed.
    const fewer = rankComparisons(without(votes, report.votes.slice(1)), { bootstrap: 0 }).models;
    const fewerRating = (m: string) => fewer.find((r) => r.model === m)!.rating;
    expect(fewerRating("b") - fewerRating("c")).toBeGreaterThan(-1e-9);
  });

  it("rejects unknown models and pairs across disconnected groups", () => {
    const votes: Comparison[] = [
      { a: "x", b: "y", outcome: "a" },
      { a: "y", b: "x", outcome: "a" },
      { a: "p", b: "q", outcome: "a" },
      { a: "q", b: "p", outcome: "a" },
    ];
    expect(() => findFragileVotes(votes, { pair: ["x", "nobody"] })).toThrow(/"nobody" does not appear/);
    expect(() => findFragileVotes(votes, { pair: ["x", "p"] })).toThrow(ConfigError);
    expect(() => findFragileVotes([])).toThrow(ConfigError);
  });

  it.skipIf(!LLMFAO.available)(`flips the llmfao leader with a handful of confirmed votes${LLMFAO.skipNote}`, async () => {
    const battles = await readBattles(LLMFAO.path);
    const report = findFragileVotes(battles.comparisons);
    expect(report.leader).toBe("GPT 4");
    expect(report.confirmed).toBe(true);
    expect(report.votes.length).toBeLessThan(40);
    const after = rankComparisons(without(battles.comparisons, report.votes), { bootstrap: 0 });
    expect(after.models[0].model).not.toBe("GPT 4");
  });
});
