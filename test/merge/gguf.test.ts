import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getLlama, type Llama } from "node-llama-cpp";
import { makeTinyLlama, tempDir, type TinyLlama } from "../fixtures/tiny-llama.js";
import { openHfWeights } from "../../src/formats/safetensors/index.js";
import { runMerge } from "../../src/merge/engine.js";
import { llamaForward, softmax } from "../../src/models/llama-forward.js";
import { Rng } from "../../src/core/rng.js";
import { convertHfToGguf } from "../../src/formats/convert/hf-to-gguf.js";
import { writeSafetensorsFile } from "../../src/formats/safetensors/index.js";
import { extractLora } from "../../src/merge/lora/extract.js";
import { writeLoraGguf } from "../../src/merge/lora/gguf-adapter.js";

let root: string;
let llama: Llama;
let a: TinyLlama;
let b: TinyLlama;

beforeAll(async () => {
  root = await tempDir("cogen-merge-gguf-");
  llama = await getLlama({ gpu: false, build: "never" });
  a = await makeTinyLlama(path.join(root, "a-root"), "byte-level", { seed: 7 });
  await fs.mkdir(path.join(root, "b-root"));
  b = await makeTinyLlama(path.join(root, "b-root"), "byte-level", { seed: 8 });
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe("merge with GGUF input and output", () => {
  it("--out-format gguf runs in llama.cpp and matches the merged HF weights' forward pass", async () => {
    const config = `merge_method: slerp\nbase_model: ${a.dir}\nmodels: [{model: ${a.dir}}, {model: ${b.dir}}]\nparameters: {t: 0.4}\ndtype: float32\n`;
    const hf = path.join(root, "merged-hf");
    const gg = path.join(root, "merged-gguf");
    await runMerge({ config, outDir: hf });
    await runMerge({ config, outDir: gg, outFormat: "gguf" });
    expect((await fs.readdir(gg)).sort()).toEqual(["README.md", "model.gguf"]);

    const model = await llama.loadModel({ modelPath: path.join(gg, "model.gguf"), gpuLayers: 0 });
    const tokens = model.tokenize("The heart pumps blood").map((t) => t as unknown as number);
    const context = await model.createContext({ contextSize: 64, threads: 1, batchSize: 64, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32", flashAttention: false });
    const results = await context.getSequence().controlledEvaluate(tokens.map((t) => [t as never, { generateNext: { probabilities: true } }]));
    await context.dispose();
    await model.dispose();

    const weights = await openHfWeights(hf);
    const cache = new Map<string, Float32Array>();
    for (const t of weights.list()) cache.set(t.name, await weights.readF32(t.name));
    await weights.close();
    const ours = llamaForward(a.config, (name) => cache.get(name)!, tokens).map((l) => softmax(l));
    let diff = 0;
    results.forEach((r, i) => {
      for (const [tok, p] of r!.next.probabilities!) diff = Math.max(diff, Math.abs(p - ours[i][tok as unknown as number]));
    });
    expect(diff).toBeLessThan(1e-4);
  }, 60000);

  it("GGUF inputs merge like their Hugging Face folders", async () => {
    const fromHf = path.join(root, "lin-hf");
    const fromGguf = path.join(root, "lin-gguf");
    await runMerge({ outDir: fromHf, config: `merge_method: linear\nmodels: [{model: ${a.dir}, parameters: {weight: 1}}, {model: ${b.dir}, parameters: {weight: 3}}]\ndtype: float32\n` });
    const ga = await a.gguf("f32");
    const gb = await b.gguf("f32");
    await runMerge({ outDir: fromGguf, config: `merge_method: linear\nmodels: [{model: ${ga}, parameters: {weight: 1}}, {model: ${gb}, parameters: {weight: 3}}]\ndtype: float32\n` });
    const x = await openHfWeights(fromHf);
    const y = await openHfWeights(fromGguf);
    for (const t of x.list()) {
      const u = await x.readF32(t.name);
      const v = await y.readF32(t.name);
      for (let i = 0; i < u.length; i++) expect(Math.abs(u[i] - v[i])).toBeLessThan(1e-6);
    }
    await x.close();
    await y.close();
  }, 60000);
});

async function distributions(file: string, text: string, lora?: string): Promise<{ tokens: number[]; probs: Map<number, number>[] }> {
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  const tokens = model.tokenize(text).map((t) => t as unknown as number);
  const context = await model.createContext({
    contextSize: 64, threads: 1, batchSize: 64, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32", flashAttention: false,
    ...(lora ? { lora: { adapters: [{ filePath: lora }] } } : {}),
  });
  const results = await context.getSequence().controlledEvaluate(tokens.map((t) => [t as never, { generateNext: { probabilities: true } }]));
  await context.dispose();
  await model.dispose();
  return { tokens, probs: results.map((r) => new Map([...r!.next.probabilities!].map(([k, v]) => [k as unknown as number, v]))) };
}

describe("LoRA adapter as GGUF", () => {
  it("llama.cpp with base + extracted adapter matches the fine-tuned model", async () => {
    // The fine-tune: an exact rank-2 update of every linear layer weight of `a`.
    const weights = await openHfWeights(a.dir);
    const rng = new Rng(5);
    const tensors = [];
    for (const t of weights.list()) {
      const data = await weights.readF32(t.name);
      if (/_proj\.weight$/.test(t.name)) {
        const [rows, cols] = t.shape;
        const B = Array.from({ length: rows * 2 }, () => rng.normal() * 0.2);
        const A = Array.from({ length: 2 * cols }, () => rng.normal() * 0.2);
        for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) data[i * cols + j] += B[i * 2] * A[j] + B[i * 2 + 1] * A[cols + j];
      }
      tensors.push({ name: t.name, dtype: "F32" as const, shape: t.shape, data });
    }
    await weights.close();
    const tuned = path.join(root, "tuned");
    await fs.cp(a.dir, tuned, { recursive: true });
    await fs.rm(path.join(tuned, "model.safetensors"), { force: true });
    await fs.rm(path.join(tuned, "model.safetensors.index.json"), { force: true });
    await writeSafetensorsFile(path.join(tuned, "model.safetensors"), tensors);

    const adapter = path.join(root, "adapter");
    await extractLora({ base: a.dir, model: tuned, rank: 2, outDir: adapter });
    const loraFile = path.join(root, "adapter.gguf");
    await writeLoraGguf(adapter, a.dir, loraFile);
    const baseFile = await a.gguf("f32");
    const tunedFile = path.join(root, "tuned.gguf");
    await convertHfToGguf(tuned, tunedFile, { dtype: "f32" });

    const text = "The heart pumps blood";
    const withLora = await distributions(baseFile, text, loraFile);
    const reference = await distributions(tunedFile, text);
    const plain = await distributions(baseFile, text);
    const maxDiff = (x: Map<number, number>[], y: Map<number, number>[]) =>
      Math.max(...x.map((m, i) => Math.max(...[...m].map(([k, v]) => Math.abs(v - (y[i].get(k) ?? 0))))));
    expect(maxDiff(withLora.probs, reference.probs)).toBeLessThan(1e-4);
    expect(maxDiff(plain.probs, reference.probs)).toBeGreaterThan(1e-3);
  }, 60000);
});
