import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors.js";
import { convertHfToGguf } from "../../src/formats/convert/hf-to-gguf.js";
import { readLlamaConfig } from "../../src/formats/hf/config.js";
import { openHfWeights } from "../../src/formats/safetensors/index.js";
import { llamaForward } from "../../src/models/llama-forward.js";
import { ggufParity } from "../../src/models/llamacpp/parity.js";
import { disposeTrainModel } from "../../src/zoo/train/model.js";
import { readBpeTokenizer } from "../../src/zoo/train/tokenize.js";
import { trainLanguageModel } from "../../src/zoo/train/train.js";
import { widenHfModel, widenLlamaWeights } from "../../src/zoo/train/widen.js";
import { FIXTURE_TEXT, makeTinyLlama, tempDir, type TinyLlama } from "../fixtures/tiny-llama.js";

let root: string;
let tiny: TinyLlama;

async function folderWeights(dir: string): Promise<Map<string, Float32Array>> {
  const file = await openHfWeights(dir);
  const out = new Map<string, Float32Array>();
  for (const t of file.list()) out.set(t.name, await file.readF32(t.name));
  await file.close();
  return out;
}

async function logitsOf(dir: string, tokens: number[]): Promise<Float32Array[]> {
  const config = await readLlamaConfig(dir);
  const weights = await folderWeights(dir);
  return llamaForward(config, (n) => weights.get(n)!, tokens);
}

function maxAbs(a: Float32Array[], b: Float32Array[]): number {
  let max = 0;
  a.forEach((row, i) => row.forEach((v, j) => (max = Math.max(max, Math.abs(v - b[i]![j]!)))));
  return max;
}

beforeAll(async () => {
  root = await tempDir("cogen-widen-");
  // Grouped-query attention (4 query heads over 2 key/value heads), so the head mapping is exercised.
  tiny = await makeTinyLlama(root, "byte-fallback");
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe("widenHfModel: a function-preserving widening", () => {
  const plan = { intermediateSize: 256, numHeads: 8, numLayers: 3, seed: 5 };

  it("computes the original's logits with a wider FFN, more heads and another layer", async () => {
    const dir = path.join(root, "wide");
    const config = await widenHfModel(tiny.dir, dir, plan);
    expect(config).toMatchObject({ intermediateSize: 256, numHeads: 8, numKvHeads: 4, numLayers: 3, hiddenSize: 32, headDim: 8 });
    expect(await readLlamaConfig(dir)).toMatchObject({ intermediateSize: 256, numHeads: 8, numKvHeads: 4, numLayers: 3, headDim: 8 });
    const tokenizer = await readBpeTokenizer(dir);
    const tokens = tokenizer.encode("The central bank raised interest rates");
    const before = await logitsOf(tiny.dir, tokens);
    const after = await logitsOf(dir, tokens);
    expect(maxAbs(before, after)).toBeLessThan(1e-5);
    // Not trivially equal: the model's logits vary, and the new read-in weights are live (random, not zero).
    expect(maxAbs(before, [before[0]!, ...before.slice(0, -1)])).toBeGreaterThan(1e-2);
    const weights = await folderWeights(dir);
    const gate = weights.get("model.layers.0.mlp.gate_proj.weight")!;
    expect(gate.subarray(64 * 32).some((v) => v !== 0)).toBe(true);
    expect(weights.get("model.layers.2.self_attn.q_proj.weight")!.some((v) => v !== 0)).toBe(true);
    expect(weights.get("model.layers.2.self_attn.o_proj.weight")!.every((v) => v === 0)).toBe(true);
    // The same seed gives the same bytes; another seed other new weights.
    await widenHfModel(tiny.dir, path.join(root, "wide-again"), plan);
    expect(await fs.readFile(path.join(root, "wide-again", "model.safetensors"))).toEqual(await fs.readFile(path.join(dir, "model.safetensors")));
    await widenHfModel(tiny.dir, path.join(root, "wide-seed6"), { ...plan, seed: 6 });
    expect(await fs.readFile(path.join(root, "wide-seed6", "model.safetensors"))).not.toEqual(await fs.readFile(path.join(dir, "model.safetensors")));
  });

  it("runs in llama.cpp as it does in the TS forward pass (GGUF parity), and its new weights train", async () => {
    const dir = path.join(root, "wide");
    const gguf = path.join(root, "wide.gguf");
    await convertHfToGguf(dir, gguf, { dtype: "f32" });
    expect(await ggufParity(dir, gguf, ["The river flows from the mountains through the valley"])).toBeLessThan(1e-4);
    const trained = await trainLanguageModel({ init: dir, trainText: FIXTURE_TEXT, steps: 3, batchSize: 2, seqLen: 16, lr: 1e-2, seed: 1 });
    // The zero read-outs (new down_proj columns, the new layer's o_proj) receive gradient and move.
    const downNew = (trained.model.weights.get("model.layers.0.mlp.down_proj.weight")!.arraySync() as number[][]).map((row) => row.slice(64));
    expect(downNew.flat().some((v) => v !== 0)).toBe(true);
    expect((trained.model.weights.get("model.layers.2.self_attn.o_proj.weight")!.dataSync() as Float32Array).some((v) => v !== 0)).toBe(true);
    disposeTrainModel(trained.model);
  });

  it("refuses shrinking, non-multiple sizes and mixtures with every problem at once, writing nothing", async () => {
    const out = path.join(root, "bad");
    const error = await widenHfModel(tiny.dir, out, { intermediateSize: 96, numHeads: 2, numLayers: 1, seed: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain("intermediateSize 96 is not a multiple of the model's 64");
    expect(message).toContain("numHeads 2 would shrink the model (it has 4)");
    expect(message).toContain("numLayers 1 would shrink the model (it has 2)");
    await expect(fs.access(out)).rejects.toThrow();
    const config = await readLlamaConfig(tiny.dir);
    const weights = await folderWeights(tiny.dir);
    expect(() => widenLlamaWeights({ ...config, moe: { experts: 2, expertsPerToken: 1 } }, weights, { intermediateSize: 128, seed: 1 })).toThrow(/mixture of experts cannot be widened/);
    expect(() => widenLlamaWeights(config, new Map([...weights].slice(1)), { intermediateSize: 128, seed: 1 })).toThrow(/weights lack model\.embed_tokens\.weight/);
    expect(() => widenLlamaWeights(config, weights, { intermediateSize: 128.5, seed: 1 })).toThrow(/intermediateSize must be a positive integer/);
  });
});
