import { spawn, type ChildProcess } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runEval } from "../../../src/eval/runner.js";
import type { ExpertSpec } from "../../../src/formats/models-file.js";
import { parseTasks } from "../../../src/formats/tasks.js";
import { BullMqQueue, redisConnection } from "../../../src/eval/jobs/bullmq.js";
import { startStub, type StubServer } from "../../models/openai-stub.js";
import { ITEMS } from "../helpers.js";
import { hasRedis, startRedis, type RedisHandle } from "./redis.js";

const ROOT = path.resolve(import.meta.dirname, "../../..");

interface WorkerProcess {
  child: ChildProcess;
  log: () => string;
}

function startWorker(url: string, extra: string[] = []): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "worker", "--queue", url, ...extra], {
    cwd: ROOT, stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr!.on("data", (chunk) => (log += chunk));
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (/waiting for [a-z, ]+ jobs on/.test(log)) {
        clearInterval(timer);
        resolve({ child, log: () => log });
      }
    }, 50);
    child.on("exit", (code) => {
      clearInterval(timer);
      reject(new Error(`worker exited with ${code}: ${log}`));
    });
  });
}

function stopWorker(worker: WorkerProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  return new Promise((resolve) => {
    if (worker.child.exitCode !== null || worker.child.signalCode !== null) return resolve();
    worker.child.once("exit", () => resolve());
    worker.child.kill(signal);
  });
}

async function eventually(condition: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

const sortedLines = async (file: string) => (await fs.readFile(file, "utf8")).trim().split("\n").sort();

describe.skipIf(!hasRedis)("distributed evaluation over Redis (BullMQ)", () => {
  let redis: RedisHandle;
  let stub: StubServer;
  let dir: string;
  const workers: WorkerProcess[] = [];
  const expert = (id: string): ExpertSpec => ({ id, backend: "openai", url: stub.url, model: "stub", domains: [], tags: [] });

  const completedJobs = () => workers.map((w) => (w.log().match(/completed eval-/g) ?? []).length).reduce((s, n) => s + n, 0);

  beforeAll(async () => {
    redis = await startRedis();
    stub = await startStub({ delayMs: 15 });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-jobs-"));
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => stopWorker(w, "SIGKILL")));
    await stub?.close();
    await redis?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it("a run split over two worker processes gives exactly the results of a local run; resubmitting adds nothing", async () => {
    const experts = [expert("a"), expert("b")];
    const local = path.join(dir, "local.jsonl");
    await runEval({ experts, items: ITEMS, out: local, batchSize: 2 });

    // Short locks in every worker: BullMQ's stalled check runs at most once per the interval of
    // whichever worker last ran it, and the next test kills a worker.
    const short = ["--lock-duration", "1000"];
    workers.push(await startWorker(redis.url, short), await startWorker(redis.url, short));
    const queue2 = new BullMqQueue(redis.url);
    try {
      const report = await runEval({ experts, items: ITEMS, out: path.join(dir, "remote2.jsonl"), batchSize: 2, queue: queue2 });
      expect(report.failures).toEqual([]);
      expect(report.written).toBe(2 * ITEMS.length);
      expect(await sortedLines(path.join(dir, "remote2.jsonl"))).toEqual(await sortedLines(local));
      // Both workers took part (their log lines may trail the queue's completion events).
      await eventually(() => completedJobs() === 8);
      for (const w of workers) expect(w.log()).toMatch(/completed eval-/);
      // The same jobs again (same content, same ids) into the same file: nothing is duplicated.
      const again = await runEval({ experts, items: ITEMS, out: path.join(dir, "remote2.jsonl"), batchSize: 2, queue: queue2, resume: true });
      expect(again.written).toBe(0);
      // Into a fresh file: finished jobs are not run again, their stored results are collected.
      const third = await runEval({ experts, items: ITEMS, out: path.join(dir, "remote3.jsonl"), batchSize: 2, queue: queue2 });
      expect(third.failures).toEqual([]);
      expect(third.written).toBe(2 * ITEMS.length);
      expect(completedJobs()).toBe(8);
      expect(await sortedLines(path.join(dir, "remote3.jsonl"))).toEqual(await sortedLines(local));
    } finally {
      await queue2.close();
      await Promise.all(workers.splice(0).map((w) => stopWorker(w)));
    }
  });

  it("a worker killed mid-job loses nothing: the stalled job is run again by another worker", async () => {
    const slow = await startStub({ delayMs: 400 });
    try {
      const experts = [{ ...expert("k"), url: slow.url }];
      const items = ITEMS.slice(0, 2);
      const victim = await startWorker(redis.url, ["--lock-duration", "1000"]);
      workers.push(victim);
      const queue = new BullMqQueue(redis.url);
      const out = path.join(dir, "killed.jsonl");
      const running = runEval({ experts, items, out, batchSize: 2, queue });
      // Wait until the victim is inside the job (the stub has seen a request), then kill it hard.
      while (slow.requests === 0) await new Promise((r) => setTimeout(r, 20));
      await stopWorker(victim, "SIGKILL");
      expect(victim.log()).not.toMatch(/completed/);
      const rescuer = await startWorker(redis.url, ["--lock-duration", "1000"]);
      workers.push(rescuer);
      const report = await running;
      await queue.close();
      expect(report.failures).toEqual([]);
      expect(report.written).toBe(2);
      await eventually(() => /completed eval-/.test(rescuer.log()));
      const lines = (await fs.readFile(out, "utf8")).trim().split("\n").map((l) => JSON.parse(l));
      expect(lines.map((l) => l.item).sort()).toEqual(["mc1", "mc2"]);
    } finally {
      await slow.close();
    }
  });

  it("an item too long for the server's context fails alone on a worker; the job's other results come back", async () => {
    const small = await startStub({ context: { tokens: 20, server: "vllm" } });
    // An eval-only worker (--jobs eval) serves evaluation jobs like a full one.
    const worker = await startWorker(redis.url, ["--jobs", "eval"]);
    expect(worker.log()).toMatch(/waiting for eval jobs on/);
    workers.push(worker);
    const queue = new BullMqQueue(redis.url);
    try {
      const long = parseTasks(JSON.stringify({ id: "long", domain: "text", text: "The capital of France is Paris. ".repeat(6) }), "long.jsonl");
      const items = [...ITEMS.slice(0, 3), ...long, ...ITEMS.slice(3)];
      const out = path.join(dir, "too-long.jsonl");
      const report = await runEval({ experts: [{ ...expert("ctx"), url: small.url, maxRetries: 0 }], items, out, batchSize: items.length, queue });
      expect(report.failures).toEqual([]);
      expect(report.itemFailures).toEqual([{ model: "ctx", item: "long", error: expect.stringMatching(/prompt is longer than the server's context \(This model's maximum context length is 20 tokens/) }]);
      expect(report.written).toBe(ITEMS.length);
      expect((await sortedLines(out)).map((l) => JSON.parse(l).item).sort()).toEqual(ITEMS.map((i) => i.id).sort());
      // The worker that ran it says so too, where someone watching it sees (an earlier test's
      // worker may still be taking jobs).
      const said = /cogen worker: item 'long' of model 'ctx' has no result: .*maximum context length is 20 tokens/;
      await eventually(() => workers.some((w) => said.test(w.log())));
    } finally {
      await queue.close();
      await stopWorker(worker);
      workers.splice(workers.indexOf(worker), 1);
      await small.close();
    }
  });

  it("a worker's local models file replaces a submitted expert by id", async () => {
    const { startEvalWorker } = await import("../../../src/eval/jobs/bullmq.js");
    const { executeEvalJob } = await import("../../../src/eval/jobs/execute.js");
    const { ModelPool } = await import("../../../src/models/pool.js");
    const pool = new ModelPool();
    const worker = await startEvalWorker(redis.url, {
      execute: (job) => executeEvalJob(job, pool),
      localExperts: [expert("moved")],
      queueName: "override-test",
    });
    const queue = new BullMqQueue(redis.url, "override-test");
    try {
      const submitted = { ...expert("moved"), url: "http://127.0.0.1:1/v1", maxRetries: 0 };
      const report = await runEval({ experts: [submitted], items: ITEMS.slice(0, 3), out: path.join(dir, "override.jsonl"), queue });
      expect(report.failures).toEqual([]);
      expect(report.written).toBe(3);
    } finally {
      await queue.close();
      await worker.close();
      await pool.close();
    }
  });

  it("waits for many jobs at once without a listener per job: every outcome once, no MaxListenersExceededWarning", async () => {
    const { startEvalWorker } = await import("../../../src/eval/jobs/bullmq.js");
    const worker = await startEvalWorker<{ id: string; n: number }, number>(redis.url, {
      execute: async (job) => {
        if (job.n === 3) throw new Error("three is refused");
        return job.n * 2;
      },
      queueName: "many-test",
      concurrency: 4,
    });
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    const queue = new BullMqQueue(redis.url, "many-test");
    try {
      const jobs = Array.from({ length: 24 }, (_, n) => ({ id: `many-${n}`, n }));
      const outcomes = new Map<string, unknown>();
      await queue.runJobs(jobs, "many", async (job, result, error) => {
        expect(outcomes.has(job.id)).toBe(false);
        outcomes.set(job.id, error ?? result);
      });
      expect(outcomes.size).toBe(24);
      expect(outcomes.get("many-5")).toBe(10);
      expect(outcomes.get("many-3")).toMatch(/three is refused/);
      // Finished jobs answer a resubmission from their records.
      const again: unknown[] = [];
      await queue.runJobs(jobs.slice(4, 6), "many", async (_job, result) => void again.push(result));
      expect(again.sort()).toEqual([10, 8]);
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
      await queue.close();
      await worker.close();
    }
  }, 60_000);

  it("a worker whose Redis goes away reports the error instead of swallowing it", async () => {
    const { startEvalWorker } = await import("../../../src/eval/jobs/bullmq.js");
    const own = await startRedis();
    const errors: Error[] = [];
    const worker = await startEvalWorker(own.url, {
      execute: async () => [],
      queueName: "error-test",
      onError: (error) => errors.push(error),
    });
    try {
      await own.stop();
      await eventually(() => errors.length > 0, 10_000);
      expect(errors[0]).toBeInstanceOf(Error);
      expect(errors[0].message).not.toBe("");
    } finally {
      // Closing waits for a connection that will not come back; do not hold the test on it.
      void worker.close().catch(() => undefined);
    }
  });

  it("parses redis URLs and rejects others with a clear message", () => {
    expect(redisConnection("redis://:pw@10.0.0.1:6380/2")).toMatchObject({ host: "10.0.0.1", port: 6380, password: "pw", db: 2 });
    expect(redisConnection("redis://h")).toMatchObject({ host: "h", port: 6379 });
    expect(() => redisConnection("http://h:1")).toThrow(/redis:\/\//);
    expect(() => redisConnection("redis://h/x")).toThrow(/database 'x'/);
  });
});

if (!hasRedis) {
  describe("distributed evaluation over Redis (BullMQ)", () => {
    it.skip("skipped: /usr/bin/redis-server is not installed (apt-get install -y redis-server)", () => {});
  });
}
