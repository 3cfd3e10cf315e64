import { formatShare } from "../core/percent.js";
import type { ResultRecord } from "../eval/result.js";
import type { Goal } from "../unify/goals.js";
import { pairedAccuracy, pairedMacroBpb } from "../unify/paired.js";
import type { ScoreRow } from "../unify/scoreboard.js";
import type { DistilledModel } from "./zoo.js";

/**
 * The distillation goals (issue 10), judged on the demo's test items:
 * - the best dense distilled pivot (from every expert, or also trained on the experts' sampled text,
 *   at the base's size or widened)
 *   beats its own CLM control by more than 2 paired SEs in macro bits per byte (paired over test
 *   passages) and is the best single checkpoint;
 * - the best distilled pivot (the dense one, the one also trained on the experts' sampled text against
 *   its hard-label control, or the mixture-of-experts one of zoo/pivots-moe) closes ≥ 50% of the gap
 *   between its own CLM control and the router;
 * - the pivot distilled from family B alone beats the control beyond 2 paired SEs;
 * - FPO raises cloze accuracy over the pivot before FPO with z > 1.96 (every test-split cloze item);
 * - the best unified model against the centralised model of equal compute, reported either way.
 */
export interface DistillGoalInputs {
  rows: readonly ScoreRow[];
  /** Every test result, the distilled models' included. */
  records: readonly ResultRecord[];
  /** Results on every test-split cloze item, of the pivot before and after FPO. */
  clozeRecords: readonly ResultRecord[];
  domains: readonly string[];
  distilled: readonly DistilledModel[];
  /** Ids of the single checkpoints in the table (experts, bases, control, merges, distilled). */
  checkpoints: readonly string[];
  /** Ids of the unified models (router, ensemble, merge, pivots). */
  unified: readonly string[];
}

export function distillGoals(input: DistillGoalInputs): Goal[] {
  const { rows, records, domains } = input;
  const idOf = (role: DistilledModel["role"]) => input.distilled.find((m) => m.role === role)?.id;
  const row = (id: string | undefined) => rows.find((r) => r.model === id);
  const f = (x: number | undefined, digits = 3) => (x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(digits));
  const signed = (x: number) => (x >= 0 ? "+" : "") + f(x);
  const [pivot, control, familyB, fpo, centralised] = [idOf("pivot"), idOf("pivot-control"), idOf("pivot-family-b"), idOf("pivot-fpo"), idOf("centralised")];
  const goals: Goal[] = [];

  // The first goal: each dense distilled pivot against its own control; the line judges the best by bpb.
  const sampledPairs = [[idOf("pivot-sampled"), idOf("pivot-sampled-control")], [idOf("pivot-wide-sampled"), idOf("pivot-wide-sampled-control")]];
  const densePairs = [[pivot, control], ...sampledPairs].flatMap(([p, c]) =>
    p && c && row(p)?.macroBpb !== undefined ? [{ p, c, bpb: row(p)!.macroBpb! }] : [],
  );
  const dense = [...densePairs].sort((a, b) => a.bpb - b.bpb)[0];
  if (dense) {
    const d = pairedMacroBpb(records, dense.p, dense.c, domains);
    const others = rows.filter((r) => input.checkpoints.includes(r.model) && r.model !== dense.p && r.macroBpb !== undefined);
    const best = [...others].sort((a, b) => a.macroBpb! - b.macroBpb!)[0];
    const isBest = !best || dense.bpb < best.macroBpb!;
    const siblings = densePairs.filter((x) => x !== dense).map((x) => {
      const e = pairedMacroBpb(records, x.p, x.c, domains);
      return e ? `; ${x.p} − ${x.c} = ${signed(e.diff)} ± ${f(e.se)}` : "";
    });
    goals.push({
      goal: "the best distilled pivot beats its own CLM control by > 2 paired SE (macro bpb) and is the best single checkpoint",
      met: d !== undefined && -d.diff > 2 * d.se && isBest,
      detail: d
        ? `${dense.p} − ${dense.c} = ${signed(d.diff)} ± ${f(d.se)} bpb (${d.n} passages); ${isBest ? "best" : `not best: ${best?.model} ${f(best?.macroBpb)}`} single checkpoint at ${f(dense.bpb)}${siblings.join("")}`
        : "not enough paired passages",
    });
  }
  // The gap goal: every distilled pivot against its own CLM control; the line judges the one closing most.
  const router = row("unified-router")?.macroBpb;
  const gaps = [[pivot, control], ...sampledPairs, [idOf("pivot-moe"), idOf("pivot-moe-control")]].flatMap(([p, c]) => {
    const [pb, cb] = [row(p)?.macroBpb, row(c)?.macroBpb];
    return p && c && pb !== undefined && cb !== undefined && router !== undefined ? [{ p, c, pb, cb, closed: cb > router ? (cb - pb) / (cb - router) : -Infinity }] : [];
  });
  const best = gaps.sort((a, b) => b.closed - a.closed)[0];
  if (best && router !== undefined) {
    const d = pairedMacroBpb(records, best.p, best.c, domains);
    const others = gaps.slice(1).map((g) => `${g.p} ${Number.isFinite(g.closed) ? formatShare(g.cb - g.pb, g.cb - router) : "n/a"} of its gap`);
    goals.push({
      goal: "the best distilled pivot closes ≥ 50% of the gap between its own CLM control and the router (bits per byte)",
      met: Number.isFinite(best.closed) && best.closed >= 0.5,
      detail: `${best.p} closed ${Number.isFinite(best.closed) ? formatShare(best.cb - best.pb, best.cb - router) : "n/a: the router is not better than its control"} (control ${best.c} ${f(best.cb)}, pivot ${f(best.pb)}, router ${f(router)}${d ? `; pivot − control ${signed(d.diff)} ± ${f(d.se)}` : ""})${others.length ? `; ${others.join(", ")}` : ""}`,
    });
  }
  if (familyB && control) {
    const d = pairedMacroBpb(records, familyB, control, domains);
    goals.push({
      goal: "the pivot distilled from family-B experts alone beats the CLM control beyond 2 paired SE (knowledge crosses tokenizers)",
      met: d !== undefined && -d.diff > 2 * d.se,
      detail: d ? `${familyB} − ${control} = ${signed(d.diff)} ± ${f(d.se)} bpb (${d.n} passages)` : "not enough paired passages",
    });
  }
  if (pivot && fpo) {
    const d = pairedAccuracy(input.clozeRecords, fpo, pivot);
    const acc = (id: string) => {
      const mine = input.clozeRecords.filter((r) => r.model === id && r.metric === "acc");
      return mine.reduce((s, r) => s + r.score, 0) / Math.max(1, mine.length);
    };
    goals.push({
      goal: "after FPO, held-out cloze accuracy is above the pivot before FPO with z > 1.96 (every test-split cloze item)",
      met: d !== undefined && d.z > 1.96,
      detail: d ? `${fpo} ${f(acc(fpo))} vs ${pivot} ${f(acc(pivot))}: ${signed(d.diff)} ± ${f(d.se)}, z = ${f(d.z, 2)} (${d.n} items)` : "not enough paired items",
    });
  }
  if (centralised) {
    const unified = rows.filter((r) => input.unified.includes(r.model) && r.macroBpb !== undefined).sort((a, b) => a.macroBpb! - b.macroBpb!);
    const best = unified[0];
    const d = best ? pairedMacroBpb(records, best.model, centralised, domains) : undefined;
    const verdict = d === undefined ? "" : Math.abs(d.diff) <= 2 * d.se ? "within noise" : d.diff < 0 ? "the unified model is better" : "the centralised model is better";
    goals.push({
      goal: "the best unified model is compared with the centralised model of equal total compute (reported whichever way it goes)",
      met: d !== undefined,
      detail: d ? `${best!.model} − ${centralised} = ${signed(d.diff)} ± ${f(d.se)} bpb (${verdict}; ${best!.model} ${f(best!.macroBpb)}, ${centralised} ${f(row(centralised)?.macroBpb)})` : "no unified model with bits per byte",
    });
  }
  return goals;
}
