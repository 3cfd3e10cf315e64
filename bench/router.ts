/**
 * Routing at scale: a Router over synthetic evidence (default 20,000 items, 200 experts, 20
 * domains; texts drawn from the zoo's committed item texts' real words, a Zipf-weighted vocabulary
 * per domain plus a shared one, so character n-grams are as common as in English). Prints the
 * build time (TF-IDF, inverted index, priors and leave-one-out calibration) and the p50/p99 time
 * of one route() through the inverted index against, side by side, the same router's linear scan
 * of the same index (`route(text, "scan")`), counting the requests whose decisions differ. Times
 * are wall clock and, beside them, this process's CPU time (user + system: what the work costs
 * on a machine shared with other loads, where wall time also counts waiting for a core).
 *
 *   npx tsx bench/router.ts [--items 20000] [--experts 200] [--queries 200] [--runs 3]
 */
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Rng } from "../src/core/rng.js";
import type { LabelledItem } from "../src/fuse/router/knn.js";
import { Router, type RouteDecision } from "../src/fuse/router/router.js";

const { values } = parseArgs({
  options: {
    items: { type: "string", default: "20000" },
    experts: { type: "string", default: "200" },
    domains: { type: "string", default: "20" },
    queries: { type: "string", default: "200" },
    runs: { type: "string", default: "3" },
  },
});
const nItems = Number(values.items);
const nExperts = Number(values.experts);
const nDomains = Number(values.domains);
const nQueries = Number(values.queries);
const runs = Number(values.runs);

const ZOO_ITEMS = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "zoo", "items");

function zooWords(): string[] {
  const words = new Set<string>();
  for (const file of readdirSync(ZOO_ITEMS).filter((f) => f.endsWith(".jsonl"))) {
    for (const word of readFileSync(path.join(ZOO_ITEMS, file), "utf8").toLowerCase().match(/\p{L}{2,}/gu) ?? []) words.add(word);
  }
  return [...words].sort();
}

/** Index of a Zipf(1)-distributed draw among n ranks. */
function zipf(rng: Rng, n: number): number {
  return Math.min(n - 1, Math.floor(Math.exp(rng.next() * Math.log(n + 1))) - 1);
}

function synthesize(seed: number): { items: LabelledItem[]; queries: string[]; experts: string[] } {
  const rng = new Rng(seed);
  const vocabulary = rng.shuffle(zooWords());
  const shared = vocabulary.slice(0, 400);
  const perDomain = Math.floor((vocabulary.length - 400) / nDomains);
  const domainWords = Array.from({ length: nDomains }, (_, d) => vocabulary.slice(400 + d * perDomain, 400 + (d + 1) * perDomain));
  const text = (d: number) =>
    Array.from({ length: 10 + rng.int(25) }, () => (rng.next() < 0.45 ? shared[zipf(rng, shared.length)] : domainWords[d][zipf(rng, perDomain)])).join(" ");
  const experts = Array.from({ length: nExperts }, (_, e) => `expert-${e}`);
  const skill = Array.from({ length: nExperts }, () => rng.normal() * 0.5);
  const items: LabelledItem[] = Array.from({ length: nItems }, (_, i) => {
    const d = i % nDomains;
    const difficulty = rng.normal();
    const scores: Record<string, number> = {};
    experts.forEach((e, j) => {
      const logit = skill[j] + (j % nDomains === d ? 1.5 : 0) - difficulty;
      scores[e] = rng.next() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
    });
    return { id: `item-${i}`, text: text(d), domain: `domain-${d}`, scores };
  });
  const queries = Array.from({ length: nQueries }, (_, q) => text(q % nDomains));
  return { items, queries, experts };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
/** Wall-clock and CPU milliseconds since `start`. */
const now = () => ({ wall: performance.now(), cpu: cpuMs() });
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const since = (start: { wall: number; cpu: number }) => ({ wall: performance.now() - start.wall, cpu: cpuMs() - start.cpu });
const sameDecision = (a: RouteDecision, b: RouteDecision) =>
  a.domain === b.domain && a.confidence === b.confidence && a.ranked.every((r, i) => r.expert === b.ranked[i].expert && r.utility === b.ranked[i].utility);

const { items, queries, experts } = synthesize(7);
console.log(`router: ${nItems} items, ${nExperts} experts, ${nDomains} domains, ${nQueries} requests, ${runs} runs`);
const builds: number[] = [];
const buildsCpu: number[] = [];
const fastP50: number[] = [];
const fastP99: number[] = [];
const scanP50: number[] = [];
const fastCpuP50: number[] = [];
const scanCpuP50: number[] = [];
let differing = 0;
for (let run = 0; run < runs; run++) {
  let t = now();
  const router = new Router(items, { experts });
  const build = since(t);
  builds.push(build.wall / 1000);
  buildsCpu.push(build.cpu / 1000);
  const fast: number[] = [];
  const scan: number[] = [];
  const fastCpu: number[] = [];
  const scanCpu: number[] = [];
  for (const q of queries) {
    t = now();
    const a = router.route(q);
    const fastTime = since(t);
    t = now();
    const b = router.route(q, "scan");
    const scanTime = since(t);
    fast.push(fastTime.wall);
    fastCpu.push(fastTime.cpu);
    scan.push(scanTime.wall);
    scanCpu.push(scanTime.cpu);
    if (run === 0 && !sameDecision(a, b)) differing++;
  }
  fastP50.push(median(fast));
  fastP99.push(quantile(fast, 0.99));
  scanP50.push(median(scan));
  fastCpuP50.push(median(fastCpu));
  scanCpuP50.push(median(scanCpu));
  console.log(
    `  run ${run + 1}: build ${builds[run].toFixed(2)} s (cpu ${buildsCpu[run].toFixed(2)} s), route p50 ${fastP50[run].toFixed(3)} ms (cpu ${fastCpuP50[run].toFixed(3)}), scan ${scanP50[run].toFixed(2)} ms (cpu ${scanCpuP50[run].toFixed(2)})`,
  );
}
const met = (ok: boolean) => (ok ? "met" : "missed");
const routeCpu = median(fastCpuP50);
const scanCpu = median(scanCpuP50);
const buildCpu = median(buildsCpu);
console.log(`\nissue 15 goals (medians of ${runs} runs; CPU time of this process, wall in brackets):`);
const rows: string[][] = [
  ["goal row", "measured", "reference (same run)", "ratio", "goal", ""],
  [`build a router, ${nItems} items, incl. calibration`, `${buildCpu.toFixed(2)} s (${median(builds).toFixed(2)} s)`, "—", "—", "≤ 3 s", met(buildCpu <= 3)],
  [
    "route one request, p50",
    `${routeCpu.toFixed(3)} ms (${median(fastP50).toFixed(3)} ms; p99 wall ${median(fastP99).toFixed(3)} ms)`,
    "—",
    "—",
    "≤ 0.5 ms",
    met(routeCpu <= 0.5),
  ],
  [
    "route vs brute-force scan of the same index",
    `${routeCpu.toFixed(3)} ms (${median(fastP50).toFixed(3)} ms)`,
    `scan ${scanCpu.toFixed(2)} ms (${median(scanP50).toFixed(2)} ms)`,
    `${(scanCpu / routeCpu).toFixed(1)}× (${(median(scanP50) / median(fastP50)).toFixed(1)}×)`,
    "≥ 50×",
    met(scanCpu / routeCpu >= 50),
  ],
  ["same decisions as the scan", `${differing} of ${queries.length} differ`, "scan", "—", "0 differ", met(differing === 0)],
];
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
for (const r of rows) console.log(`  ${r.map((cell, c) => cell.padEnd(widths[c])).join(" | ")}`);
