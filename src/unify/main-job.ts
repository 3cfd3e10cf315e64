import { promises as fs } from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../core/atomic.js";
import { BackendError, ConfigError } from "../core/errors.js";
import { readPlotly } from "../core/html.js";
import type { LanguageModel } from "../core/language-model.js";
import { silentProgress, type Progress } from "../core/progress.js";
import type { ExpertSpec } from "../formats/models-file.js";
import type { TaskItem } from "../formats/tasks.js";
import type { JobQueue } from "../eval/jobs/queue.js";
import type { ResultRecord } from "../eval/result.js";
import { readResultRecords } from "../eval/results-log.js";
import { runEval } from "../eval/runner.js";
import type { GateQuality } from "../fuse/moe/gate-quality.js";
import type { ZooMoeCheckpoint } from "../fuse/moe/zoo-moe.js";
import { createEnsembleModel, type EnsembleStats } from "../fuse/ensemble/ensemble.js";
import { domainExample, itemText, labelledItems } from "../fuse/router/evidence.js";
import { itemWeightsFromRanking, Router } from "../fuse/router/router.js";
import { createRouterModel } from "../fuse/router/router-model.js";
import { openModel } from "../models/open.js";
import { rankResults } from "../rank/per-item.js";
import { relativeScores } from "../rank/relative-scores.js";
import type { Ranking } from "../rank/ranking.js";
import { suspiciousItems } from "../rank/item-quality.js";
import { abilitiesOf } from "../serve/policies.js";
import { buildCheckpoints, CHECKPOINT_IDS } from "./checkpoints.js";
import type { DistillSettings } from "./distill.js";
import { evaluateModels } from "./evaluate-models.js";
import { judgeGoals, type Goal } from "./goals.js";
import { splitItems, type SplitOptions } from "./items.js";
import { judgeResumably } from "./judging-log.js";
import { claimOutDir } from "./out-dir.js";
import { dropStaleResults } from "./stale-results.js";
import { DEFAULT_UNIFY_POLICIES, type SkippedPolicy, type UnifyPolicy } from "./policies.js";
import { renderUnifyHtml } from "./report-html.js";
import { commonItems, describeUnjudged, oracleRow, scoreRows, type ScoreRow } from "./scoreboard.js";
import { ENSEMBLE_SETTINGS, unifiedYaml } from "./serve-config.js";

export type { Goal } from "./goals.js";

/**
 * The main job on anyone's experts (`cogen unify`): evaluate every expert on dev items
 * (resumable; through the queue when given) → rank them per domain with intervals and flag
 * suspicious items → build the unified models (router and token-level ensemble always; a TIES
 * merge and a mixture of experts from experts that share a base, when asked) → judge everything
 * on the test items → one table, the goals, report.html, summary.json and unified.yml, which
 * `cogen serve` loads. The demo is this job on the zoo, with the zoo's extras.
 */
export interface UnifyOptions {
  /** The experts (a models file, parsed: src/formats/models-file.ts). At least two. */
  experts: ExpertSpec[];
  /** The models file the experts came from, named in messages about them. */
  modelsFile?: string;
  /** Held-out items (a task file, parsed), split into dev and test by id (items.ts). */
  items: TaskItem[];
  outDir: string;
  /** Default router, ensemble, merge; router and ensemble are built in any case. */
  policies?: readonly UnifyPolicy[];
  /** Column order of the table (default: the items' domains in order of appearance). */
  domains?: string[];
  split?: SplitOptions;
  /** Hand the experts' evaluation jobs to workers (default: evaluate here). */
  queue?: JobQueue;
  /** Training of the distilled pivot (policy `distill`). */
  distill?: DistillSettings;
  /** Models evaluated at once in this process (default 2). */
  lanes?: number;
  extras?: UnifyExtras;
  progress?: Progress;
  log?: (line: string) => void;
}

/**
 * What a caller adds to the job (the demo adds the zoo's): checkpoints built elsewhere, judged
 * beside the unified models, and goals of its own.
 */
export interface UnifyExtras {
  /** Unified checkpoints built before (e.g. committed mixtures of experts): judged and served. */
  unified?: ExpertSpec[];
  /** Single checkpoints judged beside everything but members of nothing (distilled, centralised). */
  references?: ExpertSpec[];
  /** Goals of the caller's own, judged after the test results are in. */
  judge?: (context: JudgeContext) => Promise<{ goals: Goal[]; moe?: MoeSummary }>;
}

export interface JudgeContext {
  domains: string[];
  singles: string[];
  unified: string[];
  references: string[];
  /** Every table row, references included. */
  rows: ScoreRow[];
  records: ResultRecord[];
  test: TaskItem[];
  /** Every opened model by id. */
  models: ReadonlyMap<string, LanguageModel>;
  evaluate(models: readonly LanguageModel[], items: readonly TaskItem[], label: string): Promise<ResultRecord[]>;
  /** Write a JSONL file into the output folder (atomically); returns its path. */
  writeJsonl(name: string, rows: readonly object[]): Promise<string>;
}

export interface MoeSummary {
  experts: string[];
  gateQuality: Record<string, GateQuality>;
  checkpoints: ZooMoeCheckpoint[];
  speed?: { moe: string; dense: string; moeTokensPerSecond: number; denseTokensPerSecond: number; ratio: number; rounds: number };
}

export interface BuiltModel {
  policy: UnifyPolicy;
  id: string;
  /** For merges and mixtures: the base and the experts combined; for the distilled pivot: the pivot and its teachers. */
  from?: { base: string; experts: string[] };
}

export interface UnifyReport {
  domains: string[];
  singles: string[];
  unified: string[];
  /** Single checkpoints judged beside them but members of nothing (the caller's references). */
  references: string[];
  policies: { requested: UnifyPolicy[]; built: BuiltModel[]; skipped: SkippedPolicy[]; notes: string[] };
  /** `unjudged`: test items left out of the table because some model has no result for them (with those models). */
  items: { dev: number; test: number; unjudged: { item: string; missing: string[] }[] };
  rows: ScoreRow[];
  oracle: ScoreRow & { picks: Record<string, { bpb?: string; acc?: string }> };
  goals: Goal[];
  ranking: Ranking;
  suspicious: { item: string; domain: string; flags: string[] }[];
  ensemble: { stats: EnsembleStats; ensembledDomains: string[]; members: Record<string, string[]> };
  routing: { accuracy: number; meanConfidence: number };
  moe?: MoeSummary;
  files: Record<string, string>;
  /** The command that serves unified.yml. */
  serveCommand: string;
  seconds: number;
}

export const UNIFIED_IDS = { router: "unified-router", ensemble: "unified-ensemble", ...CHECKPOINT_IDS } as const;

/** Everything wrong with the inputs, at once, before anything is written. */
async function checkInputs(options: UnifyOptions, dev: TaskItem[], test: TaskItem[]): Promise<void> {
  const problems: string[] = (await missingFiles([...options.experts, ...(options.extras?.unified ?? []), ...(options.extras?.references ?? [])]))
    .map((p) => (options.modelsFile ? `${options.modelsFile}: ${p}` : p));
  if (options.experts.length < 2) problems.push(`unify needs at least two experts (got ${options.experts.length})`);
  const ids = new Set<string>();
  for (const spec of [...options.experts, ...(options.extras?.unified ?? []), ...(options.extras?.references ?? [])]) {
    if (ids.has(spec.id)) problems.push(`model id '${spec.id}' is used twice`);
    ids.add(spec.id);
  }
  for (const id of Object.values(UNIFIED_IDS)) if (ids.has(id)) problems.push(`model id '${id}' is reserved for the unified model unify builds; rename that expert`);
  if (dev.length === 0 || test.length === 0) {
    problems.push(`the items split into ${dev.length} dev and ${test.length} test items: both sides need items (give more items; the split is by a hash of each id)`);
  }
  if (problems.length) throw new ConfigError(problems);
}

export async function unify(options: UnifyOptions): Promise<UnifyReport> {
  const started = Date.now();
  const progress = options.progress ?? silentProgress;
  const log = options.log ?? (() => {});
  const requested = [...new Set<UnifyPolicy>(["router", "ensemble", ...(options.policies ?? DEFAULT_UNIFY_POLICIES)])];
  const { dev, test } = splitItems(options.items, options.split);
  await checkInputs(options, dev, test);
  const domains = options.domains ?? [...new Set(options.items.map((i) => i.domain))];
  const experts = options.experts;
  await claimOutDir(options.outDir);
  const file = (name: string) => path.join(options.outDir, name);
  // A summary.json from an earlier run would look complete while this one works.
  await fs.rm(file("summary.json"), { force: true });
  log(`items: ${dev.length} dev (evidence for ranking and routing), ${test.length} test (judging); ${domains.length} domains`);
  log(`models: ${experts.map((m) => m.id).join(", ")}`);
  const lanes = options.lanes ?? 2;

  // 1. Evidence: every expert on the dev items (a resumable log: a rerun continues it).
  const devResults = await evaluateExperts(experts, dev, file("dev-results.jsonl"), options.queue, lanes, progress, "evaluate experts (dev)", log);
  await writeJsonl(file("dev-items.jsonl"), dev.map(taskLine));

  // 2. Rank per domain, with intervals; flag suspicious items.
  // Bits-per-byte scores are compared per item (best model 1, worst 0); 0/1 accuracy is kept.
  const ranking = rankResults(relativeScores(devResults), { seed: 0 }).ranking;
  await writeFileAtomic(file("ranking.json"), JSON.stringify(ranking, null, 2) + "\n");
  const suspicious = suspiciousItems(ranking.items, 5).map((i) => ({ item: i.item, domain: i.domain, flags: [...i.flags] }));

  const opened: LanguageModel[] = [];
  const open = async (spec: ExpertSpec) => {
    const model = await openModel(spec);
    opened.push(model);
    return model;
  };
  try {
    const singles: LanguageModel[] = [];
    for (const spec of experts) singles.push(await open(spec));

    // 3. Unified models.
    const built: BuiltModel[] = [];
    // The router's unscored examples go to a file too: unified.yml's router and ensemble read it.
    const domainItems = domainOnlyItems(options.items, test);
    if (domainItems.length) await writeJsonl(file("domain-items.jsonl"), domainItems.map(taskLine));
    else await fs.rm(file("domain-items.jsonl"), { force: true });
    const router = new Router(labelledItems(dev, devResults), {
      experts: singles.map((m) => m.id),
      ranking,
      itemWeight: itemWeightsFromRanking(ranking),
      domainItems: domainItems.map(domainExample),
    });
    const routerModel = createRouterModel(router, new Map(singles.map((m) => [m.id, m])), { id: UNIFIED_IDS.router });
    const ensemble = createEnsembleModel({
      id: UNIFIED_IDS.ensemble,
      members: singles.map((model) => ({ model, abilities: abilitiesOf(ranking, model.id) })),
      domainOf: (text) => router.route(text).domain,
      ...ENSEMBLE_SETTINGS,
    });
    built.push({ policy: "router", id: UNIFIED_IDS.router }, { policy: "ensemble", id: UNIFIED_IDS.ensemble });
    const unified: LanguageModel[] = [routerModel, ensemble];
    const checkpoints = await buildCheckpoints({
      requested, experts, dev, ranking, outDir: options.outDir, distill: options.distill, progress, log,
    });
    built.push(...checkpoints.built);
    for (const spec of checkpoints.specs) unified.push(await open(spec));
    const servedCheckpoints = [...checkpoints.specs];
    for (const spec of options.extras?.unified ?? []) {
      servedCheckpoints.push(spec);
      unified.push(await open(spec));
    }
    log(`unified models: ${unified.map((m) => m.id).join(", ")}`);
    const references: LanguageModel[] = [];
    for (const spec of options.extras?.references ?? []) references.push(await open(spec));
    if (references.length) log(`reference checkpoints: ${references.map((m) => m.id).join(", ")}`);

    // 4. Judge everything on the test items: the experts through their log (and the queue when
    // given), the unified models and references here through theirs; a rerun continues both.
    const singleTest = await evaluateExperts(experts, test, file("single-test-results.jsonl"), options.queue, lanes, progress, "evaluate experts on test items", log);
    const evaluate = (models: readonly LanguageModel[], items: readonly TaskItem[], label: string) => evaluateModels(models, items, progress, label, lanes);
    const ids = (models: readonly LanguageModel[]) => models.map((m) => m.id);
    const unifiedTest = await judgeResumably({
      models: [...unified, ...references], items: test, out: file("unified-test-results.jsonl"),
      specs: [...experts, ...servedCheckpoints, ...(options.extras?.references ?? [])],
      inputs: {
        version: 1, unified: ids(unified), references: ids(references), dev, test, ensemble: ENSEMBLE_SETTINGS,
        domainItems, evidence: devResults.map((r) => [r.model, r.item, r.score]),
      },
      progress, label: "evaluate unified models on test items", lanes,
    });
    const testResults = [...singleTest, ...unifiedTest];
    await writeJsonl(file("test-results.jsonl"), testResults);

    // Routing quality on test: did the router pick the item's domain?
    let hits = 0;
    let confidence = 0;
    for (const item of test) {
      const decision = router.route(itemText(item));
      confidence += decision.confidence;
      hits += decision.domain === item.domain ? 1 : 0;
    }

    const judgedModels = [...ids(singles), ...ids(unified), ...ids(references)];
    const { judged, unjudged } = commonItems(testResults, judgedModels, test.map((i) => i.id));
    if (judged.size === 0) {
      throw new BackendError(judgedModels.join(", "), `no test item has a result from every model (e.g. ${unjudged[0].item}: none from ${unjudged[0].missing.join(", ")}); the results are kept in ${options.outDir}`);
    }
    if (unjudged.length) {
      log(describeUnjudged(unjudged, test.length));
    }
    const judgedResults = testResults.filter((r) => judged.has(r.item));
    const allRows = scoreRows(judgedResults, domains, judgedModels);
    const rows = allRows.filter((r) => !references.some((m) => m.id === r.model));
    const singleRows = rows.filter((r) => singles.some((m) => m.id === r.model));
    const oracle = oracleRow(singleRows, domains);
    // The members the ensemble used on each domain's test passages (its filter decides per request).
    const ensembleMembers = Object.fromEntries(domains.map((d) => {
      const used = new Set<string>();
      for (const item of test) if (item.domain === d && item.kind === "bits_per_byte") for (const p of ensemble.participants(itemText(item))) used.add(p.model.id);
      return [d, [...used]];
    }));
    const ensembledDomains = domains.filter((d) => ensembleMembers[d].length > 1);
    const goals = judgeGoals(rows, singleRows, oracle, ensembleMembers, ensembledDomains);
    const extra = await options.extras?.judge?.({
      domains, singles: ids(singles), unified: ids(unified), references: ids(references), rows: allRows, records: judgedResults, test: test.filter((i) => judged.has(i.id)),
      models: new Map(opened.map((m) => [m.id, m])),
      evaluate,
      writeJsonl: async (name, lines) => {
        await writeJsonl(file(name), lines);
        return file(name);
      },
    });
    goals.push(...(extra?.goals ?? []));

    const report: UnifyReport = {
      domains,
      singles: ids(singles),
      unified: ids(unified),
      references: ids(references),
      policies: { requested, built, skipped: checkpoints.skipped, notes: checkpoints.notes },
      items: { dev: dev.length, test: test.length, unjudged },
      rows: allRows,
      oracle,
      goals,
      ranking,
      suspicious,
      ensemble: { stats: { ...ensemble.stats }, ensembledDomains, members: ensembleMembers },
      routing: { accuracy: hits / test.length, meanConfidence: confidence / test.length },
      ...(extra?.moe ? { moe: extra.moe } : {}),
      files: {
        ranking: file("ranking.json"), devResults: file("dev-results.jsonl"), testResults: file("test-results.jsonl"),
        devItems: file("dev-items.jsonl"), report: file("report.html"), serveConfig: file("unified.yml"), summary: file("summary.json"),
      },
      serveCommand: `npx cogen serve --config ${shellQuote(file("unified.yml"))}`,
      seconds: (Date.now() - started) / 1000,
    };
    await writeFileAtomic(file("unified.yml"), unifiedYaml({ experts, checkpoints: servedCheckpoints, outDir: options.outDir, report, domainItems: domainItems.length > 0 }));
    await writeFileAtomic(file("report.html"), renderUnifyHtml(report, await readPlotly()));
    // Last: its presence says the run finished.
    await writeFileAtomic(file("summary.json"), JSON.stringify({ ...report, ranking: undefined }, null, 2) + "\n");
    return report;
  } finally {
    await Promise.all(opened.map((m) => m.close()));
  }
}

/**
 * Local files the experts name that are not there: found now rather than after hours of
 * evaluating the other experts.
 */
async function missingFiles(specs: readonly ExpertSpec[]): Promise<string[]> {
  const problems: string[] = [];
  for (const spec of specs) {
    const files: [string, string | undefined][] = [["path", spec.path], ["lora", spec.lora?.path], ["weights", spec.weights]];
    for (const [field, file] of files) {
      if (file === undefined) continue;
      try {
        await fs.access(file);
      } catch (error) {
        problems.push(`expert '${spec.id}' ${field}: ${file}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : `cannot read (${(error as Error).message})`}`);
      }
    }
  }
  return problems;
}

/**
 * The experts on items through the evaluation runner: results are appended to `out` and a rerun
 * skips what is there. Returned in expert order, then item order, whatever order jobs finished in.
 */
async function evaluateExperts(experts: ExpertSpec[], items: TaskItem[], out: string, queue: JobQueue | undefined, lanes: number, progress: Progress, label: string, log: (line: string) => void): Promise<ResultRecord[]> {
  const labelled: Progress = { start: (_label, total, unit) => progress.start(label, total, unit), tick: (d, info) => progress.tick(d, info), done: (summary) => progress.done(summary) };
  const dropped = await dropStaleResults(out, experts, items);
  if (dropped > 0) log(`${path.basename(out)}: ${dropped} results dropped (their item or expert changed since they were written); evaluating them again`);
  const run = await runEval({ experts, items, out, resume: true, queue, lanes, progress: labelled });
  // Items too long for an expert's context fail alone; the table leaves them out for every model.
  if (run.itemFailures.length) {
    log(`${path.basename(out)}: ${run.itemFailures.length} item(s) without a result (${run.itemFailures.slice(0, 2).map((f) => `${f.model}/${f.item}: ${f.error}`).join("; ")}${run.itemFailures.length > 2 ? "; …" : ""}); --passage-chars N cuts passages`);
  }
  if (run.failures.length) {
    throw new BackendError(
      run.failures.map((f) => f.model).join(", "),
      `evaluation failed (${run.failures.map((f) => `${f.model}: ${f.error}`).join("; ")}); the results so far are kept in ${out}: fix the expert and rerun the same command to continue`,
    );
  }
  const expertIndex = new Map(experts.map((e, i) => [e.id, i]));
  const itemIndex = new Map(items.map((item, i) => [item.id, i]));
  return (await readResultRecords(out))
    .filter((r) => expertIndex.has(r.model) && itemIndex.has(r.item))
    .sort((a, b) => expertIndex.get(a.model)! - expertIndex.get(b.model)! || itemIndex.get(a.item)! - itemIndex.get(b.item)!);
}

/**
 * Held-out text that is neither judged nor evaluated, labelled only with its domain: it teaches
 * the router what each domain's text looks like. Any item whose text shares its start with any
 * test text (the same record in another item kind, or a line of a test passage) is left out,
 * so no test text is seen even in another form.
 */
export function domainOnlyItems(items: readonly TaskItem[], test: readonly TaskItem[]): TaskItem[] {
  const testIds = new Set(test.map((i) => i.id));
  const testText = test.map(itemText).join("\n");
  return items.filter((i) => !testIds.has(i.id) && !testText.includes(itemText(i).slice(0, 24)));
}

function taskLine(item: TaskItem): Record<string, unknown> {
  const base = { id: item.id, domain: item.domain, task: item.task };
  if (item.kind === "multiple_choice") return { ...base, context: item.context, choices: item.choices, answer: item.answer };
  if (item.kind === "exact_match") return { ...base, prompt: item.prompt, answer: item.answers, max_tokens: item.maxTokens };
  return { ...base, text: item.text };
}

async function writeJsonl(target: string, rows: readonly object[]): Promise<void> {
  await writeFileAtomic(target, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
}

/** A path as one shell word (quoted only when it needs to be). */
function shellQuote(text: string): string {
  return /^[\w./:@%+=-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}
