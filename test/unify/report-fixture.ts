/** A main-job report shaped like the zoo demo's (12 single models, 3 unified, 1 distilled, 3 domains), for the report tests. */
import type { MainJobReport } from "../../src/unify/main-job.js";
import { oracleRow, rowOf } from "../../src/unify/scoreboard.js";
import type { ResultRecord } from "../../src/eval/result.js";
import type { Ranking } from "../../src/rank/ranking.js";

const DOMAINS = ["law", "food", "geography"];

function records(model: string, k: number): ResultRecord[] {
  return DOMAINS.flatMap((domain, d) => [
    { model, item: `${domain}-bpb`, domain, task: domain, metric: "bpb", score: 0, bpb: 2 + ((k * 7 + d * 3) % 11) / 10, bytes: 10 },
    { model, item: `${domain}-acc`, domain, task: domain, metric: "acc", score: (k + d) % 3 === 0 ? 0 : 1 },
  ]);
}

export function zooLikeReport(): MainJobReport {
  const singles = ["a-base", "a-control", "a-law", "a-food", "a-geography", "a-medicine", "a-music", "a-sport", "a-chemistry", "a-art", "b-base", "b-law"];
  const unified = ["unified-router", "unified-ensemble", "unified-merge"];
  const distilled = ["pivot-all"];
  const rows = [...singles, ...unified, ...distilled].map((m, k) => rowOf(m, records(m, k), DOMAINS));
  const singleRows = rows.slice(0, singles.length);
  const ranking = {
    kind: "per-item", scale: "logit", method: "test", domains: DOMAINS, items: [], warnings: [],
    models: singles.map((model, i) => ({
      model, rating: 1 - i / 10, ci: [0.9 - i / 10, 1.1 - i / 10], rank: i + 1, rankRange: [i + 1, i + 1],
      domains: Object.fromEntries(DOMAINS.map((d, j) => [d, { ability: Math.sin(i + j), ci: [-1, 1] }])),
    })),
  } as Ranking;
  return {
    domains: DOMAINS, singles, unified, distilled, rows, oracle: oracleRow(singleRows, DOMAINS),
    goals: [{ goal: "router closes the gap", met: false, detail: "closed n/a: no gap to close" }],
    ranking, suspicious: [],
    ensemble: { stats: { steps: 0, ensembledSteps: 0, memberCalls: 0 }, ensembledDomains: ["law"], members: { law: ["a-law", "b-law"] } },
    routing: { accuracy: 0.8, meanConfidence: 0.6 },
    files: {}, seconds: 21,
  };
}
