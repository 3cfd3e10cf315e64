/**
 * Every benchmark in bench/, one after another, each in its own process: each prints its own
 * side-by-side ratios; this prints a summary of which succeeded and their wall times.
 *
 *   npm run bench -- [--only NAME[,NAME...]] [--quick] [--list]
 *   npx tsx bench/run.ts [--only ...] [--quick] [--list]
 *
 * A benchmark is any bench/*.ts other than this file and the `*-child.ts` processes benchmarks
 * start. --quick gives each benchmark the smaller sizes in QUICK: a smoke run that every
 * benchmark still works, whose numbers are not the benchmark's. A benchmark that exits with code 3
 * lacks an input that is not part of the repository (the shared reference data) and counts as
 * skipped. The exit code is 1 when any benchmark failed.
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const SKIPPED_EXIT_CODE = 3;

/** Small sizes per benchmark for --quick (each flag is one the benchmark documents). */
export const QUICK: Readonly<Record<string, readonly string[]>> = {
  "fpo-cloze": ["--limit", "8", "--recipes", "unit=byte,ref=domain,distractors=1,per=2,steps=2,batch=2"],
  "adapt-compose": ["--runs", "1", "--candidates", "2"],
  "adapt-evolve": ["--dev", "1", "--test", "1", "--evaluations", "0"],
  "adapt-evolve-workers": ["--runs", "1", "--population", "2", "--items", "1"],
  "adapt-lora": ["--runs", "1", "--steps", "4"],
  "adapt-zoo": ["--steps", "4", "--evaluations", "8", "--records", "5"],
  "bradley-terry": ["--rounds", "10", "--runs", "1"],
  "convert-memory": ["--layers", "1"],
  "ensemble-cost": ["--tokens", "8", "--runs", "1"],
  "eval-llamacpp": ["--runs", "1", "--pairs", "10", "--items", "5", "--hidden", "64", "--layers", "2"],
  "gateway-overhead": ["--requests", "50", "--seconds", "1", "--concurrency", "4"],
  "gguf-quants": ["--elements", String(1 << 16), "--runs", "1"],
  "hub-publish": ["--publishes", "3", "--rollbacks", "1", "--window", "100"],
  "hub-registry": ["--quick"],
  "hub-scale": ["--experts", "20", "--queries", "100", "--cap", "4", "--touch", "8", "--evaluate", "1", "--joins", "1"],
  irt: ["--models", "100", "--items", "2000", "--runs", "1"],
  "merge-full": ["--layers", "1", "--runs", "1", "--hidden", "256", "--inter", "704", "--vocab", "2000"],
  "merge-ties": ["--size", "512", "--runs", "1"],
  "merge-ties-memory": ["--rows", "2000", "--runs", "1"],
  "moe-build": ["--layers", "1", "--runs", "1", "--hidden", "192", "--inter", "384", "--vocab", "1000"],
  "moe-generate": ["--tokens", "16", "--runs", "1"],
  "moe-zoo": ["--prompts", "4", "--variants", "hidden:base"],
  "openai-concurrency": ["--requests", "80", "--runs", "1"],
  router: ["--items", "2000", "--experts", "20", "--queries", "20", "--runs", "1"],
  "router-quality": ["--pools", "1", "--seeds", "1", "--test", "200", "--variants", "router,linear"],
  "safetensors-io": ["--mib", "32", "--runs", "1"],
  "train-throughput": ["--runs", "1", "--steps", "3"],
  "zoo-data": ["--runs", "1", "--seeds", "2"],
};

export function benchmarkNames(dir = BENCH_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && f !== "run.ts" && !f.endsWith("-child.ts"))
    .map((f) => f.slice(0, -".ts".length))
    .sort();
}

interface Outcome {
  name: string;
  status: "ok" | "failed" | "skipped";
  code: number | null;
  seconds: number;
}

function runOne(name: string, args: readonly string[]): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    // Node with tsx's loader: the same as `npx tsx bench/NAME.ts`, without npx's start-up.
    const child = spawn(process.execPath, ["--import", "tsx", path.join(BENCH_DIR, `${name}.ts`), ...args], { stdio: "inherit" });
    const finish = (code: number | null) => {
      const status = code === 0 ? "ok" : code === SKIPPED_EXIT_CODE ? "skipped" : "failed";
      resolve({ name, status, code, seconds: (performance.now() - started) / 1000 });
    };
    child.on("error", () => finish(null));
    child.on("exit", (code) => finish(code));
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { only: { type: "string" }, quick: { type: "boolean" }, list: { type: "boolean" } } });
  const all = benchmarkNames();
  if (values.list) {
    console.log(all.join("\n"));
    return 0;
  }
  const wanted = values.only?.split(",").map((s) => s.trim()).filter(Boolean) ?? all;
  const unknown = wanted.filter((n) => !all.includes(n));
  if (unknown.length) {
    console.error(`unknown benchmark(s): ${unknown.join(", ")}; the benchmarks are: ${all.join(", ")}`);
    return 2;
  }
  const outcomes: Outcome[] = [];
  for (const name of wanted) {
    const args = values.quick ? (QUICK[name] ?? []) : [];
    const note = values.quick && !QUICK[name] ? " (no quick sizes known: full size)" : "";
    console.log(`\n=== ${name}${args.length ? " " + args.join(" ") : ""}${note}`);
    outcomes.push(await runOne(name, args));
  }
  const width = Math.max(...outcomes.map((o) => o.name.length));
  console.log(`\nSummary${values.quick ? " (--quick: smoke sizes, not the benchmarks' numbers)" : ""}:`);
  for (const o of outcomes) {
    const status = o.status === "failed" ? `failed (exit ${o.code ?? "error"})` : o.status;
    console.log(`  ${o.name.padEnd(width)}  ${status.padEnd(16)}  ${o.seconds.toFixed(1).padStart(7)} s`);
  }
  const count = (s: Outcome["status"]) => outcomes.filter((o) => o.status === s).length;
  console.log(`${count("ok")} ok, ${count("failed")} failed, ${count("skipped")} skipped; ${outcomes.reduce((s, o) => s + o.seconds, 0).toFixed(1)} s in all`);
  return count("failed") > 0 ? 1 : 0;
}

// Run when started as a script (test/bench-run.test.ts imports the tables above).
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = await main();
