import { describe, expect, it } from "vitest";
import type { ResultRecord } from "../../src/eval/result.js";
import { distillGoals } from "../../src/demo/distill-goals.js";
import { pairedAccuracy, pairedMacroBpb } from "../../src/unify/paired.js";
import { scoreRows } from "../../src/unify/scoreboard.js";
import type { DistilledModel } from "../../src/demo/zoo.js";

const bpb = (model: string, item: string, domain: string, value: number, bytes: number): ResultRecord =>
  ({ model, item, domain, metric: "bpb", score: 2 ** -value, task: "zoo-bits-per-byte", bpb: value, bytes });
const acc = (model: string, item: string, score: number): ResultRecord => ({ model, item, domain: "d", metric: "acc", score, task: "zoo-cloze" });

describe("paired comparisons", () => {
  it("macro bpb difference and its paired SE, by hand", () => {
    // Domain x: items of 100 and 300 bytes; A saves 10 and 60 bits → d = −70/400 = −0.175.
    // Residuals δ − d·bytes: −10 + 17.5 = 7.5, −60 + 52.5 = −7.5 → var = 2/1 · 112.5 / 400² = 1.40625e-3.
    // Domain y: equal bytes, A worse by 0.1 and 0.3 bpb on 200 bytes each → d = +0.2, residuals ∓20 → var = 2 · 800 / 400² = 0.01.
    const records = [
      bpb("A", "x1", "x", 2.0, 100), bpb("B", "x1", "x", 2.1, 100),
      bpb("A", "x2", "x", 2.0, 300), bpb("B", "x2", "x", 2.2, 300),
      bpb("A", "y1", "y", 2.1, 200), bpb("B", "y1", "y", 2.0, 200),
      bpb("A", "y2", "y", 2.3, 200), bpb("B", "y2", "y", 2.0, 200),
      bpb("A", "only-a", "y", 9, 50),
    ];
    const d = pairedMacroBpb(records, "A", "B", ["x", "y"])!;
    expect(d.diff).toBeCloseTo((-0.175 + 0.2) / 2, 10);
    expect(d.se).toBeCloseTo(Math.sqrt(1.40625e-3 + 0.01) / 2, 10);
    expect(d.n).toBe(4);
    expect(pairedMacroBpb(records, "A", "B", ["x", "z"])).toBeUndefined();
  });

  it("paired accuracy: mean difference, sd/√n and z", () => {
    const records = [acc("F", "1", 1), acc("P", "1", 0), acc("F", "2", 1), acc("P", "2", 1), acc("F", "3", 1), acc("P", "3", 0), acc("F", "4", 0), acc("P", "4", 0)];
    // Differences 1, 0, 1, 0: mean 0.5, sd = √(4·0.25/3) = 0.57735, se = 0.288675, z = 1.732.
    const d = pairedAccuracy(records, "F", "P")!;
    expect(d.diff).toBeCloseTo(0.5, 10);
    expect(d.se).toBeCloseTo(0.288675, 5);
    expect(d.z).toBeCloseTo(1.73205, 4);
  });
});

describe("distillGoals", () => {
  it("judges each goal met or missed from the results", () => {
    const domains = ["x"];
    const items = Array.from({ length: 6 }, (_, i) => `x${i}`);
    const noise = [0.01, -0.01, 0.02, -0.02, 0.015, -0.015];
    const records: ResultRecord[] = [];
    items.forEach((item, i) => {
      records.push(bpb("pivot-control", item, "x", 2.3 + noise[i]!, 200));
      records.push(bpb("pivot-all", item, "x", 2.19 + noise[i]!, 200));
      records.push(bpb("pivot-family-b", item, "x", 2.3 + 2 * noise[i]!, 200));
      records.push(bpb("a-centralised", item, "x", 2.15, 200));
      records.push(bpb("unified-router", item, "x", 2.1, 200));
      records.push(bpb("pivot-moe-control", item, "x", 2.2 + noise[i]!, 200));
      records.push(bpb("pivot-moe-all", item, "x", 2.13 + noise[i]!, 200));
      records.push(bpb("a-base", item, "x", 2.4, 200));
    });
    const order = ["a-base", "unified-router", "pivot-all", "pivot-control", "pivot-family-b", "a-centralised", "pivot-moe-all", "pivot-moe-control"];
    const rows = scoreRows(records, domains, order);
    const distilled: DistilledModel[] = [
      { id: "pivot-all", role: "pivot", gguf: "" }, { id: "pivot-control", role: "pivot-control", gguf: "" },
      { id: "pivot-family-b", role: "pivot-family-b", gguf: "" }, { id: "pivot-fpo", role: "pivot-fpo", gguf: "" },
      { id: "a-centralised", role: "centralised", gguf: "" },
      { id: "pivot-moe-all", role: "pivot-moe", gguf: "" }, { id: "pivot-moe-control", role: "pivot-moe-control", gguf: "" },
    ];
    const cloze = [acc("pivot-fpo", "1", 1), acc("pivot-all", "1", 1), acc("pivot-fpo", "2", 1), acc("pivot-all", "2", 0), acc("pivot-fpo", "3", 0), acc("pivot-all", "3", 0)];
    const goals = distillGoals({
      rows, records, clozeRecords: cloze, domains, distilled,
      checkpoints: ["a-base", "pivot-all", "pivot-control", "pivot-family-b", "a-centralised"],
      unified: ["unified-router", "pivot-all"],
    });
    const byStart = (text: string) => goals.find((g) => g.goal.startsWith(text))!;
    // Beats the control by 0.11 with no paired noise, but the centralised model (2.15) is a better checkpoint.
    expect(byStart("the best distilled pivot beats").met).toBe(false);
    expect(byStart("the best distilled pivot beats").detail).toMatch(/^pivot-all − pivot-control = -0\.110 ± 0\.000.*not best: a-centralised 2\.150/);
    // Each pivot against its own control: dense 2.3 → router 2.1, pivot 2.19 closes 55%; the mixture's
    // 2.2 → 2.1, pivot 2.13 closes 70%: the line judges the mixture and names both.
    const gap = byStart("the best distilled pivot closes");
    expect(gap.met).toBe(true);
    expect(gap.detail).toMatch(/^pivot-moe-all closed 70% \(control pivot-moe-control 2\.200, pivot 2\.130, router 2\.100; pivot − control -0\.070 ± 0\.000\); pivot-all 55% of its gap$/);
    // Without the mixture pivots the dense one is judged alone.
    const dense = distillGoals({
      rows, records, clozeRecords: cloze, domains, distilled: distilled.filter((m) => !m.role.startsWith("pivot-moe")),
      checkpoints: [], unified: ["unified-router"],
    }).find((g) => g.goal.startsWith("the best distilled pivot closes"))!;
    expect(dense.detail).toMatch(/^pivot-all closed 55%/);
    // The sampled-text pivot is judged against its own hard-label control (2.28 → router 2.1, pivot
    // 2.17: 61%), not against pivots/control (that would be 65%), and beats the dense pivot's 55%.
    const withSampled = [...records];
    items.forEach((item, i) => {
      withSampled.push(bpb("pivot-sampled-control", item, "x", 2.28 + noise[i]!, 200));
      withSampled.push(bpb("pivot-sampled", item, "x", 2.17 + noise[i]!, 200));
    });
    const sampled = distillGoals({
      rows: scoreRows(withSampled, domains, [...order, "pivot-sampled", "pivot-sampled-control"]), records: withSampled, clozeRecords: cloze, domains,
      distilled: [...distilled.filter((m) => !m.role.startsWith("pivot-moe")), { id: "pivot-sampled", role: "pivot-sampled", gguf: "" }, { id: "pivot-sampled-control", role: "pivot-sampled-control", gguf: "" }],
      checkpoints: [], unified: ["unified-router"],
    }).find((g) => g.goal.startsWith("the best distilled pivot closes"))!;
    // The first line judges the dense pivot with the lowest bpb (sampled 2.17 < all 2.19) against its
    // own control, names the other pair, and finds it the best checkpoint once centralised is not better.
    const sampledFirst = distillGoals({
      rows: scoreRows(withSampled, domains, [...order, "pivot-sampled", "pivot-sampled-control"]), records: withSampled, clozeRecords: cloze, domains,
      distilled: [...distilled, { id: "pivot-sampled", role: "pivot-sampled", gguf: "" }, { id: "pivot-sampled-control", role: "pivot-sampled-control", gguf: "" }],
      checkpoints: ["a-base", "pivot-all", "pivot-control", "pivot-sampled", "pivot-sampled-control"], unified: ["unified-router"],
    }).find((g) => g.goal.startsWith("the best distilled pivot beats"))!;
    expect(sampledFirst.met).toBe(true);
    expect(sampledFirst.detail).toMatch(/^pivot-sampled − pivot-sampled-control = -0\.110 ± 0\.000 bpb \(6 passages\); best single checkpoint at 2\.170; pivot-all − pivot-control = -0\.110 ± 0\.000$/);
    expect(sampled.detail).toMatch(/^pivot-sampled closed 61% \(control pivot-sampled-control 2\.280, pivot 2\.170, router 2\.100; pivot − control -0\.110 ± 0\.000\); pivot-all 55% of its gap$/);
    // The wide sampled pivot (2.15) against its own control (2.25): 67% of its gap, and the lowest
    // dense pivot, so both lines judge it and name the other pairs.
    const withWide = [...withSampled];
    items.forEach((item, i) => {
      withWide.push(bpb("pivot-wide-sampled-control", item, "x", 2.25 + noise[i]!, 200));
      withWide.push(bpb("pivot-wide-sampled", item, "x", 2.15 + noise[i]!, 200));
    });
    const wideGoals = distillGoals({
      rows: scoreRows(withWide, domains, [...order, "pivot-sampled", "pivot-sampled-control", "pivot-wide-sampled", "pivot-wide-sampled-control"]), records: withWide, clozeRecords: cloze, domains,
      distilled: [...distilled.filter((m) => !m.role.startsWith("pivot-moe")), ...(["pivot-sampled", "pivot-sampled-control", "pivot-wide-sampled", "pivot-wide-sampled-control"] as const).map((role) => ({ id: role, role, gguf: "" }))],
      checkpoints: ["a-base", "pivot-all", "pivot-control", "pivot-sampled", "pivot-sampled-control", "pivot-wide-sampled", "pivot-wide-sampled-control"], unified: ["unified-router"],
    });
    expect(wideGoals.find((g) => g.goal.startsWith("the best distilled pivot beats"))!.detail).toMatch(/^pivot-wide-sampled − pivot-wide-sampled-control = -0\.100 ± 0\.000 bpb \(6 passages\); best single checkpoint at 2\.150; pivot-all − pivot-control = -0\.110 ± 0\.000; pivot-sampled − pivot-sampled-control = -0\.110 ± 0\.000$/);
    expect(wideGoals.find((g) => g.goal.startsWith("the best distilled pivot closes"))!.detail).toMatch(/^pivot-wide-sampled closed 67% \(control pivot-wide-sampled-control 2\.250, pivot 2\.150, router 2\.100; pivot − control -0\.100 ± 0\.000\); pivot-sampled 61% of its gap, pivot-all 55% of its gap$/);
    // Family B: equal on average, only noise.
    expect(byStart("the pivot distilled from family-B").met).toBe(false);
    // FPO: +1/3 with z = 1 → missed.
    expect(byStart("after FPO").met).toBe(false);
    expect(byStart("after FPO").detail).toMatch(/z = 1\.00 \(3 items\)/);
    // Best unified (router 2.1) against the centralised (2.15): reported, unified better.
    expect(byStart("the best unified model is compared").detail).toMatch(/unified-router − a-centralised = -0\.050 ± 0\.000 bpb \(the unified model is better/);
  });
});
