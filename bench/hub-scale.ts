/**
 * The hub at the seed's "hundreds": 200 LoRA experts on the zoo's base-a, served as a router over
 * all of them through a LiveComposition whose experts load on use under a bounded model pool.
 *
 * The experts: the zoo's 10 family-A adapters (8 domain experts, the control, the centralised
 * model: zoo/a/{experts/*,control,centralised}/lora.gguf) and 190 copies, each a parent adapter
 * with seeded Gaussian noise (sd = --noise × the tensor's RMS) added to every tensor, written as a
 * real LoRA GGUF that llama.cpp loads. Evidence: the 10 zoo adapters take the measured per-item
 * results of their merged checkpoints (test/fixtures/hub: same weights, merged); --evaluate copies
 * are evaluated through the eval job queue (in-process, llama.cpp, the fixture's 160 items); the
 * other copies take their parent's results with each score flipped with probability --flip
 * (seeded) — synthesised, because evaluating all 190 (--evaluate 190) takes long on a 2-core
 * shared machine.
 *
 * Reports, each beside a reference measured in the same run:
 * - routing p50/p99 per request over 200 experts vs the 10 zoo experts (same items, same queries);
 * - gateway memory (RSS, in a fresh child process: bench/hub-scale-child.ts) after requests to
 *   --touch distinct experts with the pool capped at --cap loaded models, vs the same with a cap
 *   that never binds;
 * - time from "expert registered" (a new perturbed adapter) to "served": evaluate it through the
 *   queue, re-rank the 200 (IRT with intervals), compose (policy: router over the top 200 per
 *   domain), publish, the newcomer's first answer and an answer routed through the new
 *   composition (median of --joins newcomers), vs a newcomer joining the 10 zoo experts.
 * Registry operations are hub-core's (src/hub/store) and are not measured here.
 *
 *   npx tsx bench/hub-scale.ts [--experts 200] [--queries 600] [--cap 16] [--touch 48] [--noise 0.2] [--flip 0.1] [--joins 3] [--evaluate 10]
 */
import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { Rng } from "../src/core/rng.js";
import type { ItemResult } from "../src/core/evidence.js";
import { encodeTensor } from "../src/formats/gguf/codec.js";
import { openGguf } from "../src/formats/gguf/reader.js";
import { writeGguf } from "../src/formats/gguf/writer.js";
import type { ExpertSpec } from "../src/formats/models-file.js";
import { readResultsFile } from "../src/formats/results.js";
import { readTasksFile } from "../src/formats/tasks.js";
import { readResultRecords } from "../src/eval/results-log.js";
import { runEval } from "../src/eval/runner.js";
import { itemText } from "../src/fuse/router/evidence.js";
import type { RouteDecision } from "../src/fuse/router/router.js";
import { composeByPolicy } from "../src/hub/policy.js";
import { rankResults } from "../src/rank/per-item.js";
import { startGateway } from "../src/serve/gateway.js";
import { LiveComposition } from "../src/serve/live.js";

const { values } = parseArgs({
  options: {
    experts: { type: "string" }, queries: { type: "string" }, cap: { type: "string" }, touch: { type: "string" },
    noise: { type: "string" }, flip: { type: "string" }, joins: { type: "string" }, evaluate: { type: "string" },
  },
});
const EXPERTS = Number(values.experts ?? 200);
const QUERIES = Number(values.queries ?? 600);
const CAP = Number(values.cap ?? 16);
const TOUCH = Number(values.touch ?? 48);
const NOISE = Number(values.noise ?? 0.2);
const FLIP = Number(values.flip ?? 0.1);
const JOINS = Number(values.joins ?? 3);
const EVALUATE = Number(values.evaluate ?? 10);

const ROOT = path.join(import.meta.dirname, "..");
const ZOO = path.join(ROOT, "zoo");
const FIXTURES = path.join(ROOT, "test", "fixtures", "hub");
const PARENTS = [
  ...["medicine", "law", "finance", "computing", "geography", "biology", "food", "people"].map((d) => ({ id: `a-expert-${d}`, lora: path.join(ZOO, "a", "experts", d, "lora.gguf") })),
  { id: "a-control", lora: path.join(ZOO, "a", "control", "lora.gguf") },
  { id: "a-centralised", lora: path.join(ZOO, "a", "centralised", "lora.gguf") },
];
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const ms = (x: number) => `${x.toFixed(x < 10 ? 3 : 1)} ms`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** A parent adapter with seeded noise on every tensor, as a LoRA GGUF llama.cpp loads. */
async function perturbedAdapter(parent: string, file: string, seed: number): Promise<void> {
  const source = await openGguf(parent);
  try {
    const rng = new Rng(seed);
    const tensors = source.list();
    await writeGguf(file, {
      metadata: source.metadata,
      plan: tensors.map((t) => ({ name: t.name, shape: t.shape, dtype: "F32" as const })),
      produce: async (tensor) => {
        const values = await source.readF32(tensors[tensor.index].name);
        const rms = Math.sqrt(values.reduce((s, v) => s + v * v, 0) / values.length);
        for (let i = 0; i < values.length; i++) values[i] += NOISE * rms * rng.normal();
        return encodeTensor(values, "F32");
      },
    });
  } finally {
    await source.close();
  }
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-hub-scale-"));
try {
  // --- 200 experts -------------------------------------------------------------------------------
  let t0 = performance.now();
  const experts: ExpertSpec[] = [];
  const parentOf = new Map<string, string>();
  for (let i = 0; i < EXPERTS; i++) {
    const parent = PARENTS[i % PARENTS.length];
    let lora = parent.lora;
    let id = parent.id.replace(/^a-/, "lora-");
    if (i >= PARENTS.length) {
      id = `${id}-copy${i}`;
      lora = path.join(work, `${id}.gguf`);
      await perturbedAdapter(parent.lora, lora, 1000 + i);
    }
    parentOf.set(id, parent.id);
    experts.push({ id, backend: "llamacpp", path: path.join(ZOO, "a", "base", "model.gguf"), lora: { path: lora, scale: 1 }, threads: 1, contextSize: 64, domains: [], tags: ["family-a", "lora"] });
  }
  const adaptersMs = performance.now() - t0;
  const adapterBytes = (await fs.stat(experts[EXPERTS - 1].lora!.path)).size;

  // --- evidence ----------------------------------------------------------------------------------
  const measured = await readResultsFile(path.join(FIXTURES, "zoo-results.jsonl"));
  const byModel = new Map<string, ItemResult[]>();
  for (const r of measured) byModel.set(r.model, [...(byModel.get(r.model) ?? []), r]);
  const rng = new Rng(7);
  const results: ItemResult[] = [];
  for (const e of experts) {
    const copy = e.id.includes("-copy");
    for (const r of byModel.get(parentOf.get(e.id)!)!) {
      const score = copy && rng.next() < FLIP ? 1 - r.score : r.score;
      results.push({ model: e.id, item: r.item, domain: r.domain, score });
    }
  }
  const tasks = path.join(FIXTURES, "zoo-items.jsonl");
  const items = await readTasksFile(tasks);

  /** Evaluate experts on the fixture's items through the eval job queue (in-process, llama.cpp). */
  async function evaluateThroughQueue(specs: ExpertSpec[], name: string): Promise<ItemResult[]> {
    const report = await runEval({ experts: specs, items, out: path.join(work, `${name}.jsonl`) });
    if (report.failures.length) throw new Error(`evaluation failed: ${report.failures.map((f) => `${f.model}: ${f.error}`).join("; ")}`);
    return (await readResultRecords(report.out)).map((r) => ({ model: r.model, item: r.item, domain: r.domain, score: r.score }));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const accuracy = (model: string, from: readonly ItemResult[]) => mean(from.filter((r) => r.model === model).map((r) => r.score));
  t0 = performance.now();
  const evaluatedCopies = experts.slice(PARENTS.length, PARENTS.length + EVALUATE);
  const evaluated = evaluatedCopies.length ? await evaluateThroughQueue(evaluatedCopies, "copies") : [];
  const evaluateMs = performance.now() - t0;
  const evaluatedIds = new Set(evaluatedCopies.map((e) => e.id));
  results.splice(0, results.length, ...results.filter((r) => !evaluatedIds.has(r.model)), ...evaluated);
  const copyAccuracy = mean(evaluatedCopies.map((e) => accuracy(e.id, evaluated)));
  const parentAccuracy = mean(evaluatedCopies.map((e) => accuracy(parentOf.get(e.id)!, measured)));
  // Distinct texts (the served router caches its decision per text), in a seeded order so every
  // domain is queried (the item files are grouped by domain).
  const pool = [...(await readTasksFile(path.join(ZOO, "items", "continuation.jsonl"))), ...(await readTasksFile(path.join(ZOO, "items", "definition.jsonl")))];
  const order = new Rng(11);
  const shuffled = pool.map((item) => ({ item, key: order.next() })).sort((a, b) => a.key - b.key).map((x) => x.item);
  const texts = [...new Set(shuffled.map(itemText))];
  const queries = texts.slice(0, QUERIES);
  const warmUp = texts.slice(QUERIES, QUERIES + 10); // not among the queries: those would be cache hits

  /** Rank, compose a router over every ranked expert, write its evidence, publish; returns the timings. */
  async function registerAndServe(live: LiveComposition, members: ExpertSpec[], version: string) {
    const ids = new Set(members.map((m) => m.id));
    const mine = results.filter((r) => ids.has(r.model));
    const times: Record<string, number> = {};
    let t = performance.now();
    const { ranking } = rankResults(mine);
    times.rank = performance.now() - t;
    t = performance.now();
    const dir = path.join(work, version);
    await fs.mkdir(dir, { recursive: true });
    const evidence = { tasks, results: path.join(dir, "results.jsonl"), ranking: path.join(dir, "ranking.json") };
    await fs.writeFile(evidence.results, mine.map((r) => JSON.stringify({ ...r, task: "zoo-cloze", metric: "acc" })).join("\n") + "\n");
    await fs.writeFile(evidence.ranking, JSON.stringify(ranking));
    times.evidence = performance.now() - t;
    t = performance.now();
    const composition = composeByPolicy({ kind: "router", topK: members.length, keepClearlyWorse: true }, { ranking, experts: members, evidence, file: path.join(dir, "composition.yml") });
    times.compose = performance.now() - t;
    await fs.writeFile(path.join(dir, "composition.yml"), composition.yaml); // for the memory children
    t = performance.now();
    await live.publish(composition.config, version);
    times.publish = performance.now() - t;
    return { times, members: composition.config.served[0].members.length };
  }

  // --- routing: 200 experts vs the 10 zoo experts --------------------------------------------------
  const wide = new LiveComposition({ loadOnUse: true, maxLoadedModels: CAP });
  const narrow = new LiveComposition({ loadOnUse: true, maxLoadedModels: CAP });
  const served = await registerAndServe(wide, experts, "all");
  await registerAndServe(narrow, experts.slice(0, PARENTS.length), "zoo");
  type Routed = { route(text: string): RouteDecision };
  const routerOf = (live: LiveComposition) => {
    const held = live.checkout("unified")!;
    held.release();
    return held.model as unknown as Routed;
  };
  const routers = { wide: routerOf(wide), narrow: routerOf(narrow) };
  const timing = { wide: [] as number[], narrow: [] as number[] };
  for (const q of warmUp) for (const r of Object.values(routers)) r.route(q); // warm-up
  for (const q of queries) {
    for (const which of ["wide", "narrow"] as const) {
      const t = performance.now();
      routers[which].route(q);
      timing[which].push(performance.now() - t);
    }
  }
  const chosen = new Set(queries.map((q) => routers.wide.route(q).ranked[0].expert));

  // --- gateway memory with the pool bounded --------------------------------------------------------
  const gateway = await startGateway({ models: wide, host: "127.0.0.1", port: 0 });
  const ask = async (model: string, prompt = "The patient was given") => {
    const response = await fetch(`${gateway.url}/v1/completions`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, prompt, max_tokens: 4, temperature: 0 }),
    });
    if (!response.ok) throw new Error(`${model}: HTTP ${response.status} ${await response.text()}`);
    return performance.now();
  };
  t0 = performance.now();
  let maxLoaded = 0;
  const touched = experts.filter((_, i) => i % Math.max(1, Math.floor(EXPERTS / TOUCH)) === 0).slice(0, TOUCH);
  const requestMs: number[] = [];
  for (const e of touched) {
    const t = performance.now();
    await ask(e.id);
    requestMs.push(performance.now() - t);
    maxLoaded = Math.max(maxLoaded, wide.status().loadedModels);
  }
  const touchMs = performance.now() - t0;
  // Memory, each in a fresh child process: the cap against a cap that never binds (the reference).
  const memory = (cap: number): { servedRss: number; rss: number; maxRss: number; maxLoaded: number } => {
    const out = execFileSync(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "hub-scale-child.ts"), path.join(work, "all", "composition.yml"), String(cap), touched.map((e) => e.id).join(",")], { encoding: "utf8" });
    return JSON.parse(out.trim().split("\n").at(-1)!);
  };
  const bounded = memory(CAP);
  const unbounded = memory(touched.length);
  const unifiedMs: number[] = [];
  for (const q of queries.slice(0, 20)) {
    const t = performance.now();
    await ask("unified", q);
    unifiedMs.push(performance.now() - t);
  }

  // --- registration → served: newcomers join one at a time ---------------------------------------
  // Each joins the 200 (served through the gateway, timed to its first answer and to a routed
  // answer) and, as the reference, the 10 zoo experts (rank + compose + publish only).
  const joins: { total: number; firstAnswer: number; routed: number; members: number; times: Record<string, number> }[] = [];
  const narrowJoins: number[] = [];
  for (let j = 0; j < JOINS; j++) {
    const parent = PARENTS[j % PARENTS.length];
    const newcomer: ExpertSpec = { ...experts[j % PARENTS.length], id: `lora-newcomer${j}`, lora: { path: path.join(work, `newcomer${j}.gguf`), scale: 1 } };
    await perturbedAdapter(parent.lora, newcomer.lora!.path, 5000 + j);
    experts.push(newcomer);
    const t = performance.now();
    results.push(...(await evaluateThroughQueue([newcomer], newcomer.id)));
    const evaluation = performance.now() - t;
    const joined = await registerAndServe(wide, experts, `all+${j + 1}`);
    const total = joined.times.rank + joined.times.evidence + joined.times.compose + joined.times.publish;
    const firstAnswer = (await ask(newcomer.id)) - t;
    const routed = (await ask("unified", queries[j])) - t;
    joins.push({ total, firstAnswer, routed, members: joined.members, times: { ...joined.times, evaluation } });
    const reference = await registerAndServe(narrow, [...experts.slice(0, PARENTS.length), newcomer], `zoo+${j + 1}`);
    narrowJoins.push(reference.times.rank + reference.times.evidence + reference.times.compose + reference.times.publish);
  }
  const median = (xs: number[]) => quantile(xs, 0.5);

  await gateway.close();
  await wide.close();
  await narrow.close();

  console.log(`hub-scale: ${EXPERTS} LoRA experts on the zoo's base-a (${PARENTS.length} zoo adapters + ${EXPERTS - PARENTS.length} seeded copies, noise ${NOISE}×RMS, ${(adapterBytes / 1024).toFixed(0)} KiB each, written in ${(adaptersMs / 1000).toFixed(1)} s); ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}`);
  if (EVALUATE) console.log(`  ${evaluatedCopies.length} copies evaluated through the eval queue (${items.length} items each) in ${(evaluateMs / 1000).toFixed(1)} s (${(evaluateMs / 1000 / evaluatedCopies.length).toFixed(1)} s per expert); their accuracy ${copyAccuracy.toFixed(3)} vs their parents' ${parentAccuracy.toFixed(3)}`);
  console.log(`  router over ${served.members} experts (goal < 2 ms p50): route p50 ${ms(quantile(timing.wide, 0.5))}, p99 ${ms(quantile(timing.wide, 0.99))} over ${timing.wide.length} routings; ${chosen.size} distinct experts chosen`);
  console.log(`  reference, router over the ${PARENTS.length} zoo experts: p50 ${ms(quantile(timing.narrow, 0.5))}, p99 ${ms(quantile(timing.narrow, 0.99))}; ratio ×${(quantile(timing.wide, 0.5) / quantile(timing.narrow, 0.5)).toFixed(2)}`);
  console.log(`  first build: rank ${ms(served.times.rank)}, evidence files ${ms(served.times.evidence)}, compose ${ms(served.times.compose)}, publish (router index + calibration) ${ms(served.times.publish)}`);
  console.log(`  pool capped at ${CAP}: ${touched.length} distinct experts requested in ${(touchMs / 1000).toFixed(1)} s (request p50 ${ms(quantile(requestMs, 0.5))} incl. loading), most loaded at once ${maxLoaded}`);
  const memoryLine = (m: typeof bounded) => `RSS ${mib(m.rss)} (peak ${mib(m.maxRss)}; ${mib(m.servedRss)} once the router over ${served.members} was built, before any expert loaded), most loaded ${m.maxLoaded}`;
  console.log(`  gateway memory (fresh process each, the same ${touched.length} experts asked once): cap ${CAP}: ${memoryLine(bounded)}`);
  console.log(`  reference, cap ${touched.length} (never binds): ${memoryLine(unbounded)}; RSS ratio ×${(bounded.rss / unbounded.rss).toFixed(2)}`);
  console.log(`  unified (routed) request p50 ${ms(quantile(unifiedMs, 0.5))}`);
  const publishMedian = median(joins.map((x) => x.total));
  console.log(`  registered → served, median of ${JOINS} newcomers (${joins[0].members}+ experts in the router): evaluation ${ms(median(joins.map((x) => x.times.evaluation)))} then re-rank + evidence + compose + publish ${ms(publishMedian)} (${["rank", "evidence", "compose", "publish"].map((k) => `${k} ${ms(median(joins.map((x) => x.times[k])))}`).join(", ")}), to the newcomer's first answer ${ms(median(joins.map((x) => x.firstAnswer)))}, to a routed answer ${ms(median(joins.map((x) => x.routed)))}`);
  console.log(`  reference, a newcomer joining the ${PARENTS.length} zoo experts: re-rank + evidence + compose + publish ${ms(median(narrowJoins))}; ratio ×${(publishMedian / median(narrowJoins)).toFixed(2)}`);
} finally {
  await fs.rm(work, { recursive: true, force: true });
}
