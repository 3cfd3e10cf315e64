/**
 * `cogen adapt evolve --queue`: candidates per minute with one `cogen worker` process against
 * two, on a loopback redis-server started here (issue 12's goal: two workers ≥ 1.8× one). The
 * search is TIES over four family-A zoo experts, scored on --items bits-per-byte items; each run
 * is the start plus --generations generations of --population candidates. Every run is a new
 * search (its own job ids), so nothing is answered from an earlier run. Workers are timed from
 * when they say they are waiting for jobs (llama.cpp already started). Medians of --runs runs
 * per setting, settings interleaved.
 *
 * Besides wall-clock candidates per minute (which on a shared machine measures the cores the
 * workers got as much as the queue), each run prints what judges the queue itself: each worker's
 * busy fraction (seconds inside candidates over the run's seconds), CPU seconds per candidate in
 * the workers (the same work in both settings when nothing is duplicated), and the CPU the
 * coordinator and Redis spent. "Queue-limited speedup" = the two workers' busy fractions summed
 * over the one worker's: the speedup if each candidate took as long with two workers as with
 * one, i.e. on two cores nobody else uses.
 *
 *   npx tsx bench/adapt-evolve-workers.ts [--runs 3] [--population 8] [--generations 2] [--items 2]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { promises as fs, readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { evolveMerge, type EvolveReport } from "../src/adapt/evolve.js";
import { bullMqEvolveQueue } from "../src/adapt/evolve-queue.js";
import { hasRedis, REDIS_SERVER, startRedis } from "../test/eval/jobs/redis.js";

if (!hasRedis) {
  console.log(`skipped: ${REDIS_SERVER} is not installed`);
  process.exit(3);
}
const { values } = parseArgs({ options: { runs: { type: "string" }, population: { type: "string" }, generations: { type: "string" }, items: { type: "string" } } });
const runs = Number(values.runs ?? 3);
const population = Number(values.population ?? 8);
const generations = Number(values.generations ?? 2);
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

/** utime + stime of a process in seconds (Linux /proc; NaN elsewhere). */
function cpuSecondsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

/** A `cogen worker`, resolved once it says it is waiting for jobs. */
function startWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "src/cli/main.ts"), "worker", "--queue", url], { stdio: ["ignore", "ignore", "pipe"], cwd: root });
  let log = "";
  return new Promise((resolve, reject) => {
    child.stderr!.on("data", (chunk) => {
      log += chunk;
      if (log.includes("waiting for jobs")) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`cogen worker exited with ${code}: ${log}`)));
  });
}
async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

interface RunFigures {
  report: EvolveReport;
  workerCpu: number;
  coordinatorCpu: number;
  redisCpu: number;
}
const figures: Record<"one" | "two", RunFigures[]> = { one: [], two: [] };
const loads: number[] = [];
let seed = 100;
const f2 = (x: number) => x.toFixed(2);
try {
  for (let run = 0; run < runs; run++) {
    for (const setting of ["one", "two"] as const) {
      const workers = await Promise.all(Array.from({ length: setting === "one" ? 1 : 2 }, startWorker));
      const cpu0 = { workers: workers.map((w) => cpuSecondsOf(w.pid!)), redis: cpuSecondsOf(redis.pid), coordinator: process.cpuUsage() };
      loads.push(os.loadavg()[0]);
      const report = await evolveMerge({
        recipe, objective: path.join(work, "objective.jsonl"), outDir: path.join(work, `out-${setting}-${run}`),
        evaluations: population * generations, population, seed: seed++, queue: bullMqEvolveQueue(url),
      });
      const coordinator = process.cpuUsage(cpu0.coordinator);
      const fig: RunFigures = {
        report,
        workerCpu: workers.reduce((s, w, i) => s + cpuSecondsOf(w.pid!) - cpu0.workers[i], 0),
        coordinatorCpu: (coordinator.user + coordinator.system) / 1e6,
        redisCpu: cpuSecondsOf(redis.pid) - cpu0.redis,
      };
      figures[setting].push(fig);
      const busy = report.workers.map((w) => `${f2(w.busyFraction)} (${w.candidates})`).join(", ");
      console.log(`run ${run + 1}, ${setting} worker${setting === "two" ? "s" : ""}: ${report.evaluations} candidates in ${report.seconds.toFixed(1)} s = ${report.candidatesPerMinute.toFixed(1)}/min; busy ${busy}; `
        + `CPU s/candidate: in candidates ${f2(cpuPerCandidate(report))}, worker processes ${f2(fig.workerCpu / report.evaluations)}, coordinator ${f2(fig.coordinatorCpu / report.evaluations)}, redis ${f2(fig.redisCpu / report.evaluations)}; load ${loads.at(-1)!.toFixed(1)}`);
      for (const w of workers) await stopWorker(w);
    }
  }
} finally {
  await redis.stop();
  await fs.rm(work, { recursive: true, force: true });
}

function cpuPerCandidate(report: EvolveReport): number {
  const n = report.workers.reduce((s, w) => s + w.candidates, 0);
  return report.workers.reduce((s, w) => s + w.cpuSecondsPerCandidate * w.candidates, 0) / Math.max(1, n);
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const rate = (s: "one" | "two") => median(figures[s].map((f) => f.report.candidatesPerMinute));
const busySum = (s: "one" | "two") => median(figures[s].map((f) => f.report.workers.reduce((t, w) => t + w.busyFraction, 0)));
const cpu = (s: "one" | "two") => median(figures[s].map((f) => cpuPerCandidate(f.report)));
const row = (name: string, measured: string, reference: string, ratio: number, goal: string, met?: boolean) =>
  console.log(`${name.padEnd(44)} ${measured.padStart(10)} ${reference.padStart(10)} ${`${f2(ratio)}×`.padStart(7)}  ${goal}${met === undefined ? "" : met ? "  met" : "  MISSED"}`);
console.log(`\nmedians of ${runs} runs, ${1 + population * generations} candidates each (population ${population}, ${generations} generations + the start), ${items.length} items per candidate`);
console.log(`${"".padEnd(44)} ${"two".padStart(10)} ${"one".padStart(10)} ${"ratio".padStart(7)}  goal`);
row("candidates per minute (wall clock)", f2(rate("two")), f2(rate("one")), rate("two") / rate("one"), "≥ 1.8×", rate("two") / rate("one") >= 1.8);
row("queue-limited speedup (Σ busy fractions)", f2(busySum("two")), f2(busySum("one")), busySum("two") / busySum("one"), "diagnostic: ≥ 1.8× when the queue is not the limit");
row("CPU s per candidate inside candidates", f2(cpu("two")), f2(cpu("one")), cpu("two") / cpu("one"), "diagnostic: ~1× when nothing is duplicated");
console.log(`load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} (1 min) during the runs, ${os.availableParallelism()} cores`);
