import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExpertSpec } from "../../../src/formats/models-file.js";
import { parseDistillCorpus } from "../../../src/fuse/distill/corpus.js";
import { bullMqTargetQueue, startTargetWorker } from "../../../src/fuse/distill/target-queue.js";
import { distillTargets } from "../../../src/fuse/distill/targets.js";
import { ModelPool } from "../../../src/models/pool.js";
import { tempDir } from "../../fixtures/tiny-llama.js";
import { hasRedis, startRedis, type RedisHandle } from "../../eval/jobs/redis.js";
import { startStub, type StubServer } from "../../models/openai-stub.js";

describe.skipIf(!hasRedis)("distill targets over Redis (BullMQ)", () => {
  let redis: RedisHandle;
  let stub: StubServer;
  let dir: string;
  beforeAll(async () => {
    redis = await startRedis();
    stub = await startStub();
    dir = await tempDir();
  });
  afterAll(async () => {
    await stub?.close();
    await redis?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it("writes the same files through workers as in process", async () => {
    const corpus = parseDistillCorpus(Buffer.from("The capital of France is Paris\n\nThe answer is 42\nRome\nLondon is a capital\n"), "t.txt");
    const sources: ExpertSpec[] = ["s1", "s2"].map((id) => ({ id, backend: "openai", url: stub.url, model: "stub", domains: [], tags: [], contextSize: 64 }));
    const local = path.join(dir, "local");
    await distillTargets({ sources, corpus, out: local, k: 3, textsPerShard: 2 });
    const pool = new ModelPool();
    const seen: string[] = [];
    const worker = await startTargetWorker(redis.url, pool, { onJob: (job, outcome) => seen.push(`${outcome} ${job.expert.id}`) });
    const queue = bullMqTargetQueue(redis.url);
    const remote = path.join(dir, "remote");
    try {
      const report = await distillTargets({ sources, corpus, out: remote, k: 3, textsPerShard: 2, queue });
      expect(report.failures).toEqual([]);
      expect(report.written).toBe(6);
    } finally {
      await queue.close();
      await worker.close();
      await pool.close();
    }
    expect(seen.filter((s) => s.startsWith("completed"))).toHaveLength(6);
    for (const file of ["manifest.json", "s1/shard-00000.cgtk", "s1/shard-00002.cgtk", "s2/shard-00001.cgtk"]) {
      expect(await fs.readFile(path.join(remote, file))).toEqual(await fs.readFile(path.join(local, file)));
    }
  });
});
