/**
 * The hub evaluating through BullMQ (a throwaway redis-server) and a worker elsewhere: the
 * worker runs the loop's jobs, their results land as the hub's evidence, and the composition
 * follows — as with the in-process queue. Experts are a stub OpenAI-compatible server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeEvalJob } from "../../src/eval/jobs/execute.js";
import { startEvalWorker, type EvalWorker } from "../../src/eval/jobs/bullmq.js";
import type { Composition, HubStatus } from "../../src/hub/api-types.js";
import { ModelPool } from "../../src/models/pool.js";
import { openModel } from "../../src/models/open.js";
import { startStub, type StubServer } from "../models/openai-stub.js";
import { ITEMS, ITEMS_JSONL } from "../eval/helpers.js";
import { hasRedis, startRedis, type RedisHandle } from "../eval/jobs/redis.js";
import { sqliteBackend } from "./backends.js";
import { endpointExpert, hubFixture } from "./hub-fixture.js";

describe.skipIf(!hasRedis)("the hub loop through BullMQ workers", () => {
  const backend = sqliteBackend();
  let redis: RedisHandle;
  let stub: StubServer;
  let worker: EvalWorker;
  let pool: ModelPool;
  let jobs = 0;
  beforeAll(async () => {
    redis = await startRedis();
    stub = await startStub();
    pool = new ModelPool({ budgetBytes: 1024 ** 3, open: (spec) => openModel(spec) });
    worker = await startEvalWorker(redis.url, { execute: (job) => executeEvalJob(job, pool), onJob: () => void jobs++ });
  });
  afterAll(async () => {
    await worker?.close();
    await pool?.close();
    await stub?.close();
    await redis?.stop();
    await backend.teardown();
  });

  it("evaluates every registered expert on the worker and publishes the composition", async () => {
    const f = await hubFixture(backend, { queueUrl: redis.url, batchSize: 4 });
    try {
      expect((await f.call<HubStatus>("GET", "/api/status")).body.queue.kind).toBe("bullmq");
      expect((await f.call("POST", "/api/suites", f.keys.admin, { id: "stub-suite", provenance: "test/eval/helpers.ts", licence: "cc0", tasks: ITEMS_JSONL })).status).toBe(201);
      for (const [owner, id] of [["alice", "a1"], ["bob", "b1"]] as const) {
        expect((await f.call("POST", "/api/experts", f.keys[owner], endpointExpert(id, stub.url, ["geo", "math"]))).status).toBe(201);
      }
      await f.hub.loop.idle();
      expect(jobs).toBe(2 * Math.ceil(ITEMS.length / 4));
      for (const id of ["a1", "b1"]) {
        const expert = (await f.hub.store.getExpert(id))!;
        expect(expert.state).toBe("evaluated");
        expect((await f.hub.store.evidenceOf(id, expert.revision)).filter((r) => r.source === "hub-run")).toHaveLength(ITEMS.length);
      }
      const current = (await f.call<Composition>("GET", "/api/compositions/current")).body;
      expect(current.experts).toEqual(["a1", "b1"]);
    } finally {
      await f.close();
    }
  }, 60_000);
});
