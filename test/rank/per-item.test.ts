import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseResultsCsv } from "../../src/formats/results.js";
import { rankResults } from "../../src/rank/per-item.js";
import { referenceFile } from "../reference-data.js";
import { simulate } from "./simulate.js";

describe("rankResults", () => {
  const sim = simulate({ models: 10, domainSizes: [40, 80], seed: 9, missing: 0.1 });

  it("gives Fisher-information intervals by default and item-bootstrap intervals on request", () => {
    const fisher = rankResults(sim.results).ranking;
    expect(fisher.method).toMatch(/Fisher information/);
    const boot = rankResults(sim.results, { bootstrap: 30, seed: 5 }).ranking;
    expect(boot.method).toMatch(/percentile intervals from 30 bootstrap resamples of the items/);
    expect(rankResults(sim.results, { bootstrap: 30, seed: 5 }).ranking).toEqual(boot);
    const covered = boot.models.filter((m) => m.ci[0] <= m.rating && m.rating <= m.ci[1]).length;
    expect(covered).toBeGreaterThanOrEqual(9);
    // Point estimates do not depend on the interval method.
    expect(boot.models.map((m) => m.rating)).toEqual(fisher.models.map((m) => m.rating));
    for (const m of boot.models) {
      for (const d of Object.values(m.domains)) expect(d.ci[1]).toBeGreaterThan(d.ci[0]);
    }
    expect(() => rankResults(sim.results, { bootstrap: -1 })).toThrow(/bootstrap must be a whole number/);
  });

  it("warns about models missing a domain and about domains that cannot rank anyone", () => {
    const partial = sim.results.filter((r) => !(r.model === "model-000" && r.domain === "domain-1"));
    const flat = sim.models.map((model) => ({ model, item: "same", domain: "flat", score: 1 }));
    const ranking = rankResults([...partial, ...flat]).ranking;
    expect(ranking.domains).toEqual(["domain-0", "domain-1"]);
    expect(ranking.warnings.join("\n")).toMatch(/model "model-000": no results in domain\(s\) "domain-1"/);
    expect(ranking.warnings.join("\n")).toMatch(/domain "flat": no item tells the models apart/);
    const m0 = ranking.models.find((m) => m.model === "model-000")!;
    expect(m0.rating).toBe(m0.domains["domain-0"].ability);
  });
});

describe("rankResults on ChemBench (22 models)", () => {
  const chembench = referenceFile("chembench", "binary_matrix.csv");

  it.skipIf(!chembench.available)(`warns when the 2PL order departs from plain accuracy, and a tighter discrimination prior pulls it back${chembench.skipNote}`, () => {
    const results = parseResultsCsv(readFileSync(chembench.path, "utf8"), chembench.path);
    // ChemBench's responses split the models into two groups (the first principal component of
    // the response matrix orders them quite differently from accuracy); the free 2PL follows it.
    const loose = rankResults(results).ranking;
    expect(loose.warnings.join("\n")).toMatch(/disagree with plain mean scores \(Spearman 0\.\d+\)/);
    expect(loose.warnings.join("\n")).toMatch(/--discrimination-sd 0\.5/);
    const tight = rankResults(results, { irt: { discriminationPrior: { mean: 1, sd: 0.5 } } }).ranking;
    expect(tight.warnings.join("\n")).not.toMatch(/disagree with plain mean scores/);
    expect(tight.models[0].model).toBe("o1");
  });
});
