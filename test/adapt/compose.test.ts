import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeAdapters, readExamples } from "../../src/adapt/compose.js";
import { adaptLora } from "../../src/adapt/lora.js";
import { InputFileError } from "../../src/core/errors.js";
import { openLoraAdapter } from "../../src/merge/lora/adapter.js";
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
    const record = JSON.parse(await fs.readFile(path.join(out, "weights.json"), "utf8"));
    expect(record.weights).toEqual(report.weights);
  });

  it("writes exactly the weighted sum: the composed adapter at scale 1 scores as the runtime mix did", async () => {
    const out = path.join(root, "exact");
    const report = await composeAdapters({ base: baseGguf, adapters, examples: examplesFile, outDir: out, maxEvaluations: 12, seed: 3 });
    const peft = await openLoraAdapter(path.join(out, "adapter"));
    expect(peft.rank).toBe(4);
    await peft.source.close();
    const mix = await openAdapterMix(baseGguf, [path.join(out, "adapter.gguf")]);
    try {
      const s = await mix.score(await readExamples(examplesFile), [1]);
      expect(s.bits / s.bytes).toBeCloseTo(report.examplesBpb.composed, 4);
    } finally {
      await mix.close();
    }
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
});
