import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeAdapters, defaultComposeEvaluations, readExamples } from "../../src/adapt/compose.js";
import { defaultPopulation } from "../../src/adapt/cmaes.js";
import { adaptLora } from "../../src/adapt/lora.js";
import { ConfigError, InputFileError } from "../../src/core/errors.js";
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, openLoraAdapter, peftName } from "../../src/merge/lora/adapter.js";
import { writeSafetensorsFile } from "../../src/formats/safetensors/index.js";
import { openAdapterMix } from "../../src/models/llamacpp/adapter-mix.js";
import { makeTinyLlama, tempDir, type TinyLlama } from "../fixtures/tiny-llama.js";

const HEART = Array.from({ length: 30 }, (_, i) => `The heart of patient ${i} pumps blood through the arteries at ${60 + i} beats.`);
const BREAD = Array.from({ length: 30 }, (_, i) => `Bake bread number ${i}: flour, water, salt and yeast for ${20 + i} minutes.`);

let root: string;
let tiny: TinyLlama;
let baseGguf: string;
let examplesFile: string;
const adapters: string[] = [];

beforeAll(async () => {
  root = await tempDir("cogen-adapt-compose-");
  tiny = await makeTinyLlama(root, "byte-fallback");
  baseGguf = await tiny.gguf("f32");
  for (const [name, lines] of [["heart", HEART], ["bread", BREAD]] as const) {
    const data = path.join(root, `${name}.txt`);
    await fs.writeFile(data, lines.join("\n\n"));
    const out = path.join(root, name);
    await adaptLora({ base: tiny.dir, data, outDir: out, rank: 2, steps: 8, evalEvery: 8, batchSize: 2, seqLen: 16, lr: 2e-2, seed: 1 });
    adapters.push(path.join(out, "adapter"));
  }
  examplesFile = path.join(root, "few.jsonl");
  const few = HEART.slice(0, 4).map((t) => JSON.stringify({ text: t })).concat(JSON.stringify({ input: "The heart of patient 9", output: " pumps blood." }));
  await fs.writeFile(examplesFile, few.join("\n") + "\n");
}, 120_000);
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe("composeAdapters", () => {
  it("finds bounded weights that fit the examples better than the base", async () => {
    const out = path.join(root, "composed");
    const report = await composeAdapters({ base: tiny.dir, adapters, examples: examplesFile, outDir: out, maxEvaluations: 36, seed: 2, l1: 0.01 });
    expect(report.evaluations).toBeGreaterThan(0);
    expect(report.evaluations).toBeLessThanOrEqual(36);
    for (const w of report.weights) expect(Math.abs(w)).toBeLessThanOrEqual(1.5);
    expect(report.examplesBpb.composed).toBeLessThan(report.examplesBpb.base);
    // LoraHub's loss: bits per byte plus l1 times the MEAN |w| (not the sum).
    const meanAbs = report.weights.reduce((s, w) => s + Math.abs(w), 0) / report.weights.length;
    expect(meanAbs).toBeGreaterThan(0);
    expect(report.objective).toBeCloseTo(report.examplesBpb.composed + 0.01 * meanAbs, 9);
    const record = JSON.parse(await fs.readFile(path.join(out, "weights.json"), "utf8"));
    expect(record.weights).toEqual(report.weights);
  });

  it("writes exactly the weighted sum: the composed adapter at scale 1 scores as the runtime mix did", async () => {
    const out = path.join(root, "exact");
    const report = await composeAdapters({ base: baseGguf, adapters, examples: examplesFile, outDir: out, maxEvaluations: 12, seed: 3 });
    const peft = await openLoraAdapter(path.join(out, "adapter"));
    expect(peft.rank).toBe(4);
    await peft.source.close();
    await expectScoresAsReported(out, report.examplesBpb.composed);
  });

  it("composes adapters of different modules, layers and ranks exactly (zero-padded to one rank)", async () => {
    // A rank-1 adapter on layer 0's q_proj and v_proj only, cut from the bread adapter.
    const bread = await openLoraAdapter(adapters[1]);
    const partial = path.join(root, "partial");
    await fs.mkdir(partial, { recursive: true });
    const tensors = [];
    const kept = [...bread.modules.keys()].filter((t) => /layers\.0\.self_attn\.(q|v)_proj/.test(t));
    expect(kept).toHaveLength(2);
    for (const target of kept) {
      const mod = bread.modules.get(target)!;
      const [r, inn] = bread.source.info(mod.a)!.shape;
      const [out] = bread.source.info(mod.b)!.shape;
      const a = await bread.source.readF32(mod.a);
      const b = await bread.source.readF32(mod.b);
      tensors.push({ name: peftName(target, "A"), dtype: "F32" as const, shape: [1, inn], data: a.slice(0, inn) });
      tensors.push({ name: peftName(target, "B"), dtype: "F32" as const, shape: [out, 1], data: Float32Array.from({ length: out }, (_, o) => b[o * r]) });
    }
    await writeSafetensorsFile(path.join(partial, ADAPTER_WEIGHTS), tensors, { format: "pt" });
    await fs.writeFile(path.join(partial, ADAPTER_CONFIG), JSON.stringify({ ...bread.config, r: 1, lora_alpha: bread.scale, target_modules: ["q_proj", "v_proj"] }));
    await bread.source.close();

    const out = path.join(root, "mixed");
    const report = await composeAdapters({ base: baseGguf, adapters: [adapters[0], partial], examples: examplesFile, outDir: out, maxEvaluations: 12, seed: 4, l1: 0 });
    expect(report.weights[1]).not.toBe(0);
    const peft = await openLoraAdapter(path.join(out, "adapter"));
    // q_proj/v_proj of layer 0 stack 2 + 1 ranks; every other module holds the heart adapter's 2, padded.
    expect(peft.rank).toBe(3);
    for (const mod of peft.modules.values()) expect(peft.source.info(mod.a)!.shape[0]).toBe(3);
    await peft.source.close();
    await expectScoresAsReported(out, report.examplesBpb.composed);
  });

  it("is deterministic for a seed", async () => {
    const run = (dir: string) => composeAdapters({ base: tiny.dir, adapters, examples: examplesFile, outDir: path.join(root, dir), maxEvaluations: 12, seed: 7 });
    expect((await run("det-a")).weights).toEqual((await run("det-b")).weights);
  });

  it("refuses bad examples and non-adapter folders, naming the file", async () => {
    const bad = path.join(root, "bad.jsonl");
    await fs.writeFile(bad, '{"text": "fine"}\n{"input": "no output"}\n');
    await expect(readExamples(bad)).rejects.toThrow(/bad\.jsonl:2: .*output/);
    const run = composeAdapters({ base: tiny.dir, adapters: [root], examples: examplesFile, outDir: path.join(root, "never") });
    await expect(run).rejects.toThrow(InputFileError);
    await expect(run).rejects.toThrow(/not a PEFT adapter folder/);
    await expect(fs.stat(path.join(root, "never"))).rejects.toThrow();
  });

  it("refuses fewer evaluations than one CMA-ES generation (which would search nothing)", async () => {
    // Two adapters: a generation is 4 + ⌊3 ln 2⌋ = 6 candidates.
    const few = composeAdapters({ base: tiny.dir, adapters, examples: examplesFile, outDir: path.join(root, "few"), maxEvaluations: 5 });
    await expect(few).rejects.toThrow(ConfigError);
    await expect(few).rejects.toThrow(/6 candidates for 2 adapters \(got 5\)/);
    expect((await composeAdapters({ base: tiny.dir, adapters, examples: examplesFile, outDir: path.join(root, "six"), maxEvaluations: 6 })).evaluations).toBe(6);
  });

  it("budgets 40 evaluations per adapter by default, at least 100 and at least four generations", () => {
    expect(defaultComposeEvaluations(8)).toBe(320);
    expect(defaultComposeEvaluations(20)).toBe(800);
    expect(defaultComposeEvaluations(1)).toBe(100);
    for (let n = 1; n <= 64; n++) expect(defaultComposeEvaluations(n)).toBeGreaterThanOrEqual(4 * defaultPopulation(n));
  });
});

/** The composed adapter written to `out`, applied at scale 1, scores the examples as compose reported. */
async function expectScoresAsReported(out: string, reportedBpb: number): Promise<void> {
  const mix = await openAdapterMix(baseGguf, [path.join(out, "adapter.gguf")]);
  try {
    const s = await mix.score(await readExamples(examplesFile), [1]);
    expect(s.bits / s.bytes).toBeCloseTo(reportedBpb, 4);
  } finally {
    await mix.close();
  }
}
