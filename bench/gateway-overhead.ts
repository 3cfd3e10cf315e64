/**
 * Gateway overhead: the latency `cogen serve` adds over calling the same backend directly, and
 * requests/s through it, on loopback. The backend is the OpenAI-compatible stub server
 * (test/models/openai-stub.ts, no artificial delay) in its own process; the gateway runs as the
 * real `cogen serve` CLI in another process; this process sends the requests. Direct and
 * gateway requests alternate pair by pair, so machine noise hits both alike. Bounded: a fixed
 * number of requests and a few seconds of load. Streaming: time to the first event carrying text.
 *
 *   npx tsx bench/gateway-overhead.ts [--requests 400] [--seconds 3] [--concurrency 16]
 *   (COGEN_BENCH_CPU_PROF=DIR writes CPU profiles of the gateway and stub processes to DIR)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const REQUESTS = arg("requests", 400);
const SECONDS = arg("seconds", 3);
const CONCURRENCY = arg("concurrency", 16);
const here = import.meta.dirname;

function start(args: string[]): { child: ChildProcess; firstLine: Promise<string> } {
  const child = spawn(process.execPath, [...(process.env.COGEN_BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.COGEN_BENCH_CPU_PROF}`] : []), "--import", "tsx", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const firstLine = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    createInterface({ input: child.stderr! }).on("line", (line) => (line.includes("cogen serve:") ? resolve(line) : undefined));
    child.once("exit", (code) => reject(new Error(`child exited with ${code}`)));
  });
  return { child, firstLine };
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

const body = JSON.stringify({ model: "stub", prompt: "the cat", max_tokens: 4, temperature: 0 });
async function post(url: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
  return performance.now() - t0;
}

const streamBody = JSON.stringify({ model: "stub", prompt: "the cat", max_tokens: 4, temperature: 0, stream: true });
/** Milliseconds until the first SSE event that carries text, then the rest of the stream is read. */
async function firstToken(url: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: streamBody });
  if (!res.ok || !res.body) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  const decoder = new TextDecoder();
  let seen = "";
  let at = NaN;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    seen += decoder.decode(chunk, { stream: true });
    if (Number.isNaN(at) && /"text":"[^"]/.test(seen)) at = performance.now() - t0;
  }
  if (Number.isNaN(at)) throw new Error(`${url}: the stream carried no text`);
  return at;
}

async function throughput(url: string): Promise<number> {
  const until = performance.now() + SECONDS * 1000;
  let done = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < until) {
      await post(url);
      done++;
    }
  }));
  return done / SECONDS;
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-gateway-bench-"));
const stub = start([path.join(here, "openai-stub-child.ts"), "0"]);
let gateway: ReturnType<typeof start> | undefined;
try {
  const stubUrl = (await stub.firstLine).trim().replace(/\/v1\/?$/, "");
  const port = 20000 + Math.floor(Math.random() * 20000);
  const config = path.join(dir, "unified.yml");
  await fs.writeFile(config, `experts:\n  - { id: stub, backend: openai, url: ${stubUrl}/v1, model: stub, concurrency: 64 }\n`);
  gateway = start([path.join(here, "..", "src", "cli", "main.ts"), "serve", "--config", config, "--port", String(port)]);
  await gateway.firstLine;
  const gatewayUrl = `http://127.0.0.1:${port}/v1/completions`;
  const directUrl = `${stubUrl}/v1/completions`;

  for (let i = 0; i < 50; i++) await Promise.all([post(directUrl), post(gatewayUrl)]); // warm up both paths
  const direct: number[] = [];
  const through: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    direct.push(await post(directUrl));
    through.push(await post(gatewayUrl));
  }
  direct.sort((a, b) => a - b);
  through.sort((a, b) => a - b);
  const directFirst: number[] = [];
  const throughFirst: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    directFirst.push(await firstToken(directUrl));
    throughFirst.push(await firstToken(gatewayUrl));
  }
  directFirst.sort((a, b) => a - b);
  throughFirst.sort((a, b) => a - b);
  const directRps = await throughput(directUrl);
  const gatewayRps = await throughput(gatewayUrl);
  const ms = (x: number) => `${x.toFixed(3)} ms`;
  console.log(`sequential latency, ${REQUESTS} requests each, interleaved (non-streaming /v1/completions, 4 tokens):`);
  console.log(`  direct to the backend:  p50 ${ms(quantile(direct, 0.5))}  p99 ${ms(quantile(direct, 0.99))}`);
  console.log(`  through cogen serve:    p50 ${ms(quantile(through, 0.5))}  p99 ${ms(quantile(through, 0.99))}`);
  console.log(`  added by the gateway:   p50 ${ms(quantile(through, 0.5) - quantile(direct, 0.5))}  p99 ${ms(quantile(through, 0.99) - quantile(direct, 0.99))}`);
  console.log(`streaming time to first token, ${REQUESTS} requests each, interleaved:`);
  console.log(`  direct p50 ${ms(quantile(directFirst, 0.5))}, through cogen serve p50 ${ms(quantile(throughFirst, 0.5))}, added p50 ${ms(quantile(throughFirst, 0.5) - quantile(directFirst, 0.5))}`);
  console.log(`throughput, ${CONCURRENCY} concurrent clients for ${SECONDS} s:`);
  console.log(`  direct ${directRps.toFixed(0)} req/s, through cogen serve ${gatewayRps.toFixed(0)} req/s (ratio ${(gatewayRps / directRps).toFixed(2)})`);
  console.log(`load average during the run: ${os.loadavg().map((l) => l.toFixed(1)).join(" ")} on ${os.availableParallelism()} cores`);
} finally {
  gateway?.child.kill("SIGTERM");
  stub.child.kill("SIGTERM");
  await fs.rm(dir, { recursive: true, force: true });
}
