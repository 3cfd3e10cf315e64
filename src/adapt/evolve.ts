/**
 * `cogen adapt evolve` (the idea of mergekit-evolve, Akiba et al. 2024, "Evolutionary
 * Optimization of Model Merging Recipes"): CMA-ES (adapt/cmaes.ts) over the per-model,
 * per-layer-group numeric parameters a recipe names (adapt/evolve-recipe.ts), searched in the
 * unit cube and mapped to each parameter's bounds. Every candidate is a job (adapt/evolve-job.ts)
 * on a queue (adapt/evolve-queue.ts): merged by the merge engine in RAM and scored on the
 * objective items; lower is better (macro bits per byte, or 1 − macro accuracy).
 *
 * Generation 0 is the recipe's starting point, scored as the reference; it goes to the queue with
 * generation 1 (CMA-ES does not need its score to ask generation 1), so no worker waits while one
 * candidate runs alone. After each generation its candidates and scores are saved atomically in
 * OUT.evolve-state/; a rerun with the same recipe, items and settings replays the saved
 * generations (the seeded CMA-ES asks the same candidates again, checked) and goes on from there,
 * with the same job ids (the run's id is in run.json), so the queue answers the candidates an
 * interrupted run had finished; another run's jobs never answer this one's. The result, OUT/ (complete or absent):
 * merge.yml, the best candidate's plain mergekit YAML — `cogen merge OUT/merge.yml DIR --seed
 * MERGE_SEED` rebuilds exactly the model that was scored — and report.json.
 */
import { createHash, randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { writeDirAtomic, writeFileAtomic } from "../core/atomic.js";
import { BackendError, ConfigError } from "../core/errors.js";
import { exists } from "../core/files.js";
import { silentProgress, type Progress } from "../core/progress.js";
import { readTasksFile } from "../formats/tasks.js";
import { runMerge } from "../merge/engine.js";
import { CmaEs } from "./cmaes.js";
import { evolveJobId, type CandidateRun, type CandidateScore, type EvolveJob } from "./evolve-job.js";
import { inProcessEvolveQueue, type EvolveQueue } from "./evolve-queue.js";
import { initialPoint, parseEvolveRecipe, renderCandidate, searchDimensions, type EvolveRecipe } from "./evolve-recipe.js";

export interface EvolveOptions {
  /** The recipe YAML file (adapt/evolve-recipe.ts). */
  recipe: string;
  /** Tasks JSONL (src/formats/tasks.ts): the items every candidate is scored on. */
  objective: string;
  outDir: string;
  /** CMA-ES seed (default 0). */
  seed?: number;
  /** Candidates after the starting point, in whole generations (default 60). */
  evaluations?: number;
  /** CMA-ES population per generation (default 4 + ⌊3 ln n⌋). */
  population?: number;
  /** Initial step size in the unit cube (default 0.25). */
  sigma0?: number;
  /** Seed of the merges' random methods (default 0, `cogen merge`'s). */
  mergeSeed?: number;
  contextSize?: number;
  /** Where candidates run (default: here, one after the other). */
  queue?: EvolveQueue;
  progress?: Progress;
}

export interface CandidateRecord {
  x: number[];
  job: string;
  score?: CandidateScore;
  error?: string;
  /** Where and how long it ran (absent when the queue's worker did not say). */
  run?: CandidateRun;
}

/** One worker's share of a run: the candidates it evaluated in this run (not replayed ones). */
export interface WorkerUse {
  worker: string;
  candidates: number;
  /** Seconds spent in its candidates, and that over the run's wall-clock seconds. */
  busySeconds: number;
  busyFraction: number;
  /** Process CPU seconds per candidate (merge, model load, scoring). */
  cpuSecondsPerCandidate: number;
}

export interface GenerationState {
  generation: number;
  candidates: CandidateRecord[];
}

export interface EvolveReport {
  outDir: string;
  yamlFile: string;
  method: string;
  dimensions: number;
  population: number;
  /** The recipe's starting point (generation 0). */
  start: CandidateScore;
  best: CandidateScore & { generation: number; candidate: number };
  evaluations: number;
  failed: number;
  generations: number;
  /** Generations replayed from OUT.evolve-state/ rather than evaluated in this run. */
  resumedGenerations: number;
  history: { generation: number; best: number; mean: number; stepSize: number }[];
  seconds: number;
  candidatesPerMinute: number;
  /** Per worker that reported its runs, busiest first. */
  workers: WorkerUse[];
}

export function evolveStateDir(outDir: string): string {
  return path.resolve(outDir) + ".evolve-state";
}

export async function evolveMerge(options: EvolveOptions): Promise<EvolveReport> {
  const started = Date.now();
  const seed = options.seed ?? 0;
  const evaluations = options.evaluations ?? 60;
  const sigma0 = options.sigma0 ?? 0.25;
  const mergeSeed = options.mergeSeed ?? 0;
  const problems: string[] = [];
  if (!(Number.isSafeInteger(evaluations) && evaluations >= 0)) problems.push(`evaluations must be an integer ≥ 0 (got ${evaluations})`);
  if (!(sigma0 > 0 && sigma0 <= 1)) problems.push(`sigma0 must be in (0, 1] (the search runs in the unit cube; got ${sigma0})`);
  if (options.population !== undefined && !(Number.isSafeInteger(options.population) && options.population >= 2)) problems.push(`population must be an integer ≥ 2 (got ${options.population})`);
  if (!Number.isSafeInteger(seed)) problems.push(`seed must be an integer (got ${seed})`);
  if (problems.length) throw new ConfigError(problems, "adapt evolve");
  const progress = options.progress ?? silentProgress;
  const queue = options.queue ?? inProcessEvolveQueue();

  const recipeText = await fs.readFile(options.recipe, "utf8");
  const recipe = parseEvolveRecipe(recipeText, options.recipe, path.dirname(path.resolve(options.recipe)));
  const items = await readTasksFile(options.objective);
  if (items.length === 0) throw new ConfigError([`${options.objective} has no items to score candidates on`], "adapt evolve");
  const layers = await layerCount(recipe, options.recipe);
  const n = searchDimensions(recipe);
  const es = new CmaEs({ x0: initialPoint(recipe), sigma0, seed, bounds: { lower: 0, upper: 1 }, ...(options.population ? { lambda: options.population } : {}) });
  const stateDir = evolveStateDir(options.outDir);
  const fingerprint = createHash("sha256").update(JSON.stringify({ recipe, layers, items, seed, sigma0, lambda: es.lambda, mergeSeed, contextSize: options.contextSize })).digest("hex");
  const { generations: saved, runId } = await readState(stateDir, fingerprint);
  const job = (x: number[]): EvolveJob => {
    const yaml = renderCandidate(recipe, x, layers);
    return { id: evolveJobId(yaml, items, mergeSeed, options.contextSize, runId), yaml, items, mergeSeed, ...(options.contextSize ? { contextSize: options.contextSize } : {}) };
  };
  const generationsPlanned = 1 + Math.floor(evaluations / es.lambda);
  progress.start(`evolve (${recipe.mergeMethod}, ${n} parameters)`, 1 + (generationsPlanned - 1) * es.lambda, "candidates");

  const history: EvolveReport["history"] = [];
  const all: { generation: number; index: number; record: CandidateRecord }[] = [];
  let resumed = 0;
  /** Evaluate generations as one batch of jobs (replaying saved ones), then save each. */
  const runGenerations = async (batch: { generation: number; xs: number[][] }[]): Promise<CandidateRecord[][]> => {
    const out: (CandidateRecord[] | undefined)[] = batch.map(({ generation, xs }) => {
      const stored = saved.get(generation);
      if (!stored) return undefined;
      if (JSON.stringify(stored.candidates.map((c) => c.x)) !== JSON.stringify(xs)) {
        throw new ConfigError([`${stateDir}: generation ${generation} holds other candidates than this run asks; delete the folder to start afresh`]);
      }
      resumed++;
      progress.tick(xs.length, "resumed");
      return stored.candidates;
    });
    const pending = batch.flatMap(({ generation, xs }, g) => (out[g] ? [] : xs.map((x) => ({ generation, g, x, job: job(x) }))));
    if (pending.length === 0) return out as CandidateRecord[][];
    const outcomes = new Map<string, CandidateRecord>();
    let bestSoFar = Math.min(...all.map((c) => c.record.score?.objective ?? Infinity));
    const generationOf = new Map(pending.map((p) => [p.job.id, p.generation]));
    await queue.run(pending.map((p) => p.job), async (j, outcome) => {
      const record: CandidateRecord = { x: [], job: j.id, ...("score" in outcome ? { score: outcome.score, ...(outcome.run ? { run: outcome.run } : {}) } : { error: outcome.error }) };
      outcomes.set(j.id, record);
      if (record.score) bestSoFar = Math.min(bestSoFar, record.score.objective);
      progress.tick(1, `gen ${generationOf.get(j.id)}, best ${bestSoFar.toFixed(4)}`);
    });
    batch.forEach(({ xs }, g) => {
      if (out[g]) return;
      out[g] = pending.filter((p) => p.g === g).map((p, i): CandidateRecord => ({ ...(outcomes.get(p.job.id) ?? { job: p.job.id, error: "no outcome reported" }), x: xs[i] }));
    });
    // Save every generation that has a score before refusing one that has none. A saved
    // generation is replayed from its file on resume, so the queue may drop its jobs.
    for (const [g, { generation }] of batch.entries()) {
      if (out[g]!.some((r) => r.score) && !saved.has(generation)) {
        await writeFileAtomic(path.join(stateDir, `generation-${String(generation).padStart(4, "0")}.json`), JSON.stringify({ generation, candidates: out[g]! } satisfies GenerationState));
        await queue.forget?.(pending.filter((p) => p.g === g).map((p) => p.job.id));
      }
    }
    for (const [g, { generation }] of batch.entries()) {
      if (out[g]!.every((r) => !r.score)) throw new BackendError("adapt evolve", `every candidate of generation ${generation} failed; the first: ${out[g]![0].error}`);
    }
    return out as CandidateRecord[][];
  };
  const tellGeneration = (generation: number, records: CandidateRecord[]) => {
    es.tell(records.map((r) => r.score?.objective ?? Infinity));
    records.forEach((record, index) => all.push({ generation, index, record }));
    const scores = records.flatMap((r) => (r.score ? [r.score.objective] : []));
    history.push({ generation, best: Math.min(...scores), mean: scores.reduce((s, v) => s + v, 0) / scores.length, stepSize: es.stepSize });
  };

  try {
    await fs.mkdir(stateDir, { recursive: true });
    await writeFileAtomic(path.join(stateDir, "run.json"), JSON.stringify({ fingerprint, runId, recipe: path.resolve(options.recipe), objective: path.resolve(options.objective), seed }, null, 2) + "\n");
    // The start and generation 1 in one batch.
    const first = generationsPlanned > 1 ? [{ generation: 1, xs: es.ask() }] : [];
    const [start, ...firstRecords] = await runGenerations([{ generation: 0, xs: [initialPoint(recipe)] }, ...first]);
    all.push({ generation: 0, index: 0, record: start[0] });
    if (first.length) tellGeneration(1, firstRecords[0]);
    for (let generation = 2; generation < generationsPlanned; generation++) {
      const [records] = await runGenerations([{ generation, xs: es.ask() }]);
      tellGeneration(generation, records);
    }
  } finally {
    await queue.close();
  }
  progress.done();

  const scored = all.filter((c) => c.record.score);
  // Ties go to the earliest candidate, so the result does not depend on arrival order.
  const best = scored.reduce((a, b) => (b.record.score!.objective < a.record.score!.objective ? b : a));
  const startScore = all[0].record.score!;
  const bestYaml = renderCandidate(recipe, best.record.x, layers);
  const evaluated = all.length;
  const seconds = (Date.now() - started) / 1000;
  const report: EvolveReport = {
    outDir: options.outDir,
    yamlFile: path.join(options.outDir, "merge.yml"),
    method: recipe.mergeMethod,
    dimensions: n,
    population: es.lambda,
    start: startScore,
    best: { ...best.record.score!, generation: best.generation, candidate: best.index },
    evaluations: evaluated,
    failed: evaluated - scored.length,
    generations: generationsPlanned - 1,
    resumedGenerations: resumed,
    history,
    seconds,
    candidatesPerMinute: ((evaluated - resumedCandidates(resumed, es.lambda)) / Math.max(seconds, 1e-9)) * 60,
    workers: workerUse(all.filter((c) => !saved.has(c.generation)).map((c) => c.record), seconds),
  };
  const header = [
    `# cogen adapt evolve: the best of ${evaluated} candidates (generation ${best.generation}), objective ${best.record.score!.objective.toFixed(6)}`,
    `# (${startScore.metric === "bpb" ? "macro bits per byte" : "lower is better"}; starting point ${startScore.objective.toFixed(6)}) on ${path.basename(options.objective)}.`,
    `# Rebuild the scored model: cogen merge merge.yml OUT_DIR --seed ${mergeSeed}`,
  ].join("\n");
  await writeDirAtomic(options.outDir, async (tmp) => {
    await fs.writeFile(path.join(tmp, "merge.yml"), `${header}\n${bestYaml}`);
    await fs.writeFile(path.join(tmp, "report.json"), JSON.stringify(report, null, 2) + "\n");
  });
  await fs.rm(stateDir, { recursive: true, force: true });
  return report;
}

/** Each worker's candidates, busy seconds (and fraction of `seconds`) and CPU per candidate. */
export function workerUse(records: readonly CandidateRecord[], seconds: number): WorkerUse[] {
  const byWorker = new Map<string, CandidateRun[]>();
  for (const r of records) if (r.run) byWorker.set(r.run.worker, [...(byWorker.get(r.run.worker) ?? []), r.run]);
  return [...byWorker].map(([worker, runs]) => {
    const busySeconds = runs.reduce((s, r) => s + r.seconds, 0);
    return { worker, candidates: runs.length, busySeconds, busyFraction: busySeconds / Math.max(seconds, 1e-9), cpuSecondsPerCandidate: runs.reduce((s, r) => s + r.cpuSeconds, 0) / runs.length };
  }).sort((a, b) => b.busySeconds - a.busySeconds);
}

/** Generation 0 is one candidate; later ones are λ each. */
function resumedCandidates(generations: number, lambda: number): number {
  return generations === 0 ? 0 : 1 + (generations - 1) * lambda;
}

/**
 * The saved generations, and the run's id: the saved one when resuming (so the queue still knows
 * its jobs), else a fresh one. The id names jobs only; it changes no result.
 */
async function readState(dir: string, fingerprint: string): Promise<{ generations: Map<number, GenerationState>; runId: string }> {
  const generations = new Map<number, GenerationState>();
  if (!(await exists(path.join(dir, "run.json")))) return { generations, runId: randomUUID() };
  const run = JSON.parse(await fs.readFile(path.join(dir, "run.json"), "utf8")) as { fingerprint?: string; runId?: string };
  if (run.fingerprint !== fingerprint) {
    throw new ConfigError([`${dir} holds a run with another recipe, objective or settings; delete it to start afresh, or rerun with the same ones to resume`], "adapt evolve");
  }
  for (const name of (await fs.readdir(dir)).filter((f) => /^generation-\d+\.json$/.test(f)).sort()) {
    const state = JSON.parse(await fs.readFile(path.join(dir, name), "utf8")) as GenerationState;
    generations.set(state.generation, state);
  }
  return { generations, runId: run.runId ?? randomUUID() };
}

/** The models' layer count, from a dry-run plan of the starting candidate with one layer group. */
async function layerCount(recipe: EvolveRecipe, source: string): Promise<number> {
  const flat: EvolveRecipe = { ...recipe, layerGroups: 1 };
  const plan = await runMerge({ config: renderCandidate(flat, initialPoint(flat), 1), configName: source, outDir: "unused", dryRun: true });
  return plan.layers;
}
