/**
 * Registry operations at the seed's "hundreds": issue 13's goal "registry p99 < 10 ms for reads
 * and writes at 200 experts", measured through the real contributor API (fastify's inject: key
 * auth against hashed keys, validation, the audit log and the store all included) on each store
 * backend — SQLite in a temp file, and PostgreSQL (a throwaway server, stopped by its PID) when
 * installed.
 *
 * Per round and backend, two fresh hubs side by side: one filled with --experts experts (default
 * 200), the reference with 10. Each has a maintainer, --contributors contributors (via POST
 * /api/contributors) and a reader; experts are endpoint registrations, several domains each, owned
 * round-robin. Then timed, per hub:
 * - writes: register (--newcomers experts joining the filled hub), update (PUT: a new revision),
 *   evidence (submitted results on a suite the maintainer POSTed);
 * - reads: the expert list filtered by domain, by owner and paged, an expert's card, contributors,
 *   leaderboards, compositions and the audit log (maintainer), as the reader unless noted.
 * No model is evaluated: every expert is `evaluation: submitted` with an endpoint nobody listens
 * on, and the hub re-runs 0 submitted items (recheckSample 0), so the loop only records, re-ranks
 * and composes. Each timed write waits (untimed) for the loop to go idle, so the loop's own store
 * work does not fall inside another request's time.
 *
 * Prints per operation p50/p99/max at --experts and at 10 (medians over --rounds rounds), the
 * ratio p99 ÷ p99 at 10, each p99 marked against the 10 ms goal, and the load average.
 *
 *   npx tsx bench/hub-registry.ts [--quick] [--experts 200] [--rounds 3] [--reads 25] [--updates 30] [--newcomers 20] [--evidence 6] [--contributors 5]
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { Rng } from "../src/core/rng.js";
import { createContributor, createHub, type Hub } from "../src/hub/api/server.js";
import { postgresBackend, sqliteBackend, type Backend } from "../test/hub/backends.js";
import { endpointExpert } from "../test/hub/hub-fixture.js";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean" }, experts: { type: "string" }, rounds: { type: "string" }, reads: { type: "string" },
    updates: { type: "string" }, newcomers: { type: "string" }, evidence: { type: "string" }, contributors: { type: "string" },
  },
});
const QUICK = values.quick ?? false;
const EXPERTS = Number(values.experts ?? (QUICK ? 40 : 200));
const REFERENCE = 10;
const ROUNDS = Number(values.rounds ?? (QUICK ? 1 : 3));
const READS = Number(values.reads ?? (QUICK ? 5 : 25));
const UPDATES = Number(values.updates ?? (QUICK ? 5 : 30));
const NEWCOMERS = Number(values.newcomers ?? (QUICK ? 3 : 20));
const EVIDENCE = Number(values.evidence ?? (QUICK ? 2 : 6));
const CONTRIBUTORS = Number(values.contributors ?? 5);
const GOAL_MS = 10;

const DOMAINS = ["medicine", "law", "finance", "computing", "geography", "biology", "food", "people"];
const ITEMS_PER_DOMAIN = 6;
/** Nothing listens on the discard port: an evaluation, were one to start, fails at once. */
const NOWHERE = "http://127.0.0.1:9/v1";
const SUITE = {
  id: "registry-suite",
  provenance: "bench/hub-registry.ts (synthetic multiple-choice items)",
  licence: "cc0",
  tasks: DOMAINS.flatMap((domain) => Array.from({ length: ITEMS_PER_DOMAIN }, (_, i) =>
    JSON.stringify({ id: `${domain}-${i}`, domain, context: `A ${domain} question ${i}:`, choices: [" yes", " no", " maybe"], answer: i % 3 }))).join("\n") + "\n",
};

const quantile = (xs: readonly number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const median = (xs: readonly number[]) => quantile(xs, 0.5);
const ms = (x: number) => x.toFixed(2).padStart(7);
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(" ");

type Method = "GET" | "POST" | "PUT";
/** Samples (ms) per operation name. */
type Samples = Map<string, number[]>;

interface Driven {
  hub: Hub;
  call(method: Method, url: string, key: string, body?: unknown, expect?: number): Promise<unknown>;
  timed(samples: Samples, op: string, method: Method, url: string, key: string, body?: unknown, expect?: number): Promise<unknown>;
}

function drive(hub: Hub): Driven {
  const call: Driven["call"] = async (method, url, key, body, expect = method === "POST" ? 201 : 200) => {
    const response = await hub.app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(body === undefined ? {} : { payload: body as object }) });
    if (response.statusCode !== expect) throw new Error(`${method} ${url}: ${response.statusCode} ${response.body.slice(0, 300)}`);
    return JSON.parse(response.body);
  };
  return {
    hub,
    call,
    async timed(samples, op, method, url, key, body, expect) {
      const t0 = performance.now();
      const out = await call(method, url, key, body, expect);
      const took = performance.now() - t0;
      samples.set(op, [...(samples.get(op) ?? []), took]);
      return out;
    },
  };
}

function expertBody(i: number, rng: Rng): Record<string, unknown> {
  const first = DOMAINS[i % DOMAINS.length];
  const domains = [first, DOMAINS[(i + 1 + Math.floor(rng.next() * (DOMAINS.length - 1))) % DOMAINS.length]];
  return { ...endpointExpert(`expert-${i}`, NOWHERE, [...new Set(domains)]), evaluation: "submitted" };
}

/** What each size's latest hub held when its reads were timed. */
const contents = new Map<number, string>();

/** One hub with `size` experts on a fresh store of `backend`; every operation timed into `samples`. */
async function measure(backend: Backend, size: number, round: number, samples: Samples): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cogen-hub-registry-"));
  mkdirSync(path.join(dir, "root"));
  const loopErrors: string[] = [];
  const hub = await createHub({
    store: await backend.fresh(), dataDir: path.join(dir, "data"), artefactRoot: path.join(dir, "root"),
    publicReads: false, recheckSample: 0, seed: 7 + round,
    onEvent: (e) => {
      if (e.kind === "error") loopErrors.push(e.message);
    },
  });
  try {
    const d = drive(hub);
    const rng = new Rng(1000 * round + size);
    const admin = await createContributor(hub.store, { id: "admin", name: "Admin", role: "maintainer" });
    const keys: string[] = [];
    for (let c = 0; c < CONTRIBUTORS; c++) keys.push(((await d.call("POST", "/api/contributors", admin, { id: `contributor-${c}`, name: `Contributor ${c}`, role: "contributor" })) as { key: string }).key);
    const reader = ((await d.call("POST", "/api/contributors", admin, { id: "reader", name: "Reader", role: "reader" })) as { key: string }).key;
    await d.call("POST", "/api/suites", admin, SUITE);
    await hub.loop.idle();
    const ownerKey = (i: number) => keys[i % CONTRIBUTORS];

    // Fill (untimed), then newcomers join the filled hub (timed).
    for (let i = 0; i < size; i++) {
      await d.call("POST", "/api/experts", ownerKey(i), expertBody(i, rng));
      await hub.loop.idle();
    }
    for (let i = size; i < size + NEWCOMERS; i++) {
      await d.timed(samples, "POST /api/experts (register)", "POST", "/api/experts", ownerKey(i), expertBody(i, rng));
      await hub.loop.idle();
    }
    const total = size + NEWCOMERS;
    for (let u = 0; u < UPDATES; u++) {
      const i = Math.floor(rng.next() * total);
      const body = { ...expertBody(i, rng), card: { description: `expert-${i}, revised in update ${u}` } };
      await d.timed(samples, "PUT /api/experts/:id (update)", "PUT", `/api/experts/expert-${i}`, ownerKey(i), body);
      await hub.loop.idle();
    }
    for (let e = 0; e < EVIDENCE; e++) {
      const i = Math.floor(rng.next() * total);
      const results = SUITE.tasks.trim().split("\n").map((line) => ({ item: (JSON.parse(line) as { id: string }).id, score: rng.next() < 0.6 ? 1 : 0 }));
      await d.timed(samples, `POST /api/experts/:id/evidence (${DOMAINS.length * ITEMS_PER_DOMAIN} results)`, "POST", `/api/experts/expert-${i}/evidence`, ownerKey(i), { suite: SUITE.id, results }, 202);
      await hub.loop.idle();
    }

    for (let r = 0; r < READS; r++) {
      const i = Math.floor(rng.next() * total);
      const domain = DOMAINS[Math.floor(rng.next() * DOMAINS.length)];
      const owner = `contributor-${Math.floor(rng.next() * CONTRIBUTORS)}`;
      await d.timed(samples, "GET /api/experts?domain=", "GET", `/api/experts?domain=${domain}&limit=20`, reader);
      await d.timed(samples, "GET /api/experts?owner=&offset=", "GET", `/api/experts?owner=${owner}&limit=10&offset=10`, reader);
      await d.timed(samples, "GET /api/experts/:id (card)", "GET", `/api/experts/expert-${i}`, reader);
      await d.timed(samples, "GET /api/contributors", "GET", "/api/contributors", reader);
      await d.timed(samples, "GET /api/leaderboards", "GET", "/api/leaderboards", reader);
      await d.timed(samples, "GET /api/compositions", "GET", "/api/compositions", reader);
      await d.timed(samples, "GET /api/audit (maintainer)", "GET", "/api/audit?limit=50", admin);
    }
    const boards = (await d.call("GET", "/api/leaderboards", reader)) as { leaderboards: unknown[] };
    const history = (await d.call("GET", "/api/compositions", reader)) as { versions: unknown[] };
    const audit = (await d.call("GET", "/api/audit?limit=1", admin)) as { total: number };
    contents.set(size, `${total} experts, ${boards.leaderboards.length} leaderboards, ${history.versions.length} compositions, ${audit.total} audit entries`);
    await hub.loop.idle();
    if (loopErrors.length) throw new Error(`hub loop: ${loopErrors.join("; ")}`);
  } finally {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Stats { p50: number; p99: number; max: number; n: number }

/** Per operation: the median over rounds of each round's p50, p99 and max. */
function summarise(rounds: readonly Samples[]): Map<string, Stats> {
  const out = new Map<string, Stats>();
  for (const op of rounds[0].keys()) {
    const per = rounds.map((s) => s.get(op)!);
    out.set(op, {
      p50: median(per.map((xs) => quantile(xs, 0.5))),
      p99: median(per.map((xs) => quantile(xs, 0.99))),
      max: median(per.map((xs) => Math.max(...xs))),
      n: per[0].length,
    });
  }
  return out;
}

const started = performance.now();
console.log(`hub registry: ${EXPERTS} experts vs ${REFERENCE} (reference), ${CONTRIBUTORS} contributors, ${ROUNDS} round(s); ${NEWCOMERS} registers, ${UPDATES} updates, ${EVIDENCE} evidence submissions, ${READS}× each read per hub per round`);
console.log(`load average at start (1/5/15 min): ${load()}${QUICK ? "  (--quick: smoke sizes, not the benchmark's numbers)" : ""}`);
const backends = [sqliteBackend(), postgresBackend()];
let failed = false;
for (const backend of backends) {
  if (!backend.available) {
    console.log(`\n${backend.name}: skipped (PostgreSQL 15 binaries are absent)`);
    continue;
  }
  try {
    const big: Samples[] = [];
    const small: Samples[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Side by side: the reference and the filled hub in the same round, order alternating.
      const order = round % 2 === 0 ? [REFERENCE, EXPERTS] : [EXPERTS, REFERENCE];
      const got = new Map<number, Samples>();
      for (const size of order) {
        const samples: Samples = new Map();
        await measure(backend, size, round, samples);
        got.set(size, samples);
      }
      big.push(got.get(EXPERTS)!);
      small.push(got.get(REFERENCE)!);
    }
    const at = summarise(big);
    const ref = summarise(small);
    console.log(`\n${backend.name} (load average now ${load()}): ms, median over ${ROUNDS} round(s) of each round's p50/p99/max (a round's p99 is its slowest request when n < 100)`);
    const width = Math.max(...[...at.keys()].map((op) => op.length));
    console.log(`${"operation".padEnd(width)} ${"n".padStart(3)} | ${`p50@${EXPERTS}`.padStart(7)} ${`p99@${EXPERTS}`.padStart(7)} ${`max@${EXPERTS}`.padStart(7)} | ${`p50@${REFERENCE}`.padStart(7)} ${`p99@${REFERENCE}`.padStart(7)} ${`max@${REFERENCE}`.padStart(7)} | p99 ratio | goal p99 < ${GOAL_MS} ms`);
    for (const [op, s] of at) {
      const r = ref.get(op)!;
      const verdict = s.p99 < GOAL_MS ? "met" : "MISSED";
      console.log(`${op.padEnd(width)} ${String(s.n).padStart(3)} | ${ms(s.p50)} ${ms(s.p99)} ${ms(s.max)} | ${ms(r.p50)} ${ms(r.p99)} ${ms(r.max)} | ${(s.p99 / r.p99).toFixed(2).padStart(8)}× | ${verdict}`);
    }
    const worst = [...at.entries()].sort((a, b) => b[1].p99 - a[1].p99)[0];
    console.log(`worst p99 at ${EXPERTS}: ${worst[0]} ${worst[1].p99.toFixed(2)} ms; goal met for ${[...at.values()].filter((s) => s.p99 < GOAL_MS).length}/${at.size} operations`);
    console.log(`state of the last ${EXPERTS}-expert hub: ${contents.get(EXPERTS)}`);
  } catch (error) {
    failed = true;
    console.error(`${backend.name}: ${(error as Error).stack ?? error}`);
  } finally {
    await backend.teardown();
  }
}
console.log(`\nload average at end: ${load()}; ${((performance.now() - started) / 1000).toFixed(1)} s in all`);
if (failed) process.exitCode = 1;
