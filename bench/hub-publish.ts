/**
 * Live publishing under load: the gateway serves the zoo's family-A experts through a
 * LiveComposition while steady loopback clients (half streaming) send chat requests, and the
 * composition is republished N times (each version routes "unified" to another expert and keeps
 * one expert of the previous version, so the pool reuses it). Reports failed requests (the goal
 * is zero), publish times (build + switch), time until a replaced version has drained and released
 * its experts, the most models loaded at once, and request latency during publishes against the
 * same load with no publishes, measured side by side in alternating windows.
 *
 * Then --rollbacks rollbacks to earlier versions, under the same load.
 *
 *   npx tsx bench/hub-publish.ts [--publishes 20] [--rollbacks 5] [--concurrency 4] [--window 400]  (quiet window, ms)
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { startGateway } from "../src/serve/gateway.js";
import { LiveComposition } from "../src/serve/live.js";
import { parseUnifiedConfig, type UnifiedConfig } from "../src/serve/unified-config.js";

const { values } = parseArgs({
  options: { publishes: { type: "string" }, rollbacks: { type: "string" }, concurrency: { type: "string" }, window: { type: "string" } },
});
const PUBLISHES = Number(values.publishes ?? 20);
const ROLLBACKS = Number(values.rollbacks ?? 5);
const CONCURRENCY = Number(values.concurrency ?? 4);
const WINDOW_MS = Number(values.window ?? 400);

const ZOO = path.join(import.meta.dirname, "..", "zoo");
const DOMAINS = ["medicine", "law", "finance", "computing", "geography", "biology"];

function versionConfig(i: number): UnifiedConfig {
  const pick = [DOMAINS[i % DOMAINS.length], DOMAINS[(i + 1) % DOMAINS.length]];
  const lines = ["experts:"];
  for (const d of pick) lines.push(`  - { id: a-expert-${d}, backend: llamacpp, path: a/experts/${d}/model.gguf, context_size: 64, threads: 1 }`);
  lines.push("serve:", `  - { id: unified, policy: single, members: [a-expert-${pick[0]}] }`);
  for (const d of pick) lines.push(`  - { id: a-expert-${d}, policy: single, members: [a-expert-${d}] }`);
  return parseUnifiedConfig(lines.join("\n"), path.join(ZOO, "hub-publish.yml"));
}

const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};
const median = (xs: number[]) => quantile(xs, 0.5);

const live = new LiveComposition({ maxLoadedModels: 4 });
await live.publish(versionConfig(0), "v0");
const gateway = await startGateway({ models: live, host: "127.0.0.1", port: 0 });

let failed = 0;
const failures: string[] = [];
let stop = false;
let publishing = false;
const latency = { quiet: [] as number[], publishing: [] as number[] };

async function request(stream: boolean): Promise<void> {
  const t0 = performance.now();
  const during = publishing;
  let problem: string | null;
  try {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "unified", messages: [{ role: "user", content: "The patient" }], max_tokens: 8, temperature: 0, stream }),
    });
    const text = await response.text();
    const ok = response.ok && (!stream || (text.trimEnd().endsWith("data: [DONE]") && !text.includes('"error"')));
    problem = ok ? null : `${response.status} ${text.slice(0, 200)}`;
  } catch (error) {
    // A dropped connection is a failed request too.
    problem = `fetch: ${error instanceof Error ? error.message : String(error)}`;
  }
  if (problem !== null) {
    failed++;
    if (failures.length < 5) failures.push(problem);
  }
  (during || publishing ? latency.publishing : latency.quiet).push(performance.now() - t0);
}

const clients = Array.from({ length: CONCURRENCY }, async (_, c) => {
  while (!stop) await request(c % 2 === 1);
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const publishMs: number[] = [];
const drainMs: number[] = [];
let maxLoaded = live.status().loadedModels;
let reused = 0;
const started = performance.now();
await sleep(WINDOW_MS); // warm-up, not counted
latency.quiet.length = 0;
// The publishes, then the rollbacks: to v17, v14, … (for 20 publishes).
const steps = [
  ...Array.from({ length: PUBLISHES }, (_, k) => ({ kind: "publish" as const, version: `v${k + 1}` })),
  ...Array.from({ length: ROLLBACKS }, (_, k) => ({ kind: "rollback" as const, version: `v${Math.max(1, PUBLISHES - 3 * (k + 1))}` })),
];
const rollbackMs: number[] = [];
for (const [i, step] of steps.entries()) {
  await sleep(WINDOW_MS); // a quiet window: the reference latency
  publishing = true;
  const t0 = performance.now();
  const report = step.kind === "publish" ? await live.publish(versionConfig(i + 1), step.version) : await live.rollback(step.version);
  if (live.version !== step.version) throw new Error(`${step.kind} ${step.version}: serving ${live.version}`);
  (step.kind === "publish" ? publishMs : rollbackMs).push(performance.now() - t0);
  if (step.kind === "publish") reused += report.reused.length;
  maxLoaded = Math.max(maxLoaded, live.status().loadedModels);
  await live.drained();
  drainMs.push(performance.now() - t0);
  await sleep(WINDOW_MS / 4);
  publishing = false;
}
stop = true;
await Promise.all(clients);
const wallS = (performance.now() - started) / 1000;
await gateway.close();
await live.close();

const total = latency.quiet.length + latency.publishing.length;
console.log(`hub-publish: ${PUBLISHES} publishes and ${ROLLBACKS} rollbacks of the zoo's family-A experts under ${CONCURRENCY} loopback clients (half streaming), ${total} requests in ${wallS.toFixed(1)} s`);
console.log(`  failed requests            ${failed}${failures.length ? `  e.g. ${failures[0]}` : ""}`);
console.log(`  publish (build + switch)   median ${median(publishMs).toFixed(1)} ms, max ${Math.max(...publishMs).toFixed(1)} ms`);
if (rollbackMs.length) console.log(`  rollback (rebuild + switch) median ${median(rollbackMs).toFixed(1)} ms, max ${Math.max(...rollbackMs).toFixed(1)} ms`);
console.log(`  publish → old drained      median ${median(drainMs).toFixed(1)} ms, max ${Math.max(...drainMs).toFixed(1)} ms`);
console.log(`  experts reused from pool   ${reused} of ${PUBLISHES * 2} (one per version is shared with the previous one)`);
console.log(`  most models loaded at once ${maxLoaded} (cap 4)`);
const ratio = median(latency.publishing) / median(latency.quiet);
console.log(`  request latency p50        quiet ${median(latency.quiet).toFixed(1)} ms (${latency.quiet.length}), during publish ${median(latency.publishing).toFixed(1)} ms (${latency.publishing.length}): ×${ratio.toFixed(2)}`);
console.log(`  request latency p99        quiet ${quantile(latency.quiet, 0.99).toFixed(1)} ms, during publish ${quantile(latency.publishing, 0.99).toFixed(1)} ms`);
if (failed > 0) process.exitCode = 1;
