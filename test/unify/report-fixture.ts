/**
 * Main-job reports for the report tests: `zooLikeReport` is shaped like the zoo demo's (12 single
 * models, 3 unified, 1 distilled reference, 3 domains); `wideReport` like a user's own experts with long
 * Hugging Face names over eight domains, to check that nothing overflows or is cut off.
 */
import type { UnifyReport } from "../../src/unify/main-job.js";
import { oracleRow, rowOf } from "../../src/unify/scoreboard.js";
import type { ResultRecord } from "../../src/eval/result.js";
import type { Ranking } from "../../src/rank/ranking.js";

const DOMAINS = ["law", "food", "geography"];
const WIDE_DOMAINS = ["law", "food", "geography", "medicine", "music", "sport", "chemistry", "art"];

function records(model: string, k: number, domains = DOMAINS): ResultRecord[] {
  return domains.flatMap((domain, d) => [
    { model, item: `${domain}-bpb`, domain, task: domain, metric: "bpb", score: 0, bpb: 2 + ((k * 7 + d * 3) % 11) / 10, bytes: 10 },
    { model, item: `${domain}-acc`, domain, task: domain, metric: "acc", score: (k + d) % 3 === 0 ? 0 : 1 },
  ]);
}

export function zooLikeReport(): UnifyReport {
  const singles = ["a-base", "a-control", "a-law", "a-food", "a-geography", "a-medicine", "a-music", "a-sport", "a-chemistry", "a-art", "b-base", "b-law"];
  return report(singles, ["unified-router", "unified-ensemble", "unified-merge"], ["pivot-all"], DOMAINS);
}

export function wideReport(): UnifyReport {
  const singles = WIDE_DOMAINS.map((d) => `example-org/Meta-Llama-3.1-8B-Instruct-${d}-expert-v2-Q4_K_M`);
  return report(singles, ["unified-router", "unified-ensemble"], [], WIDE_DOMAINS);
}

function report(singles: string[], unified: string[], references: string[], domains: string[]): UnifyReport {
  const rows = [...singles, ...unified, ...references].map((m, k) => rowOf(m, records(m, k, domains), domains));
  const singleRows = rows.slice(0, singles.length);
  const ranking = {
    kind: "per-item", scale: "logit", method: "test", domains: domains, items: [], warnings: [],
    models: singles.map((model, i) => ({
      model, rating: 1 - i / 10, ci: [0.9 - i / 10, 1.1 - i / 10], rank: i + 1, rankRange: [i + 1, i + 1],
      domains: Object.fromEntries(domains.map((d, j) => [d, { ability: Math.sin(i + j), ci: [-1, 1] }])),
    })),
  } as Ranking;
  return {
    domains, singles, unified, references, rows, oracle: oracleRow(singleRows, domains),
    policies: {
      requested: ["router", "ensemble", "merge"],
      built: unified.map((id) => ({ policy: id.replace("unified-", ""), id })) as UnifyReport["policies"]["built"],
      skipped: [], notes: [],
    },
    items: { dev: 6, test: 6, unjudged: [] },
    goals: [{ goal: "router closes the gap", met: false, detail: "closed n/a: no gap to close" }],
    ranking, suspicious: [],
    ensemble: { stats: { steps: 0, ensembledSteps: 0, memberCalls: 0 }, ensembledDomains: ["law"], members: { law: singles.slice(0, 2) } },
    routing: { accuracy: 0.8, meanConfidence: 0.6 },
    files: {}, serveCommand: "npx cogen serve --config out/unified.yml", seconds: 21,
  };
}
