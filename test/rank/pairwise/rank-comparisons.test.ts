import { describe, expect, it } from "vitest";
import type { Comparison, RankedModel } from "../../../src/core/evidence.js";
import { ConfigError } from "../../../src/core/errors.js";
import { readBattles } from "../../../src/formats/battles.js";
import { rankComparisons } from "../../../src/rank/pairwise/index.js";
import { quantile, ranksFromIntervals } from "../../../src/rank/pairwise/rank-intervals.js";
import { referenceFile } from "../../reference-data.js";
import { simulateVotes } from "./simulate.js";

const ARENA = referenceFile("arena-140k", "battles.csv");

const byName = (models: RankedModel[]): Record<string, RankedModel> => Object.fromEntries(models.map((m) => [m.model, m]));

describe("rankComparisons", () => {
  const planted = { top: 1250, good: 1100, mid: 1000, low: 900, bottom: 750 };
  const votes = simulateVotes(planted, 6000, 3);

  it("orders models by planted strength with intervals that contain the point estimate", () => {
    const ranking = rankComparisons(votes, { bootstrap: 50 });
    expect(ranking.models.map((m) => m.model)).toEqual(["top", "good", "mid", "low", "bottom"]);
    expect(ranking.warnings).toEqual([]);
    expect(ranking.components.map((c) => [...c].sort())).toEqual([["bottom", "good", "low", "mid", "top"]]);
    const mean = ranking.models.reduce((s, m) => s + m.rating, 0) / 5;
    expect(mean).toBeCloseTo(1000, 9);
    for (const m of ranking.models) {
      expect(m.ci[0]).toBeLessThan(m.rating);
      expect(m.ci[1]).toBeGreaterThan(m.rating);
      expect(m.ci[1] - m.ci[0]).toBeLessThan(80);
    }
    // Well separated planted ratings give distinct ranks.
    expect(ranking.models.map((m) => m.rank)).toEqual([1, 2, 3, 4, 5]);
    expect(ranking.models.map((m) => m.rankRange)).toEqual([[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]);
  });

  it("is deterministic for a seed and changes with it", () => {
    const a = rankComparisons(votes, { bootstrap: 20, seed: 5 });
    const b = rankComparisons(votes, { bootstrap: 20, seed: 5 });
    const c = rankComparisons(votes, { bootstrap: 20, seed: 6 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(c.models.map((m) => m.rating)).toEqual(a.models.map((m) => m.rating));
    expect(c.models.map((m) => m.ci)).not.toEqual(a.models.map((m) => m.ci));
  });

  it("stays finite when a model never loses or never wins, and names them", () => {
    const extra: Comparison[] = [
      ...votes,
      { a: "champ", b: "top", outcome: "a" },
      { a: "mid", b: "champ", outcome: "b" },
      { a: "loser", b: "bottom", outcome: "b" },
      { a: "loser", b: "low", outcome: "b" },
    ];
    const ranking = rankComparisons(extra, { bootstrap: 10 });
    expect(ranking.models[0].model).toBe("champ");
    expect(ranking.models[ranking.models.length - 1].model).toBe("loser");
    for (const m of ranking.models) {
      expect(Number.isFinite(m.rating)).toBe(true);
      expect(Number.isFinite(m.ci[0]) && Number.isFinite(m.ci[1])).toBe(true);
    }
    const warning = ranking.warnings.find((w) => w.includes("infinite"));
    expect(warning).toMatch(/never lost: champ/);
    expect(warning).toMatch(/never won: loser/);
    // The prior is tiny: the well-compared models hardly move.
    const plain = byName(rankComparisons(votes, { bootstrap: 0 }).models);
    const withPrior = byName(ranking.models);
    expect(Math.abs(withPrior.good.rating - withPrior.mid.rating - (plain.good.rating - plain.mid.rating))).toBeLessThan(2);
  });

  it("ranks disconnected groups separately and reports the components", () => {
    const other = simulateVotes({ p: 1100, q: 900 }, 400, 9);
    const ranking = rankComparisons([...votes, ...other], { bootstrap: 10 });
    expect(ranking.components.length).toBe(2);
    expect(ranking.components[1].sort()).toEqual(["p", "q"]);
    expect(ranking.warnings.some((w) => /2 disconnected groups.*not comparable/.test(w))).toBe(true);
    const models = ranking.models.map((m) => m.model);
    expect(models.slice(5)).toEqual(["p", "q"]);
    const named = byName(ranking.models);
    // Each group is centred on 1000 and ranked on its own.
    expect((named.p.rating + named.q.rating) / 2).toBeCloseTo(1000, 9);
    expect(named.p.rank).toBe(1);
    expect(named.q.rankRange[1]).toBe(2);
  });

  it("fits Davidson's tie parameter and recovers planted ratings", () => {
    const nu = 0.8;
    const tied = simulateVotes({ a: 1150, b: 1000, c: 850 }, 30000, 11, nu);
    const ranking = rankComparisons(tied, { ties: "davidson", bootstrap: 0 });
    expect(ranking.tieParameter).toBeGreaterThan(nu - 0.05);
    expect(ranking.tieParameter).toBeLessThan(nu + 0.05);
    const named = byName(ranking.models);
    expect(Math.abs(named.a.rating - 1150)).toBeLessThan(15);
    expect(Math.abs(named.c.rating - 850)).toBeLessThan(15);
    // With ties as half wins the same data gives compressed ratings: ties pull toward 1000.
    const half = byName(rankComparisons(tied, { bootstrap: 0 }).models);
    expect(half.a.rating - half.c.rating).toBeLessThan(named.a.rating - named.c.rating);
  });

  it("falls back to Bradley–Terry under Davidson when there are no ties", () => {
    const ranking = rankComparisons(votes, { ties: "davidson", bootstrap: 0 });
    expect(ranking.tieParameter).toBe(0);
    expect(ranking.warnings.join()).toMatch(/no ties/);
    expect(ranking.models.map((m) => m.rating)).toEqual(rankComparisons(votes, { bootstrap: 0 }).models.map((m) => m.rating));
  });

  it("rejects bad options with a ConfigError", () => {
    expect(() => rankComparisons(votes, { bootstrap: -1 })).toThrow(ConfigError);
    expect(() => rankComparisons(votes, { ties: "third" as "half" })).toThrow(/ties must be/);
    expect(() => rankComparisons([])).toThrow(/no comparisons/);
  });

  it.skipIf(!ARENA.available)(`ranks Arena-140k sensibly, with intervals that bracket the ratings${ARENA.skipNote}`, async () => {
    const battles = await readBattles(ARENA.path, { selfComparisons: "skip" });
    const ranking = rankComparisons(battles.comparisons, { bootstrap: 10 });
    // Arena's rank rule: 1 + the number of models whose lower bound is above this one's upper bound.
    for (const m of ranking.models) {
      expect(m.ci[0], m.model).toBeLessThanOrEqual(m.rating);
      expect(m.ci[1], m.model).toBeGreaterThanOrEqual(m.rating);
      expect(m.rank, m.model).toBe(1 + ranking.models.filter((o) => o.ci[0] > m.ci[1]).length);
    }
    expect(ranking.models.length).toBe(53);
    expect(ranking.components.length).toBe(1);
    const named = byName(ranking.models);
    expect(ranking.models[0].model).toBe("gemini-2.5-pro");
    // A 2025 frontier model sits far above a 2024 small model.
    expect(named["gemini-2.5-pro"].rating - named["gemma-3n-e4b-it"].rating).toBeGreaterThan(50);
  });
});

describe("rank intervals", () => {
  it("computes NumPy-style linear quantiles, ignoring NaN", () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10, NaN, 0], 0.25)).toBe(2.5);
    expect(quantile([4, 1, 3, 2, 5], 0.975)).toBeCloseTo(4.9, 12);
  });

  it("ranks by intervals: 1 + models surely above; range from surely above to surely below", () => {
    const ranks = ranksFromIntervals([[10, 12], [9, 11], [5, 8], [1, 2]]);
    expect(ranks).toEqual([
      { rank: 1, rankRange: [1, 2] },
      { rank: 1, rankRange: [1, 2] },
      { rank: 3, rankRange: [3, 3] },
      { rank: 4, rankRange: [4, 4] },
    ]);
  });
});
