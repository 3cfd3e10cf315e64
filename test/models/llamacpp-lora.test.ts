import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { encodeTensor } from "../../src/formats/gguf/codec.js";
import { ggufValue } from "../../src/formats/gguf/values.js";
import { writeGguf } from "../../src/formats/gguf/writer.js";
import { createLlamaCppModel } from "../../src/models/llamacpp/model.js";
import { loadedBaseCount } from "../../src/models/llamacpp/runtime.js";
import { makeTinyLlama, tempDir } from "../fixtures/tiny-llama.js";

/** A random rank-4 LoRA on every ffn_down of the tiny model (hidden 32, intermediate 64, 2 layers). */
async function writeRandomLora(file: string, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const rank = 4;
  const tensors: { name: string; shape: number[] }[] = [];
  for (let layer = 0; layer < 2; layer++) {
    tensors.push({ name: `blk.${layer}.ffn_down.weight.lora_a`, shape: [rank, 64] });
    tensors.push({ name: `blk.${layer}.ffn_down.weight.lora_b`, shape: [32, rank] });
  }
  await writeGguf(file, {
    metadata: [
      ["general.architecture", ggufValue.string("llama")],
      ["general.type", ggufValue.string("adapter")],
      ["adapter.type", ggufValue.string("lora")],
      ["adapter.lora.alpha", ggufValue.f32(rank)],
    ],
    plan: tensors.map((t) => ({ ...t, dtype: "F32" as const })),
    produce: async (tensor) => {
      const n = tensors[tensor.index].shape[0] * tensors[tensor.index].shape[1];
      return encodeTensor(Float32Array.from({ length: n }, () => rng.next() * 2 - 1), "F32");
    },
  });
}

describe("llama.cpp runtime LoRA adapters", () => {
  let root: string;
  let gguf: string;
  let loraA: string;
  let loraB: string;
  beforeAll(async () => {
    root = await tempDir();
    gguf = await (await makeTinyLlama(root)).gguf();
    loraA = path.join(root, "a.gguf");
    loraB = path.join(root, "b.gguf");
    await writeRandomLora(loraA, 1);
    await writeRandomLora(loraB, 2);
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it("applies an adapter with its scale; many adapter experts share one loaded base", async () => {
    const before = loadedBaseCount();
    const base = await createLlamaCppModel({ id: "base", path: gguf, contextSize: 64 });
    const zero = await createLlamaCppModel({ id: "zero", path: gguf, contextSize: 64, lora: { path: loraA, scale: 0 } });
    const a = await createLlamaCppModel({ id: "a", path: gguf, contextSize: 64, lora: { path: loraA, scale: 1 } });
    const b = await createLlamaCppModel({ id: "b", path: gguf, contextSize: 64, lora: { path: loraB, scale: 1 } });
    try {
      expect(loadedBaseCount()).toBe(before + 1);
      const score = async (m: typeof base) => (await m.logLikelihood("The heart pumps", " blood through the body")).logprob;
      const [s0, sz, sa, sb] = [await score(base), await score(zero), await score(a), await score(b)];
      expect(sz).toBeCloseTo(s0, 4);
      expect(Math.abs(sa - s0)).toBeGreaterThan(1e-3);
      expect(Math.abs(sb - sa)).toBeGreaterThan(1e-3);
    } finally {
      for (const m of [base, zero, a, b]) await m.close();
    }
    expect(loadedBaseCount()).toBe(before);
  });
});
