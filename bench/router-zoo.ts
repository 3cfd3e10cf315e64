/**
 * The demo's router replayed on its own evidence (issue 15, "keep the demo's router decisions as
 * good"): from a demo output folder (`npm run demo`, default demo-out/) it rebuilds the router as
 * the main job does — the experts' dev results, the ranking, item weights from it and the
 * domain-only texts — routes every test item and scores each with the chosen expert's own test
 * result (the router model answers with the expert it picks, so this is its result without
 * running a model). Prints macro bits per byte and accuracy per router variant, how many test
 * items each routes differently from the router the demo ran, and checks that the default
 * variant reproduces the demo's recorded unified-router results exactly.
 *
 *   npx tsx bench/router-zoo.ts [--demo-out demo-out] [--zoo zoo] [--variants router,mf]
 *
 * Exits 3 when the demo output is absent.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import type { ResultRecord } from "../src/eval/result.js";
import { loadDemoZoo } from "../src/demo/zoo.js";
import { parseResultsJsonl } from "../src/formats/results.js";
import { domainExample, itemText, labelledItems } from "../src/fuse/router/evidence.js";
import { itemWeightsFromRanking, Router, type RouterOptions } from "../src/fuse/router/router.js";
import { StackedRouter } from "../src/fuse/router/stacked-router.js";
import { MfRouter } from "../src/fuse/router/mf-router.js";
import type { Ranking } from "../src/rank/ranking.js";
import { splitItems } from "../src/unify/items.js";
import { domainOnlyItems, UNIFIED_IDS } from "../src/unify/main-job.js";
import { rowOf } from "../src/unify/scoreboard.js";

const { values } = parseArgs({ options: { "demo-out": { type: "string", default: "demo-out" }, zoo: { type: "string", default: "zoo" }, variants: { type: "string" } } });
const out = values["demo-out"];
for (const f of ["dev-results.jsonl", "test-results.jsonl", "ranking.json"]) {
  if (!existsSync(path.join(out, f))) {
    console.error(`skipped: ${path.join(out, f)} is absent (run \`npm run demo\` first, or pass --demo-out)`);
    process.exit(3);
  }
}

const zoo = await loadDemoZoo(values.zoo);
// The demo's split (src/demo/run.ts): 10 items per domain and kind, passages cut at 256 characters.
const { dev, test } = splitItems(zoo.items, { perDomainAndKind: 10, maxPassageChars: 256 });
const read = (f: string) => readFileSync(path.join(out, f), "utf8");
const devResults = parseResultsJsonl(read("dev-results.jsonl"), "dev-results.jsonl");
const testResults = parseResultsJsonl(read("test-results.jsonl"), "test-results.jsonl") as ResultRecord[];
const ranking = JSON.parse(read("ranking.json")) as Ranking;
const experts = [...new Set(devResults.map((r) => r.model))];
const byModelItem = new Map(testResults.map((r) => [`${r.model}\u0000${r.item}`, r]));
const recorded = testResults.filter((r) => r.model === UNIFIED_IDS.router);
if (recorded.length !== test.length) throw new Error(`${out}: ${recorded.length} unified-router results for ${test.length} test items: not this zoo's demo split`);

type Variant = Partial<RouterOptions> & { stacked?: boolean; mf?: boolean };
const variants: Record<string, Variant> = {
  router: {},
  // The kNN settings measured on MMLU-Pro (bench/router-quality.ts kNpW variants), here on the zoo.
  "k = 64": { k: 64 },
  "k = 256, prior weight 0.1": { k: 256, priorWeight: 0.1 },
  "prior weight 0.3": { priorWeight: 0.3 },
  // The opt-in StackedRouter (trained correctness scorer over kNN votes, prior and answer format).
  stacked: { stacked: true },
  // The opt-in MfRouter (kNN vote blended with a matrix-factorisation scorer, the blend cross-validated on the dev items).
  mf: { mf: true },
};

/** The expert whose own test result on the item is nearest the demo router's recorded bpb. */
function demoExpert(item: string, bpb: number): string {
  let best = { expert: "", gap: Infinity };
  for (const expert of experts) {
    const gap = Math.abs((byModelItem.get(`${expert}\u0000${item}`)?.bpb ?? Infinity) - bpb);
    if (gap < best.gap) best = { expert, gap };
  }
  return best.expert;
}

const chosen = values.variants?.split(",") ?? Object.keys(variants);
const unknown = chosen.filter((v) => !(v in variants));
if (unknown.length > 0) throw new Error(`unknown variant ${unknown.join(", ")} (known: ${Object.keys(variants).join(", ")})`);
console.log(`${dev.length} dev / ${test.length} test items, ${experts.length} experts, ${zoo.domains.length} domains (${out})`);
console.log("| variant | macro bpb | macro acc | test items routed differently from the demo's router |\n|---|---:|---:|---:|");
const row = (records: readonly ResultRecord[]) => rowOf("x", records, zoo.domains);
const demoRow = row(recorded);
console.log(`| demo's recorded unified-router | ${demoRow.macroBpb?.toFixed(3)} | ${demoRow.macroAcc?.toFixed(3)} | — |`);
for (const [name, { stacked, mf, ...extra }] of Object.entries(variants).filter(([name]) => chosen.includes(name))) {
  const options: RouterOptions = {
    experts,
    ranking,
    itemWeight: itemWeightsFromRanking(ranking),
    domainItems: domainOnlyItems(zoo.items, test).map(domainExample),
    ...extra,
  };
  const evidence = labelledItems(dev, devResults);
  const router = stacked ? new StackedRouter(evidence, options) : mf ? new MfRouter(evidence, options) : new Router(evidence, options);
  if (router instanceof MfRouter) console.error(`mf: chose blend weight ${router.chosen.weight}, MF penalty ${router.chosen.l2} (cross-validated ${router.chosen.value.toFixed(3)}; kNN alone ${router.crossValidation.find((c) => c.weight === 0)!.value.toFixed(3)})`);
  let differ = 0;
  const records = test.map((item) => {
    const expert = router.route(itemText(item)).ranked[0].expert;
    const own = byModelItem.get(`${expert}\u0000${item.id}`);
    if (!own) throw new Error(`${out}: no test result of ${expert} on ${item.id}`);
    const demo = recorded.find((r) => r.item === item.id)!;
    // Bits-per-byte records' `score` is relative to the models judged beside it: compare the bpb,
    // by the expert whose own result is nearest the demo's: at the trained context llama.cpp gave the
    // demo's router up to 2.4e-5 bpb away from the same expert's own run, and experts can be closer.
    if (own.metric === "bpb" ? demoExpert(item.id, demo.bpb!) !== expert : own.score !== demo.score) differ++;
    return own;
  });
  const r = row(records);
  console.log(`| ${name} | ${r.macroBpb?.toFixed(3)} | ${r.macroAcc?.toFixed(3)} | ${differ} |`);
}
