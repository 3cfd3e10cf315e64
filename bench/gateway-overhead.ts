/**
 * Gateway overhead (issue 15's gateway rows): the latency `cogen serve` adds over calling the
 * same backend directly, and requests/s through it, on loopback. The backend is the
 * OpenAI-compatible stub server (test/models/openai-stub.ts, no artificial delay) in its own
 * process; the gateway runs as the real `cogen serve` CLI in another process; this process sends
 * the requests. Every round measures direct and gateway side by side (latency pairs alternate
 * request by request; the two throughput runs alternate which goes first), and each row is the
 * median over rounds, so a change of machine load hits both. On a small machine the client, the
 * gateway and the stub share the cores, so the gateway process's own CPU time per request is
 * reported too: it is what the gateway costs whatever the load.
 *
 *   npx tsx bench/gateway-overhead.ts [--rounds 5] [--requests 200] [--seconds 2] [--concurrency 16]
 *   (COGEN_BENCH_CPU_PROF=DIR writes CPU profiles of the gateway and stub processes to DIR)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { promises as fs, readdirSync, readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg("rounds", 5);
const REQUESTS = arg("requests", 200);
const SECONDS = arg("seconds", 2);
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

/**
 * CPU time a process has used so far, in ms, all its threads (Linux: /proc/PID/task/ * /schedstat,
 * nanoseconds on the CPU), or NaN where /proc is not there.
 */
function cpuMs(pid: number): number {
  try {
    let ns = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
    return ns / 1e6;
  } catch {
    return NaN;
  }
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

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

/** Requests/s of CONCURRENCY clients for SECONDS, and the requests done. */
async function throughput(url: string): Promise<{ rps: number; done: number }> {
  const t0 = performance.now();
  const until = t0 + SECONDS * 1000;
  let done = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < until) {
      await post(url);
      done++;
    }
  }));
  return { rps: done / ((performance.now() - t0) / 1000), done };
}

/** Latency pairs, direct then gateway, and the gateway's CPU per request over them. */
async function pairs(measure: (url: string) => Promise<number>, directUrl: string, gatewayUrl: string, gatewayPid: number) {
  const direct: number[] = [];
  const through: number[] = [];
  const cpu0 = cpuMs(gatewayPid);
  for (let i = 0; i < REQUESTS; i++) {
    direct.push(await measure(directUrl));
    through.push(await measure(gatewayUrl));
  }
  return { direct: quantile(direct, 0.5), through: quantile(through, 0.5), cpuPerRequest: (cpuMs(gatewayPid) - cpu0) / REQUESTS };
}

interface Round {
  direct: number; through: number; added: number; cpuSequential: number;
  ttftDirect: number; ttftThrough: number; ttftAdded: number; cpuStreamed: number;
  rpsDirect: number; rpsThrough: number; ratio: number; cpuLoaded: number; stubCpuDirect: number; stubCpuThrough: number; clientCpu: number;
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-gateway-bench-"));
const stub = start([path.join(here, "openai-stub-child.ts"), "0"]);
let gateway: ReturnType<typeof start> | undefined;
const loadBefore = os.loadavg()[0];
try {
  const stubUrl = (await stub.firstLine).trim().replace(/\/v1\/?$/, "");
  const port = 20000 + Math.floor(Math.random() * 20000);
  const config = path.join(dir, "unified.yml");
  await fs.writeFile(config, `experts:\n  - { id: stub, backend: openai, url: ${stubUrl}/v1, model: stub, concurrency: 64 }\n`);
  gateway = start([path.join(here, "..", "src", "cli", "main.ts"), "serve", "--config", config, "--port", String(port)]);
  await gateway.firstLine;
  const gatewayPid = gateway.child.pid!;
  const stubPid = stub.child.pid!;
  const gatewayUrl = `http://127.0.0.1:${port}/v1/completions`;
  const directUrl = `${stubUrl}/v1/completions`;

  // Warm up both paths (JIT, connection pools) before anything counts.
  for (let i = 0; i < 200; i++) await Promise.all([post(directUrl), post(gatewayUrl), firstToken(directUrl), firstToken(gatewayUrl)]);
  await throughput(directUrl);
  await throughput(gatewayUrl);

  const ms = (x: number) => `${x.toFixed(3)} ms`;
  const rounds: Round[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const latency = await pairs(post, directUrl, gatewayUrl, gatewayPid);
    const streamed = await pairs(firstToken, directUrl, gatewayUrl, gatewayPid);
    const loaded = async (url: string) => {
      const cpu0 = cpuMs(gatewayPid);
      const stub0 = cpuMs(stubPid);
      const client0 = process.cpuUsage();
      const run = await throughput(url);
      const client = process.cpuUsage(client0);
      return { ...run, cpu: (cpuMs(gatewayPid) - cpu0) / run.done, stubCpu: (cpuMs(stubPid) - stub0) / run.done, clientCpu: (client.user + client.system) / 1000 / run.done };
    };
    // Alternate which goes first, so a load change within the round does not always favour one.
    const [direct, through] = r % 2 === 0 ? [await loaded(directUrl), await loaded(gatewayUrl)] : (([t, d]) => [d, t])([await loaded(gatewayUrl), await loaded(directUrl)]);
    const round: Round = {
      direct: latency.direct, through: latency.through, added: latency.through - latency.direct, cpuSequential: latency.cpuPerRequest,
      ttftDirect: streamed.direct, ttftThrough: streamed.through, ttftAdded: streamed.through - streamed.direct, cpuStreamed: streamed.cpuPerRequest,
      rpsDirect: direct.rps, rpsThrough: through.rps, ratio: through.rps / direct.rps, cpuLoaded: through.cpu,
      stubCpuDirect: direct.stubCpu, stubCpuThrough: through.stubCpu, clientCpu: (direct.clientCpu + through.clientCpu) / 2,
    };
    rounds.push(round);
    console.log(`round ${r + 1}/${ROUNDS}: added p50 ${ms(round.added)}, TTFT added ${ms(round.ttftAdded)}, ${round.rpsDirect.toFixed(0)} vs ${round.rpsThrough.toFixed(0)} req/s ` +
      `(${round.ratio.toFixed(2)}×), gateway CPU ${ms(round.cpuLoaded)}/request, load ${os.loadavg()[0].toFixed(1)}`);
  }
  const m = (key: keyof Round) => median(rounds.map((r) => r[key]));
  const verdict = (ok: boolean) => (ok ? "met" : "missed");
  console.log(`\ngateway overhead: medians of ${ROUNDS} rounds (${REQUESTS} latency pairs each, ${CONCURRENCY} clients × ${SECONDS} s per side), non-streaming /v1/completions, 4 tokens`);
  console.log(`| row | through cogen serve | direct (reference) | added / ratio | goal | |`);
  console.log(`|---|---|---|---|---|---|`);
  console.log(`| latency p50, sequential | ${ms(m("through"))} | ${ms(m("direct"))} | +${ms(m("added"))} | added ≤ 0.7 ms | ${verdict(m("added") <= 0.7)} |`);
  console.log(`| streaming time to first token p50 | ${ms(m("ttftThrough"))} | ${ms(m("ttftDirect"))} | +${ms(m("ttftAdded"))} | added ≤ 1 ms | ${verdict(m("ttftAdded") <= 1)} |`);
  console.log(`| throughput, ${CONCURRENCY} clients | ${m("rpsThrough").toFixed(0)} req/s | ${m("rpsDirect").toFixed(0)} req/s | ${m("ratio").toFixed(2)}× | ≥ 0.6× | ${verdict(m("ratio") >= 0.6)} |`);
  console.log(`gateway process CPU per request: ${ms(m("cpuSequential"))} sequential, ${ms(m("cpuStreamed"))} streamed, ${ms(m("cpuLoaded"))} with ${CONCURRENCY} clients`);
  console.log(`stub process CPU per request with ${CONCURRENCY} clients: ${ms(m("stubCpuDirect"))} direct, ${ms(m("stubCpuThrough"))} behind the gateway; ` +
    `this client's (fetch): ${ms(m("clientCpu"))}`);
  console.log(`load average (1 min): ${loadBefore.toFixed(1)} before, ${os.loadavg()[0].toFixed(1)} after, on ${os.availableParallelism()} cores`);
} finally {
  gateway?.child.kill("SIGTERM");
  stub.child.kill("SIGTERM");
  await fs.rm(dir, { recursive: true, force: true });
}
