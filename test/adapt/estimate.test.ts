import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { estimateLoraRun } from "../../src/adapt/estimate.js";
import { readLlamaConfig } from "../../src/formats/hf/config.js";
import { openHfWeights, openSafetensors } from "../../src/formats/safetensors/index.js";

const ZOO = path.resolve(import.meta.dirname, "../../zoo");
const count = (shapes: number[][]) => shapes.reduce((s, shape) => s + shape.reduce((p, d) => p * d, 1), 0);

describe("estimateLoraRun", () => {
  it("counts the zoo base's parameters and a rank-16 expert's adapter parameters exactly", async () => {
    const config = await readLlamaConfig(path.join(ZOO, "a/base/hf"));
    const estimate = estimateLoraRun(config, { rank: 16, steps: 200, batchSize: 16, seqLen: 64 });
    const base = await openHfWeights(path.join(ZOO, "a/base/hf"));
    const adapter = await openSafetensors(path.join(ZOO, "a/experts/law/lora/adapter_model.safetensors"));
    try {
      expect(estimate.baseParameters).toBe(count(base.list().map((t) => t.shape)));
      expect(estimate.loraParameters).toBe(count(adapter.list().map((t) => t.shape)));
    } finally {
      await base.close();
      await adapter.close();
    }
  });

  it("grows with the batch, the steps and the evaluations", async () => {
    const config = await readLlamaConfig(path.join(ZOO, "a/base/hf"));
    const small = estimateLoraRun(config, { rank: 16, steps: 100, batchSize: 8, seqLen: 64 });
    const big = estimateLoraRun(config, { rank: 16, steps: 200, batchSize: 16, seqLen: 64 });
    const evaluated = estimateLoraRun(config, { rank: 16, steps: 200, batchSize: 16, seqLen: 64, evalTokens: 10_000, evaluations: 9 });
    expect(big.memoryBytes).toBeGreaterThan(small.memoryBytes);
    expect(big.seconds).toBeCloseTo(4 * small.seconds, 6);
    expect(evaluated.seconds).toBeGreaterThan(big.seconds);
  });
});
