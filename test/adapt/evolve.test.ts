import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evolveMerge, evolveStateDir } from "../../src/adapt/evolve.js";
import { executeEvolveJob, objectiveOf, type EvolveJob } from "../../src/adapt/evolve-job.js";
import { bullMqEvolveQueue, EVOLVE_QUEUE_NAME, inProcessEvolveQueue, startEvolveWorker, type EvolveQueue } from "../../src/adapt/evolve-queue.js";
import { BullMqQueue } from "../../src/eval/jobs/bullmq.js";
import { initialPoint, parseEvolveRecipe, renderCandidate, searchDimensions } from "../../src/adapt/evolve-recipe.js";
import { ConfigError } from "../../src/core/errors.js";
import { evaluateItem } from "../../src/eval/evaluate-item.js";
import { readTasksFile } from "../../src/formats/tasks.js";
import { parseMergeConfig } from "../../src/merge/config.js";
import { runMerge } from "../../src/merge/engine.js";
import { openModel } from "../../src/models/open.js";
import { FIXTURE_TEXT, makeTinyLlama, tempDir } from "../fixtures/tiny-llama.js";
import { hasRedis, startRedis } from "../eval/jobs/redis.js";

let root: string;
let recipeFile: string;
let tasksFile: string;
let models: string[];
let base: string;

beforeAll(async () => {
  root = await tempDir("cogen-adapt-evolve-");
  base = (await makeTinyLlama(root, "byte-fallback")).dir;
  models = [(await makeTinyLlama(root, "byte-fallback", { seed: 8 })).dir, (await makeTinyLlama(root, "byte-fallback", { seed: 9 })).dir];
  recipeFile = path.join(root, "recipe.yml");
  await fs.writeFile(recipeFile, [
    "merge_method: ties",
    `base_model: ${path.basename(base)}`,
    "models:",
    ...models.map((m) => `  - ${path.basename(m)}`),
    "layer_groups: 2",
    "search:",
    "  weight: { min: 0, max: 1, init: 0.5 }",
    "  density: { min: 0.2, max: 1 }",
    "parameters: { normalize: true }",
    "dtype: float32",
  ].join("\n") + "\n");
  tasksFile = path.join(root, "tasks.jsonl");
  await fs.writeFile(tasksFile, FIXTURE_TEXT.split("\n").slice(0, 4).map((text, i) => JSON.stringify({ id: `t${i}`, domain: i % 2 ? "odd" : "even", text })).join("\n") + "\n");
}, 60_000);
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe("evolve recipes", () => {
  it("lists every problem of a bad recipe at once", () => {
    const bad = [
      "merge_method: ties",
      "models: []",
      "layer_groups: 0",
      "search:",
      "  wieght: { min: 0, max: 1 }",
      "  density: { min: 0.9, max: 0.1 }",
      "  lambda: 3",
      "extra: 1",
    ].join("\n");
    let error: unknown;
    try {
      parseEvolveRecipe(bad, "bad.yml", root);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    expect(problems).toMatch(/models.*non-empty/);
    expect(problems).toMatch(/layer_groups.*positive integer/);
    expect(problems).toMatch(/'wieght' is not a per-model parameter of ties.*did you mean 'weight'/);
    expect(problems).toMatch(/min \(0.9\) must be below max \(0.1\)/);
    expect(problems).toMatch(/lambda/);
    expect(problems).toMatch(/extra/);
    expect(problems).toMatch(/base_model: ties needs the base model/);
  });

  it("refuses what the merge engine would refuse (an unknown fixed parameter)", () => {
    expect(() => parseEvolveRecipe("merge_method: ties\nbase_model: b\nmodels: [a, c]\nsearch: { weight: { min: 0, max: 1 } }\nparameters: { normalise: true }\n", "r.yml", root)).toThrow(/normalise/);
  });

  it("renders a candidate as a mergekit YAML with one value per layer group, inside the bounds", async () => {
    const recipe = parseEvolveRecipe(await fs.readFile(recipeFile, "utf8"), recipeFile, root);
    expect(searchDimensions(recipe)).toBe(2 * 2 * 2);
    for (const u of initialPoint(recipe)) expect(u).toBeCloseTo(0.5, 12);
    // model 0: weight groups 0.25, 1; density groups 0, 0.5. model 1: all 1 (upper bounds).
    const yaml = renderCandidate(recipe, [0.25, 1, 0, 0.5, 1, 1, 1, 1], 2);
    const { config } = parseMergeConfig(yaml);
    const weight0 = config.models![0].parameters.weight;
    expect(weight0).toEqual([
      { filter: "model.layers.0.", value: 0.25 },
      { filter: "model.layers.1.", value: 1 },
      { filter: "embed_tokens", value: 0.25 },
      { value: 1 },
    ]);
    expect(config.models![0].parameters.density).toContainEqual({ filter: "model.layers.0.", value: 0.2 });
    expect(config.models![0].parameters.density).toContainEqual({ filter: "model.layers.1.", value: 0.6 });
    expect(config.models![1].model.path).toBe(models[1]);
    expect(() => renderCandidate(recipe, [0.5], 2)).toThrow(/coordinates/);
    expect(() => renderCandidate(recipe, initialPoint(recipe), 1)).toThrow(/layer_groups is 2/);
  });

  it("scores macro: the mean over domains of each domain's mean loss", () => {
    const r = (domain: string, bpb: number) => ({ model: "m", item: "i", domain, metric: "bpb" as const, task: "t", score: 2 ** -bpb, bpb });
    const s = objectiveOf([r("a", 1), r("a", 3), r("b", 4)]);
    expect(s.objective).toBe(3);
    expect(s.groups).toEqual({ a: 2, b: 4 });
    expect(s.metric).toBe("bpb");
  });
});

describe("evolveMerge", () => {
  it("finds a candidate at least as good as the start, and `cogen merge` of its YAML scores exactly the same", async () => {
    const out = path.join(root, "out");
    const report = await evolveMerge({ recipe: recipeFile, objective: tasksFile, outDir: out, evaluations: 8, population: 4, seed: 3 });
    expect(report.generations).toBe(2);
    expect(report.evaluations).toBe(9);
    expect(report.best.objective).toBeLessThanOrEqual(report.start.objective);
    expect(await fs.readdir(out)).toEqual(["merge.yml", "report.json"]);
    expect(await fs.stat(evolveStateDir(out)).catch(() => undefined)).toBeUndefined();

    const merged = path.join(root, "rebuilt");
    await runMerge({ config: await fs.readFile(path.join(out, "merge.yml"), "utf8"), outDir: merged, outFormat: "gguf" });
    const model = await openModel({ id: "rebuilt", backend: "llamacpp", path: path.join(merged, "model.gguf"), threads: 1, domains: [], tags: [] });
    try {
      const records = [];
      for (const item of await readTasksFile(tasksFile)) records.push(await evaluateItem(model, item));
      expect(objectiveOf(records).objective).toBe(report.best.objective);
    } finally {
      await model.close();
    }
  }, 120_000);

  it("searches a random method (dare_ties) whose merge.yml rebuilds exactly with the merge seed it names", async () => {
    const dareRecipe = path.join(root, "dare.yml");
    await fs.writeFile(dareRecipe, [
      "merge_method: dare_ties",
      `base_model: ${path.basename(base)}`,
      "models:",
      ...models.map((m) => `  - ${path.basename(m)}`),
      "search:",
      "  weight: { min: 0.2, max: 1 }",
      "  density: { min: 0.3, max: 0.7 }",
      "dtype: float32",
    ].join("\n") + "\n");
    const out = path.join(root, "dare-out");
    const report = await evolveMerge({ recipe: dareRecipe, objective: tasksFile, outDir: out, evaluations: 4, population: 4, seed: 2, mergeSeed: 11 });
    const yaml = await fs.readFile(path.join(out, "merge.yml"), "utf8");
    expect(yaml).toMatch(/--seed 11/);
    const items = await readTasksFile(tasksFile);
    const scoreWithSeed = async (seed: number) => {
      const dir = path.join(root, `dare-rebuilt-${seed}`);
      await runMerge({ config: yaml, outDir: dir, outFormat: "gguf", seed });
      const model = await openModel({ id: `dare-${seed}`, backend: "llamacpp", path: path.join(dir, "model.gguf"), threads: 1, domains: [], tags: [] });
      try {
        const records = [];
        for (const item of items) records.push(await evaluateItem(model, item));
        return objectiveOf(records).objective;
      } finally {
        await model.close();
      }
    };
    // The named seed gives back the scored model; another seed drops other parameters.
    expect(await scoreWithSeed(11)).toBe(report.best.objective);
    expect(await scoreWithSeed(12)).not.toBe(report.best.objective);
  }, 180_000);

  it("is deterministic with --seed, and an interrupted run resumes to the same result", async () => {
    const settings = { recipe: recipeFile, objective: tasksFile, evaluations: 8, population: 4, seed: 5 };
    const whole = await evolveMerge({ ...settings, outDir: path.join(root, "whole") });
    const interrupted = path.join(root, "interrupted");
    let runs = 0;
    const crashing = inProcessEvolveQueue(async (job: EvolveJob) => {
      if (++runs > 5) throw new Error("simulated crash");
      return executeEvolveJob(job);
    });
    // Generation 0 (1 candidate) and generation 1 (4) complete; generation 2 crashes.
    await expect(evolveMerge({ ...settings, outDir: interrupted, queue: crashing })).rejects.toThrow(/simulated crash/);
    expect((await fs.readdir(evolveStateDir(interrupted))).filter((f) => f.startsWith("generation-"))).toHaveLength(2);
    const resumed = await evolveMerge({ ...settings, outDir: interrupted });
    expect(resumed.resumedGenerations).toBe(2);
    expect(resumed.best).toEqual(whole.best);
    expect(await fs.readFile(path.join(interrupted, "merge.yml"), "utf8")).toBe(await fs.readFile(path.join(root, "whole", "merge.yml"), "utf8"));
  }, 180_000);

  it("sends the start with generation 1, names jobs per run (a resumed run keeps its own) and reports each worker's share", async () => {
    const recording = (batches: string[][], execute?: (job: EvolveJob) => Promise<ReturnType<typeof objectiveOf>>): EvolveQueue => {
      const inner = inProcessEvolveQueue(execute);
      return { run: (jobs, onOutcome) => (batches.push(jobs.map((j) => j.id)), inner.run(jobs, onOutcome)), close: () => inner.close() };
    };
    const settings = { recipe: recipeFile, objective: tasksFile, evaluations: 8, population: 4, seed: 5 };
    const first: string[][] = [];
    const report = await evolveMerge({ ...settings, outDir: path.join(root, "ids-first"), queue: recording(first) });
    expect(first.map((b) => b.length)).toEqual([5, 4]);
    expect(report.workers).toHaveLength(1);
    expect(report.workers[0]).toMatchObject({ worker: `${os.hostname()}/${process.pid}`, candidates: 9 });
    expect(report.workers[0].busyFraction).toBeGreaterThan(0);
    expect(report.workers[0].busyFraction).toBeLessThanOrEqual(1);
    expect(report.workers[0].cpuSecondsPerCandidate).toBeGreaterThan(0);

    // Another run of the same search shares no job id with the first (the queue cannot answer it from that one).
    const second: string[][] = [];
    const again = await evolveMerge({ ...settings, outDir: path.join(root, "ids-second"), queue: recording(second) });
    expect(again.best).toEqual(report.best);
    expect(second.flat().filter((id) => first.flat().includes(id))).toEqual([]);

    // An interrupted run resumed from its state asks the queue for its own jobs again.
    const interrupted: string[][] = [];
    let runs = 0;
    const out = path.join(root, "ids-resumed");
    await expect(evolveMerge({ ...settings, outDir: out, queue: recording(interrupted, async (job) => {
      if (++runs > 6) throw new Error("simulated crash");
      return executeEvolveJob(job);
    }) })).rejects.toThrow(/simulated crash/);
    const resumed: string[][] = [];
    const done = await evolveMerge({ ...settings, outDir: out, queue: recording(resumed) });
    expect(resumed).toEqual([interrupted[1]]);
    expect(done.workers[0].candidates).toBe(4);
  }, 180_000);

  it("refuses to resume a state folder left by other settings", async () => {
    const out = path.join(root, "mismatch");
    await fs.mkdir(evolveStateDir(out), { recursive: true });
    await fs.writeFile(path.join(evolveStateDir(out), "run.json"), JSON.stringify({ fingerprint: "other" }));
    await expect(evolveMerge({ recipe: recipeFile, objective: tasksFile, outDir: out, evaluations: 0 })).rejects.toThrow(/another recipe/);
    await expect(fs.stat(out)).rejects.toThrow();
  });
});

describe.skipIf(!hasRedis)("evolve candidates on BullMQ workers", () => {
  it("gives the same result as the in-process queue", async () => {
    const redis = await startRedis();
    const workers = [await startEvolveWorker(redis.url), await startEvolveWorker(redis.url)];
    try {
      const settings = { recipe: recipeFile, objective: tasksFile, evaluations: 4, population: 4, seed: 7 };
      const here = await evolveMerge({ ...settings, outDir: path.join(root, "here") });
      const there = await evolveMerge({ ...settings, outDir: path.join(root, "there"), queue: bullMqEvolveQueue(redis.url) });
      expect(there.best).toEqual(here.best);
      expect(there.failed).toBe(0);
      // Every generation is saved in the run's folder, so the queue keeps none of its jobs.
      const queue = new BullMqQueue(redis.url, EVOLVE_QUEUE_NAME);
      try {
        expect(await queue.finishedCount()).toBe(0);
      } finally {
        await queue.close();
      }
    } finally {
      for (const w of workers) await w.close();
      await redis.stop();
    }
  }, 120_000);
});
