import { describe, expect, it } from "vitest";
import type { AdaptZooGoalsReport, AdaptZooRow } from "../../src/adapt/zoo-goals.js";
import type { ResultRecord } from "../../src/core/evidence.js";
import { adaptGoals, evolveGoals } from "../../src/demo/adapt-goals.js";
import { scoreRows } from "../../src/unify/scoreboard.js";

const row = (role: AdaptZooRow["role"], bpb: number, mean: number, se: number): AdaptZooRow => ({ name: role, role, bpb, vsBase: { mean, se, n: 80 } });

function report(over: { loraBpb?: number; compose?: [number, number]; vsUniform?: [number, number]; unseen?: boolean } = {}): AdaptZooGoalsReport {
  const [cMean, cSe] = over.compose ?? [-0.06, 0.01];
  const [uMean, uSe] = over.vsUniform ?? [-0.03, 0.01];
  return {
    domain: "music", unseen: over.unseen ?? true, records: 80,
    rows: [row("base", 2.7, 0, 0), row("lora", over.loraBpb ?? 2.4, -0.3, 0.03), row("uniform", 2.68, -0.02, 0.01), row("compose", 2.7 + cMean, cMean, cSe)],
    composeVsUniform: { mean: uMean, se: uSe, n: 80 },
    lora: { stepsRun: 200, bestStep: 200, heldOutBpbBefore: 2.5, heldOutBpbAfter: 2.1, seconds: 100 },
    compose: { adapters: Array.from({ length: 8 }, (_, i) => `a${i}`), examples: 20, weights: Array(8).fill(0.1), evaluations: 300, seconds: 100, evaluationsPerSecond: 3, examplesBpb: { base: 2.6, uniform: 2.6, composed: 2.5 } },
  };
}
const met = (r: AdaptZooGoalsReport) => adaptGoals(r).map((g) => g.met);

describe("adaptGoals", () => {
  it("meets the lora goal at a gain of 0.2 bits per byte and not just below it", () => {
    expect(met(report({ loraBpb: 2.5 }))[0]).toBe(true);
    expect(met(report({ loraBpb: 2.51 }))[0]).toBe(false);
  });

  it("needs compose beyond 2 standard errors against base-a AND against the uniform average", () => {
    expect(met(report())[1]).toBe(true);
    expect(met(report({ compose: [-0.019, 0.01] }))[1]).toBe(false);
    expect(met(report({ vsUniform: [-0.019, 0.01] }))[1]).toBe(false);
    expect(met(report({ vsUniform: [0.05, 0.01] }))[1]).toBe(false);
  });

  it("never counts a domain base-a trained on as the new domain, and says so", () => {
    const goals = adaptGoals(report({ unseen: false }));
    expect(goals.map((g) => g.met)).toEqual([false, false]);
    expect(goals[0].detail).toMatch(/NOT unseen/);
  });

  it("judges compose alone when no LoRA was trained", () => {
    const r = report();
    delete r.lora;
    r.rows = r.rows.filter((x) => x.role !== "lora");
    expect(adaptGoals(r).map((g) => g.goal)).toEqual([expect.stringMatching(/^adapt compose from 20 examples/)]);
  });
});

describe("evolveGoals", () => {
  const domains = ["law", "food"];
  // Four passages per domain; each model's bits per byte is its level plus the passage's own offset.
  const records = (levels: Record<string, number>): ResultRecord[] => Object.entries(levels).flatMap(([model, level]) =>
    domains.flatMap((domain) => [0, 1, 2, 3].map((k) => ({ model, item: `${domain}-${k}`, domain, task: domain, metric: "bpb" as const, score: 0, bpb: level + k / 10, bytes: 100 }))));
  const judge = (levels: Record<string, number>) => {
    const recs = records(levels);
    return evolveGoals({ rows: scoreRows(recs, domains, Object.keys(levels)), records: recs, domains }, "a-evolved-ties");
  };

  it("is met only when the evolved merge is below both the uniform TIES merge and base-a, with the paired differences", () => {
    const [goal] = judge({ "a-base": 2.35, "unified-ties-merge": 2.7, "a-evolved-ties": 2.3 });
    expect(goal.met).toBe(true);
    expect(goal.detail).toMatch(/a-evolved-ties 2\.450 vs unified-ties-merge 2\.850 \(paired -0\.400 ± 0\.000\) and a-base 2\.500 \(paired -0\.050 ± 0\.000\)/);
    expect(judge({ "a-base": 2.25, "unified-ties-merge": 2.7, "a-evolved-ties": 2.3 })[0].met).toBe(false);
    expect(judge({ "a-base": 2.35, "unified-ties-merge": 2.2, "a-evolved-ties": 2.3 })[0].met).toBe(false);
  });

  it("judges nothing when a row is missing", () => {
    expect(judge({ "a-base": 2.35, "a-evolved-ties": 2.3 })).toEqual([]);
  });
});
