/**
 * `cogen adapt evolve --queue`: candidates per minute with one `cogen worker` process against
 * two, on a loopback redis-server started here (issue 12's goal: two workers ≥ 1.8× one). The
 * search is TIES over four family-A zoo experts, scored on --items bits-per-byte items; each run
 * is one generation of --population candidates plus the start, with its own seed (so no job id
 * repeats and nothing is answered from an earlier run). Medians of --runs runs per setting,
 * settings interleaved. Meaningful only where the machine has two idle cores.
 *
 *   npx tsx bench/adapt-evolve-workers.ts [--runs 3] [--population 8] [--items 2]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { evolveMerge } from "../src/adapt/evolve.js";
import { bullMqEvolveQueue } from "../src/adapt/evolve-queue.js";
import { hasRedis, REDIS_SERVER, startRedis } from "../test/eval/jobs/redis.js";

if (!hasRedis) {
  console.log(`skipped: ${REDIS_SERVER} is not installed`);
  process.exit(3);
}
const { values } = parseArgs({ options: { runs: { type: "string" }, population: { type: "string" }, items: { type: "string" } } });
const runs = Number(values.runs ?? 3);
const population = Number(values.population ?? 8);
const zoo = path.resolve(import.meta.dirname, "../zoo");
const root = path.resolve(import.meta.dirname, "..");
const work = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-bench-evolve-workers-"));

const items = (await fs.readFile(path.join(zoo, "items/bits-per-byte.jsonl"), "utf8")).split("\n").filter(Boolean).slice(0, Number(values.items ?? 2));
await fs.writeFile(path.join(work, "objective.jsonl"), items.join("\n") + "\n");
const recipe = path.join(work, "recipe.yml");
await fs.writeFile(recipe, [
  "merge_method: ties",
  `base_model: ${path.join(zoo, "a/base/hf")}`,
  "models:",
  ...["medicine", "law", "finance", "food"].map((d) => `  - ${path.join(zoo, "a/experts", d, "hf")}`),
  "search:",
  "  weight: { min: 0, max: 1, init: 1 }",
  "  density: { min: 0.1, max: 1, init: 0.5 }",
  "parameters: { normalize: true }",
  "dtype: float32",
].join("\n") + "\n");

const redis = await startRedis();
const url = redis.url;

function startWorker(): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", path.join(root, "src/cli/main.ts"), "worker", "--queue", url, "--quiet"], { stdio: "ignore", cwd: root });
}
async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

const rates: Record<"one" | "two", number[]> = { one: [], two: [] };
let seed = 100;
try {
  for (let run = 0; run < runs; run++) {
    for (const setting of ["one", "two"] as const) {
      const workers = Array.from({ length: setting === "one" ? 1 : 2 }, startWorker);
      await new Promise((r) => setTimeout(r, 5000)); // let the workers connect before timing
      const report = await evolveMerge({
        recipe, objective: path.join(work, "objective.jsonl"), outDir: path.join(work, `out-${setting}-${run}`),
        evaluations: population, population, seed: seed++, queue: bullMqEvolveQueue(url),
      });
      rates[setting].push(report.candidatesPerMinute);
      console.log(`run ${run + 1}, ${setting} worker${setting === "two" ? "s" : ""}: ${report.evaluations} candidates in ${report.seconds.toFixed(1)} s = ${report.candidatesPerMinute.toFixed(2)}/min`);
      for (const w of workers) await stopWorker(w);
    }
  }
} finally {
  await redis.stop();
  await fs.rm(work, { recursive: true, force: true });
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
console.log(`median candidates/min: one worker ${median(rates.one).toFixed(2)}, two workers ${median(rates.two).toFixed(2)} → ${(median(rates.two) / median(rates.one)).toFixed(2)}× (goal ≥ 1.8×; machine load ${os.loadavg()[0].toFixed(1)} on ${os.availableParallelism()} cores)`);
