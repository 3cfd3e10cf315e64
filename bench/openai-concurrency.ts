/**
 * Does the OpenAI-compatible backend keep a server's configured concurrency saturated? A stub
 * server answers every request after --delay ms; the backend scores --requests log-likelihoods
 * with `concurrency` = --concurrency. Reports the most requests the server saw in flight against
 * the configured limit, the time-weighted mean in flight (server busy time / wall time), and the
 * wall time against the ideal (requests / concurrency × delay),
 * median of --runs. Also runs the same work through runEval (items × choices).
 *
 *   npx tsx bench/openai-concurrency.ts [--concurrency 8] [--requests 400] [--delay 20] [--runs 3]
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { runEval } from "../src/eval/runner.js";
import { parseTasks } from "../src/formats/tasks.js";
import { createOpenAIModel } from "../src/models/openai/model.js";
import { spawn } from "node:child_process";

/** The stub runs in its own process so that its work does not share this event loop. */
async function startStubProcess(delayMs: number) {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "openai-stub-child.ts"), String(delayMs)], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve) => child.stdout!.once("data", (d) => resolve(String(d).trim())));
  const stats = async () => (await (await fetch(url.replace(/\/v1$/, "/stats"), { method: "POST" })).json()) as { maxInFlight: number; busyMs: number };
  await stats();
  return { url, stats, close: () => void child.kill() };
}

const { values } = parseArgs({
  options: {
    concurrency: { type: "string", default: "8" },
    requests: { type: "string", default: "400" },
    delay: { type: "string", default: "20" },
    runs: { type: "string", default: "3" },
  },
});
const concurrency = Number(values.concurrency);
const requests = Number(values.requests);
const delay = Number(values.delay);
const runs = Number(values.runs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ideal = (requests / concurrency) * delay;

const stub = await startStubProcess(delay);
const direct: number[] = [];
const peaks: number[] = [];
const means: number[] = [];
for (let r = 0; r < runs; r++) {
  const model = createOpenAIModel({ id: "s", model: "stub", baseUrl: stub.url, concurrency });
  await stub.stats();
  const t = performance.now();
  await Promise.all(Array.from({ length: requests }, (_, i) => model.logLikelihood("The capital of France is", i % 2 ? " Paris" : " Rome")));
  const wall = performance.now() - t;
  const s = await stub.stats();
  direct.push(wall);
  peaks.push(s.maxInFlight);
  means.push(s.busyMs / wall);
}
console.log(`backend.logLikelihood × ${requests}, concurrency ${concurrency}, server delay ${delay} ms, median of ${runs}:`);
console.log(`  server in flight: peak ${median(peaks)}, time-weighted mean ${median(means).toFixed(2)}, of ${concurrency} configured`);
console.log(`  wall ${median(direct).toFixed(0)} ms vs ideal ${ideal.toFixed(0)} ms → efficiency ${(ideal / median(direct)).toFixed(2)}`);

// Through the runner: items of 4 choices, items × choices = requests; item concurrency = concurrency.
const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-bench-"));
const nItems = Math.ceil(requests / 4);
const items = parseTasks(Array.from({ length: nItems }, (_, i) => JSON.stringify({
  id: `q${i}`, context: "The capital of France is", choices: [" Paris", " Rome", " London", " the"], answer: 0,
})).join("\n"), "bench.jsonl");
const viaRunner: number[] = [];
const runnerPeaks: number[] = [];
const runnerMeans: number[] = [];
for (let r = 0; r < runs; r++) {
  await stub.stats();
  const t = performance.now();
  await runEval({
    experts: [{ id: "s", backend: "openai", url: stub.url, model: "stub", concurrency, domains: [], tags: [] }],
    items, out: path.join(dir, `r${r}.jsonl`), concurrency, batchSize: 64,
  });
  const wall = performance.now() - t;
  const s = await stub.stats();
  viaRunner.push(wall);
  runnerPeaks.push(s.maxInFlight);
  runnerMeans.push(s.busyMs / wall);
}
const runnerIdeal = (nItems * 4 / concurrency) * delay;
console.log(`runEval: ${nItems} items × 4 choices, item concurrency ${concurrency}, median of ${runs}:`);
console.log(`  server in flight: peak ${median(runnerPeaks)}, time-weighted mean ${median(runnerMeans).toFixed(2)}, of ${concurrency} configured`);
console.log(`  wall ${median(viaRunner).toFixed(0)} ms vs ideal ${runnerIdeal.toFixed(0)} ms → efficiency ${(runnerIdeal / median(viaRunner)).toFixed(2)}`);
await fs.rm(dir, { recursive: true, force: true });
stub.close();
