import { describe, expect, it } from "vitest";
import { probabilityBest, selectExperts, normalCdf } from "../../src/rank/select.js";
import { rankResults } from "../../src/rank/per-item.js";
import { simulate } from "./simulate.js";

describe("probabilityBest", () => {
  it("matches closed forms", () => {
    expect(probabilityBest([0, 0], [1, 1])[0]).toBeCloseTo(0.5, 6);
    // P(X > Y) for X ~ N(1, 1), Y ~ N(0, 1) is Φ(1/√2) = 0.7602499389 (scipy.stats.norm.cdf(1/2**0.5)).
    expect(probabilityBest([1, 0], [1, 1])[0]).toBeCloseTo(0.7602499389, 5);
    const three = probabilityBest([2, 2, 2], [0.5, 0.5, 0.5]);
    for (const p of three) expect(p).toBeCloseTo(1 / 3, 5);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 6);
  });
});

describe("selectExperts", () => {
  // Two domains; model-000 is made the clear specialist of domain-1.
  const sim = simulate({ models: 8, domainSizes: [150, 150], seed: 21, specialisation: 0.9 });
  const results = sim.results.map((r) => (r.model === "model-000" && r.domain === "domain-1" ? { ...r, score: 1 } : r));
  const ranking = rankResults(results).ranking;

  it("picks the domain's best model with a high probability of being the best", () => {
    const [best] = selectExperts(ranking, "domain-1");
    expect(best.model).toBe("model-000");
    expect(best.probabilityBest).toBeGreaterThan(0.9);
    const top3 = selectExperts(ranking, "domain-1", { top: 3 });
    expect(top3).toHaveLength(3);
    expect(top3[0].ability).toBeGreaterThanOrEqual(top3[1].ability);
    expect(top3.reduce((s, e) => s + e.probabilityBest, 0)).toBeLessThanOrEqual(1 + 1e-9);
  });

  it("follows the per-domain abilities, not the overall rating", () => {
    for (const domain of ["domain-0", "domain-1"]) {
      const [best] = selectExperts(ranking, domain);
      const max = Math.max(...ranking.models.map((m) => m.domains[domain].ability));
      expect(best.ability).toBe(max);
    }
    expect(selectExperts(ranking, "overall")[0].model).toBe(ranking.models[0].model);
  });

  it("names the known domains when asked for an unknown one", () => {
    expect(() => selectExperts(ranking, "law")).toThrow(/domains in this ranking: overall, domain-0, domain-1/);
    expect(() => selectExperts(ranking, "domain-0", { top: 0 })).toThrow(/top must be/);
  });
});
