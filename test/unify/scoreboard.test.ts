/** The demo's arithmetic against values computed by hand: the table, the oracle and the goals. */
import { describe, expect, it } from "vitest";
import { judgeGoals } from "../../src/unify/goals.js";
import { commonItems, describeUnjudged, macro, oracleRow, rowOf, scoreRows, type ScoreRow } from "../../src/unify/scoreboard.js";
import type { ResultRecord } from "../../src/eval/result.js";

const bpb = (model: string, item: string, domain: string, bits: number, bytes: number): ResultRecord =>
  ({ model, item, domain, task: domain, metric: "bpb", score: 2 ** -bits, bpb: bits, bytes });
const acc = (model: string, item: string, domain: string, score: number): ResultRecord =>
  ({ model, item, domain, task: domain, metric: "acc", score });

const M: ResultRecord[] = [
  bpb("m", "l1", "law", 2, 100), bpb("m", "l2", "law", 4, 300),
  acc("m", "q1", "law", 1), acc("m", "q2", "law", 0), acc("m", "q3", "law", 1),
  bpb("m", "f1", "food", 1.5, 200),
  acc("m", "q4", "food", 1), acc("m", "q5", "food", 1),
];

describe("the demo's table", () => {
  it("weighs bits per byte by bytes, averages accuracy with its binomial standard error, and macro-averages domains", () => {
    const row = rowOf("m", M, ["law", "food"]);
    // law: (2·100 + 4·300) / 400 = 3.5; accuracy 2/3 ± √(2/3 · 1/3 / 3) = √(2/27).
    expect(row.domains.law).toEqual({ bpb: 3.5, bpbItems: 2, acc: 2 / 3, accSe: expect.closeTo(Math.sqrt(2 / 27), 12), accItems: 3 });
    expect(row.domains.food).toEqual({ bpb: 1.5, bpbItems: 1, acc: 1, accSe: 0, accItems: 2 });
    expect(row.macroBpb).toBeCloseTo(2.5, 12);
    expect(row.macroAcc).toBeCloseTo(5 / 6, 12);
    // √(SE_law² + SE_food²) / 2 domains.
    expect(row.macroAccSe).toBeCloseTo(Math.sqrt(2 / 27) / 2, 12);
  });

  it("counts exact-match items as accuracy beside multiple-choice ones", () => {
    const em = (item: string, score: number): ResultRecord => ({ ...acc("e", item, "law", score), metric: "exact_match" });
    const row = rowOf("e", [em("g1", 1), em("g2", 0), em("g3", 0), acc("e", "q1", "law", 1)], ["law"]);
    expect(row.domains.law).toEqual({ bpb: undefined, bpbItems: 0, acc: 0.5, accSe: 0.25, accItems: 4 });
    expect(row.macroAcc).toBe(0.5);
  });

  it("leaves a macro average out when a domain has no value, and ignores other domains", () => {
    const row = rowOf("n", [bpb("n", "l1", "law", 3, 10), acc("n", "e1", "sport", 1)], ["law", "food"]);
    expect(row.domains.food).toEqual({ bpb: undefined, bpbItems: 0, acc: undefined, accSe: undefined, accItems: 0 });
    expect(row.macroBpb).toBeUndefined();
    expect(row.macroAcc).toBeUndefined();
    expect(macro({})).toEqual({ macroBpb: undefined, macroAcc: undefined, macroAccSe: undefined });
  });

  it("keeps the requested model order and drops models without results", () => {
    const rows = scoreRows([...M, bpb("n", "l1", "law", 3, 10)], ["law"], ["absent", "n", "m"]);
    expect(rows.map((r) => r.model)).toEqual(["n", "m"]);
    expect(rows[0].domains.law.bpb).toBe(3);
  });

  it("builds the oracle from each domain's best single model, per metric", () => {
    const m = rowOf("m", M, ["law", "food"]);
    const p = rowOf("p", [bpb("p", "l1", "law", 3, 50), acc("p", "q1", "law", 0), bpb("p", "f1", "food", 2, 50), acc("p", "q4", "food", 0)], ["law", "food"]);
    const oracle = oracleRow([m, p], ["law", "food"]);
    expect(oracle.picks).toEqual({ law: { bpb: "p", acc: "m" }, food: { bpb: "m", acc: "m" } });
    expect(oracle.domains.law.bpb).toBe(3);
    expect(oracle.domains.food.bpb).toBe(1.5);
    expect(oracle.macroBpb).toBeCloseTo(2.25, 12);
    expect(oracle.macroAcc).toBeCloseTo(5 / 6, 12);
  });
});

function row(model: string, macroBpb: number, macroAcc: number, macroAccSe: number, domains: Record<string, number> = {}): ScoreRow {
  return {
    model, macroBpb, macroAcc, macroAccSe,
    domains: Object.fromEntries(Object.entries(domains).map(([d, b]) => [d, { bpb: b, bpbItems: 1, accItems: 0 }])),
  };
}

describe("the main job's goals", () => {
  const a = row("A", 2.0, 0.5, 0.05, { law: 2.2, food: 1.8 });
  const b = row("B", 2.2, 0.6, 0.05, { law: 2.0, food: 2.4 });
  const router = row("unified-router", 1.9, 0.7, 0.05);
  const oracle = row("oracle", 1.8, 0.65, 0.05);
  const members = { law: ["A", "B"], food: ["A"] };

  it("judges each goal from the rows, as computed by hand", () => {
    const ensemble = row("unified-ensemble", 2.1, 0.55, 0.05, { law: 1.9, food: 1.9 });
    const goals = judgeGoals([a, b, router, ensemble], [a, b], oracle, members, ["law"]);
    expect(goals.map((g) => g.met)).toEqual([true, false, false, true]);
    expect(goals[0].detail).toBe("unified-router 1.900 vs A 2.000");
    // 0.7 − 0.6 = 0.1 against 1.96 · √(0.05² + 0.05²) = 0.139: within noise.
    expect(goals[1].detail).toBe("unified-router 0.700 ± 0.050 vs B 0.600 ± 0.050: difference +0.100 ± 0.071 (within noise)");
    // Gap best single − oracle = 0.2; the router closes 2.0 − 1.9 = 0.1 of it.
    expect(goals[2].detail).toBe("closed 50% (best single 2.000, router 1.900, oracle 1.800)");
    expect(goals[3].detail).toBe("2 wins, 0 losses");
  });

  it("meets the accuracy goal only beyond 1.96 standard errors, and the router goal from 70%", () => {
    const sure = row("unified-router", 1.85, 0.7, 0.01);
    const goals = judgeGoals([{ ...a, macroAccSe: 0.01 }, { ...b, macroAccSe: 0.01 }, sure], [{ ...a, macroAccSe: 0.01 }, { ...b, macroAccSe: 0.01 }], oracle, members, []);
    expect(goals[1].met).toBe(true);
    // (2.0 − 1.85) / 0.2 = 75%.
    expect(goals[2]).toMatchObject({ met: true, detail: "closed 75% (best single 2.000, router 1.850, oracle 1.800)" });
    expect(goals[3]).toEqual({ goal: expect.any(String), met: false, detail: "the compatibility filter left one member in every domain" });
  });

  it("says so, instead of a percentage of nothing, when one model is best everywhere or there are no passages", () => {
    const goals = judgeGoals([a, router], [a], { ...a, model: "oracle" }, { law: ["A"], food: ["A"] }, []);
    expect(goals[2]).toMatchObject({ met: false, detail: "no gap to close: one model is best in every domain (best single 2.000, router 1.900, oracle 2.000)" });
    const accuracyOnly = (r: ReturnType<typeof row>) => ({ ...r, macroBpb: undefined, domains: { law: { bpbItems: 0, accItems: 4, acc: 0.5 } } });
    const noPassages = judgeGoals([accuracyOnly(a), accuracyOnly(router)], [accuracyOnly(a)], accuracyOnly(oracle), { law: [] }, []);
    expect(noPassages.at(-1)).toMatchObject({ met: false, detail: "no bits-per-byte test items to judge it on" });
  });

  it("counts an ensemble that loses to one member on a domain where it ensembles as a miss", () => {
    const ensemble = row("unified-ensemble", 2.1, 0.55, 0.05, { law: 2.1, food: 1.0 });
    const goals = judgeGoals([a, b, router, ensemble], [a, b], oracle, members, ["law"]);
    expect(goals[3]).toMatchObject({ met: false, detail: "1 wins, 1 losses: law: 2.100 vs B 2.000" });
  });
});

describe("the items the table judges", () => {
  it("keeps the items every model has a result for, and lists the others with the models that lack them", () => {
    const records = [acc("m", "q1", "law", 1), acc("n", "q1", "law", 0), acc("m", "q2", "law", 1), bpb("n", "l1", "law", 2, 10)];
    const { judged, unjudged } = commonItems(records, ["m", "n"], ["q1", "q2", "l1", "q3"]);
    expect([...judged]).toEqual(["q1"]);
    expect(unjudged).toEqual([{ item: "q2", missing: ["n"] }, { item: "l1", missing: ["m"] }, { item: "q3", missing: ["m", "n"] }]);
    expect(describeUnjudged(unjudged, 4)).toBe("judged on 1 of 4 test items: 3 lack a result from some model (q2: n; l1: m; q3: m, n)");
    expect(describeUnjudged([...unjudged, { item: "q4", missing: ["m"] }], 5)).toMatch(/: 4 lack .*q3: m, n; …\)$/);
  });
});
