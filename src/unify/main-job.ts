import { promises as fs } from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../core/atomic.js";
import type { LanguageModel } from "../core/language-model.js";
import { silentProgress, type Progress } from "../core/progress.js";
import type { TaskItem } from "../formats/tasks.js";
import { createEnsembleModel, type EnsembleStats } from "../fuse/ensemble/ensemble.js";
import { labelledItems } from "../fuse/router/evidence.js";
import type { LabelledItem } from "../fuse/router/knn.js";
import { itemWeightsFromRanking, Router } from "../fuse/router/router.js";
import { createRouterModel } from "../fuse/router/router-model.js";
import { runMerge } from "../merge/engine.js";
import { createLlamaCppModel } from "../models/llamacpp/model.js";
import { rankResults } from "../rank/per-item.js";
import { relativeScores } from "../rank/relative-scores.js";
import type { Ranking } from "../rank/ranking.js";
import { suspiciousItems } from "../rank/item-quality.js";
import { abilitiesOf } from "../serve/policies.js";
import { measureAdaptZooGoals, type AdaptZooGoalsOptions, type AdaptZooGoalsReport } from "../adapt/zoo-goals.js";
import { adaptGoals } from "./adapt-goals.js";
import { distillGoals } from "./distill-goals.js";
import { evaluateModels } from "./evaluate-models.js";
import { generationSpeed, moeGateQuality, moeGoals, openDemoMoe, type GenerationSpeed } from "./moe.js";
import type { GateQuality } from "../fuse/moe/gate-quality.js";
import type { ZooMoeCheckpoint } from "../fuse/moe/zoo-moe.js";
import { splitDemoItems } from "./items.js";
import { oracleRow, scoreRows, type ScoreRow } from "./scoreboard.js";
import type { DemoZoo } from "./zoo.js";

/**
 * The main job, end to end on the zoo: evaluate every model on dev items → rank them per domain
 * and flag suspicious items → build the unified models (router, token-level ensemble, TIES merge
 * of the experts that share base-a) → evaluate everything on test items → one table, the goals,
 * report.html, and a serve config for the best unified model.
 */
export interface MainJobOptions {
  zoo: DemoZoo;
  outDir: string;
  /** Items per domain, kind and split (default 10). */
  itemsPerDomain?: number;
  progress?: Progress;
  log?: (line: string) => void;
  /** Also measure `cogen adapt` on the zoo's unseen domain (LoRA training and compose: minutes). */
  adapt?: Omit<AdaptZooGoalsOptions, "zoo" | "progress">;
}

export interface Goal {
  goal: string;
  met: boolean;
  detail: string;
}

export interface MainJobReport {
  domains: string[];
  singles: string[];
  unified: string[];
  /** Single checkpoints judged beside them but members of nothing: the distilled pivots and the centralised model. */
  distilled: string[];
  rows: ScoreRow[];
  oracle: ScoreRow & { picks: Record<string, { bpb?: string; acc?: string }> };
  goals: Goal[];
  ranking: Ranking;
  suspicious: { item: string; domain: string; flags: string[] }[];
  ensemble: { stats: EnsembleStats; ensembledDomains: string[]; members: Record<string, string[]> };
  routing: { accuracy: number; meanConfidence: number };
  /** The zoo's mixtures of experts (zoo/moe/), when present: gate quality, training, speed. */
  moe?: { experts: string[]; gateQuality: Record<string, GateQuality>; checkpoints: ZooMoeCheckpoint[]; speed?: GenerationSpeed };
  /** `cogen adapt` on the zoo's unseen domain, when asked for (options.adapt). */
  adapt?: AdaptZooGoalsReport;
  files: Record<string, string>;
  seconds: number;
}

export async function runMainJob(options: MainJobOptions): Promise<MainJobReport> {
  const started = Date.now();
  const progress = options.progress ?? silentProgress;
  const log = options.log ?? (() => {});
  const { zoo } = options;
  await fs.mkdir(options.outDir, { recursive: true });
  const file = (name: string) => path.join(options.outDir, name);
  const domains = zoo.domains;
  const { dev, test } = splitDemoItems(zoo.items, options.itemsPerDomain ?? 10);
  log(`items: ${dev.length} dev (evidence for ranking and routing), ${test.length} test (judging); ${domains.length} domains`);

  const singles: LanguageModel[] = [];
  const opened: LanguageModel[] = [];
  try {
    for (const m of zoo.models) {
      const model = await createLlamaCppModel({ id: m.id, path: m.gguf, contextSize: 512, threads: 1 });
      singles.push(model);
      opened.push(model);
    }
    log(`models: ${singles.map((m) => m.id).join(", ")}`);

    // 1. Evidence: every single model on the dev items.
    const devResults = await evaluateModels(singles, dev, progress, "evaluate models (dev)");
    await writeJsonl(file("dev-results.jsonl"), devResults);
    await writeJsonl(file("dev-items.jsonl"), dev.map(taskLine));

    // 2. Rank per domain, with intervals; flag suspicious items.
    // Bits-per-byte scores are compared per item (best model 1, worst 0); 0/1 accuracy is kept.
    const fit = rankResults(relativeScores(devResults), { seed: 0 });
    const ranking = fit.ranking;
    await writeFileAtomic(file("ranking.json"), JSON.stringify(ranking, null, 2) + "\n");
    const suspicious = suspiciousItems(ranking.items, 5).map((i) => ({ item: i.item, domain: i.domain, flags: [...i.flags] }));

    // 3. Unified models.
    const router = new Router(labelledItems(dev, devResults), {
      experts: singles.map((m) => m.id),
      ranking,
      itemWeight: itemWeightsFromRanking(ranking),
      domainItems: domainOnlyItems(zoo.items, test),
    });
    const routerModel = createRouterModel(router, new Map(singles.map((m) => [m.id, m])), { id: "unified-router" });
    const ensemble = createEnsembleModel({
      id: "unified-ensemble",
      members: singles.map((model) => ({ model, abilities: abilitiesOf(ranking, model.id) })),
      domainOf: (text) => router.route(text).domain,
      maxAbilityGap: 1.5,
      weightTemperature: 0.5,
    });
    const mergeDir = file("merged-ties");
    const familyA = zoo.models.filter((m) => m.family === "a" && m.role === "expert" && m.hf);
    const base = zoo.models.find((m) => m.family === "a" && m.role === "base");
    const unified: LanguageModel[] = [routerModel, ensemble];
    if (base?.hf && familyA.length > 1) {
      const config = [
        "merge_method: ties",
        `base_model: ${base.hf}`,
        "models:",
        ...familyA.map((m) => `  - model: ${m.hf}\n    parameters: { weight: 1.0, density: 0.5 }`),
        "parameters: { normalize: true }",
        "dtype: float32",
      ].join("\n");
      await runMerge({ config, configName: "demo-ties.yml", outDir: mergeDir, outFormat: "gguf", seed: 0 });
      const gguf = (await fs.readdir(mergeDir)).find((f) => f.endsWith(".gguf"));
      if (gguf) {
        const merged = await createLlamaCppModel({ id: "unified-ties-merge", path: path.join(mergeDir, gguf), contextSize: 512, threads: 1 });
        opened.push(merged);
        unified.push(merged);
      }
    }
    // Mixtures of experts (family A's experts with hidden-state and trained gates), one GGUF each.
    const moe = await openDemoMoe(zoo.root);
    if (moe) {
      opened.push(...moe.models);
      unified.push(...moe.models);
    }
    log(`unified models: ${unified.map((m) => m.id).join(", ")}`);

    // Distilled checkpoints and the centralised model: judged on the same items, members of nothing.
    const distilled: LanguageModel[] = [];
    for (const m of zoo.distilled ?? []) {
      const model = await createLlamaCppModel({ id: m.id, path: m.gguf, contextSize: 512, threads: 1 });
      opened.push(model);
      distilled.push(model);
    }
    if (distilled.length) log(`distilled and centralised models: ${distilled.map((m) => m.id).join(", ")}`);

    // 4. Judge everything on the test items.
    const testResults = await evaluateModels([...singles, ...unified, ...distilled], test, progress, "evaluate on test items");
    await writeJsonl(file("test-results.jsonl"), testResults);

    // Routing quality on test: did the router pick the domain's expert?
    let hits = 0;
    let confidence = 0;
    for (const item of test) {
      const decision = router.route(textOf(item));
      confidence += decision.confidence;
      hits += decision.domain === item.domain ? 1 : 0;
    }

    const order = [...singles.map((m) => m.id), ...unified.map((m) => m.id), ...distilled.map((m) => m.id)];
    const allRows = scoreRows(testResults, domains, order);
    const rows = allRows.filter((r) => !distilled.some((m) => m.id === r.model));
    const singleRows = rows.filter((r) => singles.some((m) => m.id === r.model));
    const oracle = oracleRow(singleRows, domains);
    // The members the ensemble used on each domain's test passages (its filter decides per request).
    const ensembleMembers = Object.fromEntries(domains.map((d) => {
      const used = new Set<string>();
      for (const item of test) if (item.domain === d && item.kind === "bits_per_byte") for (const p of ensemble.participants(textOf(item))) used.add(p.model.id);
      return [d, [...used]];
    }));
    const ensembledDomains = domains.filter((d) => ensembleMembers[d].length > 1);
    const goals = judgeGoals(rows, singleRows, oracle, ensembleMembers, ensembledDomains);
    let speed: GenerationSpeed | undefined;
    const top2 = moe?.models.find((m) => m.id === "unified-moe-trained-top2");
    const denseExpert = singles.find((m) => familyA.some((e) => e.id === m.id));
    if (top2 && denseExpert) speed = await generationSpeed(top2, denseExpert, test.filter((i) => i.kind === "bits_per_byte").slice(0, 4).map((i) => textOf(i).slice(0, 60)));
    goals.push(...moeGoals(rows, singles.map((m) => m.id), speed));
    const roleOf = (id: string) => zoo.distilled?.find((m) => m.id === id)?.role;
    const distilledUnified = distilled.filter((m) => ["pivot", "pivot-family-b", "pivot-fpo"].includes(roleOf(m.id) ?? "")).map((m) => m.id);
    if (distilled.length) {
      // FPO is judged on every test-split cloze item (not only the capped table sample).
      const pivot = distilled.find((m) => roleOf(m.id) === "pivot");
      const fpo = distilled.find((m) => roleOf(m.id) === "pivot-fpo");
      const allCloze = splitDemoItems(zoo.items.filter((i) => i.task === "zoo-cloze"), Number.MAX_SAFE_INTEGER).test;
      const clozeRecords = pivot && fpo ? await evaluateModels([pivot, fpo], allCloze, progress, "cloze before and after FPO") : [];
      if (clozeRecords.length) await writeJsonl(file("fpo-cloze-results.jsonl"), clozeRecords);
      goals.push(...distillGoals({
        rows: allRows, records: testResults, clozeRecords, domains, distilled: zoo.distilled ?? [],
        checkpoints: [...singles.map((m) => m.id), ...unified.filter((m) => m.id === "unified-ties-merge").map((m) => m.id), ...distilled.map((m) => m.id)],
        unified: [...unified.map((m) => m.id), ...distilledUnified],
      }));
    }
    const adapt = options.adapt ? await measureAdaptZooGoals({ ...options.adapt, zoo: zoo.root, progress }) : undefined;
    if (adapt) goals.push(...adaptGoals(adapt));
    const report: MainJobReport = {
      domains,
      singles: singles.map((m) => m.id),
      unified: unified.map((m) => m.id),
      distilled: distilled.map((m) => m.id),
      rows: allRows,
      oracle,
      goals,
      ranking,
      suspicious,
      ensemble: { stats: { ...ensemble.stats }, ensembledDomains, members: ensembleMembers },
      routing: { accuracy: hits / test.length, meanConfidence: confidence / test.length },
      ...(moe ? { moe: { experts: moe.manifest.experts, gateQuality: moeGateQuality(moe.manifest), checkpoints: moe.manifest.checkpoints, speed } } : {}),
      ...(adapt ? { adapt } : {}),
      files: {
        ranking: file("ranking.json"), devResults: file("dev-results.jsonl"), testResults: file("test-results.jsonl"),
        devItems: file("dev-items.jsonl"), report: file("report.html"), serveConfig: file("unified.yml"), summary: file("summary.json"),
      },
      seconds: (Date.now() - started) / 1000,
    };
    await writeFileAtomic(file("unified.yml"), serveConfig(zoo, report));
    await writeFileAtomic(file("summary.json"), JSON.stringify({ ...report, ranking: undefined }, null, 2) + "\n");
    return report;
  } finally {
    await Promise.all(opened.map((m) => m.close()));
  }
}

function textOf(item: TaskItem): string {
  return item.kind === "multiple_choice" ? item.context : item.kind === "exact_match" ? item.prompt : item.text;
}

/**
 * Held-out zoo text that is neither judged nor evaluated, labelled only with its domain: it
 * teaches the router what each domain's text looks like. Any item whose text shares its start
 * with any test text (the same record in another item kind, or a line of a test passage) is
 * left out, so no test text is seen even in another form.
 */
function domainOnlyItems(items: readonly TaskItem[], test: readonly TaskItem[]): LabelledItem[] {
  const testIds = new Set(test.map((i) => i.id));
  const testText = test.map(textOf).join("\n");
  return items
    .filter((i) => !testIds.has(i.id) && !testText.includes(textOf(i).slice(0, 24)))
    .map((i) => ({ id: i.id, text: textOf(i), domain: i.domain, scores: {} }));
}

function taskLine(item: TaskItem): Record<string, unknown> {
  const base = { id: item.id, domain: item.domain, task: item.task };
  if (item.kind === "multiple_choice") return { ...base, context: item.context, choices: item.choices, answer: item.answer };
  if (item.kind === "exact_match") return { ...base, prompt: item.prompt, answer: item.answers };
  return { ...base, text: item.text };
}

async function writeJsonl(target: string, rows: readonly object[]): Promise<void> {
  await writeFileAtomic(target, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
}

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
    goal: "best unified model beats the best single model in multiple-choice accuracy (macro, beyond 1.96 standard errors)",
    met: diffSe > 0 && diff > 1.96 * diffSe,
    detail: `${bestUnifiedAcc?.model} ${f(bestUnifiedAcc?.macroAcc)} ± ${f(bestUnifiedAcc?.macroAccSe)} vs ${bestSingleAcc?.model} ${f(bestSingleAcc?.macroAcc)} ± ${f(bestSingleAcc?.macroAccSe)}: difference ${diff >= 0 ? "+" : ""}${f(diff)} ± ${f(diffSe)}${diff > 1.96 * diffSe ? "" : " (within noise)"}`,
  });
  if (router?.macroBpb !== undefined && oracle.macroBpb !== undefined && bestSingleBpb?.macroBpb !== undefined) {
    const gap = bestSingleBpb.macroBpb - oracle.macroBpb;
    const closed = gap > 0 ? (bestSingleBpb.macroBpb - router.macroBpb) / gap : NaN;
    goals.push({
      goal: "router closes ≥ 70% of the gap between the best single model and the per-domain oracle (bits per byte)",
      met: closed >= 0.7,
      detail: `closed ${(closed * 100).toFixed(0)}% (best single ${f(bestSingleBpb.macroBpb)}, router ${f(router.macroBpb)}, oracle ${f(oracle.macroBpb)})`,
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
    detail: ensembledDomains.length === 0 ? "the compatibility filter left one member in every domain" : `${wins.length} wins, ${losses.length} losses${losses.length ? ": " + losses.join("; ") : ""}`,
  });
  return goals;
}

export function serveConfig(zoo: DemoZoo, report: MainJobReport): string {
  const lines = ["# Written by `npm run demo`: serve the unified models with", "#   cogen serve --config " + report.files.serveConfig, "experts:"];
  for (const m of zoo.models) lines.push(`  - { id: ${m.id}, backend: llamacpp, path: ${JSON.stringify(m.gguf)}, threads: 1, context_size: 512 }`);
  lines.push("serve:");
  lines.push(`  - id: unified-router`, `    policy: router`, `    members: [${report.singles.join(", ")}]`);
  lines.push(`    options: { tasks: dev-items.jsonl, results: dev-results.jsonl, ranking: ranking.json }`);
  lines.push(`  - id: unified-ensemble`, `    policy: ensemble`, `    members: [${report.singles.join(", ")}]`);
  lines.push(`    options: { tasks: dev-items.jsonl, results: dev-results.jsonl, ranking: ranking.json, max_ability_gap: 1.5 }`);
  for (const m of zoo.models) lines.push(`  - { id: ${m.id}, policy: single, members: [${m.id}] }`);
  return lines.join("\n") + "\n";
}
