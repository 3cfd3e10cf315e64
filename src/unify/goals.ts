import type { ScoreRow } from "./scoreboard.js";

/** A goal of the main job, judged on the test items: met or not, and the numbers that say so. */
export interface Goal {
  goal: string;
  met: boolean;
  detail: string;
}

/**
 * The unified models' goals: the best unified model against the best single one (bits per byte;
 * accuracy beyond its standard error), the router against the per-domain oracle, and the
 * ensemble against each of its members where it ensembles.
 */
export function judgeGoals(
  rows: ScoreRow[],
  singleRows: ScoreRow[],
  oracle: ScoreRow,
  ensembleMembers: Record<string, string[]>,
  ensembledDomains: string[],
): Goal[] {
  const unifiedRows = rows.filter((r) => !singleRows.includes(r));
  const bestSingleBpb = [...singleRows].sort((a, b) => (a.macroBpb ?? Infinity) - (b.macroBpb ?? Infinity))[0];
  const bestUnifiedBpb = [...unifiedRows].sort((a, b) => (a.macroBpb ?? Infinity) - (b.macroBpb ?? Infinity))[0];
  const bestSingleAcc = [...singleRows].sort((a, b) => (b.macroAcc ?? -1) - (a.macroAcc ?? -1))[0];
  const bestUnifiedAcc = [...unifiedRows].sort((a, b) => (b.macroAcc ?? -1) - (a.macroAcc ?? -1))[0];
  const router = rows.find((r) => r.model === "unified-router");
  const goals: Goal[] = [];
  const f = (x: number | undefined, digits = 3) => (x === undefined ? "n/a" : x.toFixed(digits));
  goals.push({
    goal: "best unified model beats the best single model in bits per byte (macro)",
    met: (bestUnifiedBpb?.macroBpb ?? Infinity) < (bestSingleBpb?.macroBpb ?? -Infinity),
    detail: `${bestUnifiedBpb?.model} ${f(bestUnifiedBpb?.macroBpb)} vs ${bestSingleBpb?.model} ${f(bestSingleBpb?.macroBpb)}`,
  });
  // Accuracy on a few hundred items is noisy: the goal counts as met only when the difference is
  // clear of its standard error (z > 1.96), not on point estimates.
  const diff = (bestUnifiedAcc?.macroAcc ?? 0) - (bestSingleAcc?.macroAcc ?? 0);
  const diffSe = Math.hypot(bestUnifiedAcc?.macroAccSe ?? 0, bestSingleAcc?.macroAccSe ?? 0);
  goals.push({
    goal: "best unified model beats the best single model in accuracy (macro, beyond 1.96 standard errors)",
    met: diffSe > 0 && diff > 1.96 * diffSe,
    detail: `${bestUnifiedAcc?.model} ${f(bestUnifiedAcc?.macroAcc)} ± ${f(bestUnifiedAcc?.macroAccSe)} vs ${bestSingleAcc?.model} ${f(bestSingleAcc?.macroAcc)} ± ${f(bestSingleAcc?.macroAccSe)}: difference ${diff >= 0 ? "+" : ""}${f(diff)} ± ${f(diffSe)}${diff > 1.96 * diffSe ? "" : " (within noise)"}`,
  });
  if (router?.macroBpb !== undefined && oracle.macroBpb !== undefined && bestSingleBpb?.macroBpb !== undefined) {
    const gap = bestSingleBpb.macroBpb - oracle.macroBpb;
    const closed = gap > 0 ? (bestSingleBpb.macroBpb - router.macroBpb) / gap : NaN;
    goals.push({
      goal: "router closes ≥ 70% of the gap between the best single model and the per-domain oracle (bits per byte)",
      met: closed >= 0.7,
      detail: `${gap > 0 ? `closed ${(closed * 100).toFixed(0)}%` : "no gap to close: one model is best in every domain"} (best single ${f(bestSingleBpb.macroBpb)}, router ${f(router.macroBpb)}, oracle ${f(oracle.macroBpb)})`,
    });
  }
  // Ensemble vs each member on the domains where it ensembles, in bits per byte.
  const wins: string[] = [];
  const losses: string[] = [];
  const ours = rows.find((r) => r.model === "unified-ensemble");
  for (const d of ensembledDomains) {
    for (const m of ensembleMembers[d]) {
      const theirs = rows.find((r) => r.model === m)?.domains[d]?.bpb;
      const mine = ours?.domains[d]?.bpb;
      if (mine === undefined || theirs === undefined) continue;
      (mine < theirs ? wins : losses).push(`${d}: ${f(mine)} vs ${m} ${f(theirs)}`);
    }
  }
  goals.push({
    goal: "the ensemble beats each of its members on the domains where it ensembles (bits per byte)",
    met: wins.length > 0 && losses.length === 0,
    detail: !rows.some((r) => Object.values(r.domains).some((c) => c.bpbItems > 0)) ? "no bits-per-byte test items to judge it on"
      : ensembledDomains.length === 0 ? "the compatibility filter left one member in every domain" : `${wins.length} wins, ${losses.length} losses${losses.length ? ": " + losses.join("; ") : ""}`,
  });
  return goals;
}
