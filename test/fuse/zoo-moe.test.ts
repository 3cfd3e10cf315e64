import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, InputFileError } from "../../src/core/errors.js";
import { openGguf } from "../../src/formats/gguf/reader.js";
import { buildZooMoe, readZooMoeManifest, ZOO_MOE_PLAN, type ZooMoePlan } from "../../src/fuse/moe/zoo-moe.js";
import type { Corpus } from "../../src/zoo/corpora/build.js";
import { trainBpe, tokenizerFiles } from "../../src/zoo/bpe-train.js";
import { randomLlamaConfig } from "../../src/zoo/random-llama.js";
import { initTrainingBackend } from "../../src/zoo/train/backend.js";
import { exportHf } from "../../src/zoo/train/export.js";
import { createTrainModel, disposeTrainModel } from "../../src/zoo/train/model.js";
import { bpeTokenizer } from "../../src/zoo/train/tokenize.js";
import { FIXTURE_TEXT, tempDir } from "../fixtures/tiny-llama.js";

// A tiny zoo laid out as the real one (family a: base and two domain experts as HF folders, a
// manifest), with a two-domain corpus: buildZooMoe as `cogen zoo moe` runs it on zoo/.
let root: string;
let zooDir: string;
const lines = FIXTURE_TEXT.split("\n");
const corpus = {
  domains: [
    { name: "alpha", trainText: [lines[0], lines[4], lines[5]].join("\n").repeat(6), heldOut: [{ text: lines[0] }, { text: lines[5] }] },
    { name: "beta", trainText: [lines[1], lines[2], lines[3]].join("\n").repeat(6), heldOut: [{ text: lines[1] }, { text: lines[3] }] },
  ],
} as unknown as Corpus;
const PLAN: ZooMoePlan = {
  ...ZOO_MOE_PLAN,
  gates: { steps: 4, batchSize: 2, seqLen: 16, lr: 5e-2, seed: 7, routerAuxLossCoef: 0.01, trainShared: true, sharedLr: 1e-3, domainLossCoef: 1 },
  qualityBytes: 400,
};
const hiddenYml = [
  "base_model: tiny/a/base/hf",
  "gate_mode: hidden_avg",
  "experts_per_token: 2",
  "dtype: float32",
  "experts:",
  "  - source_model: tiny/a/experts/beta/hf",
  `    positive_prompts: [${JSON.stringify(lines[1].slice(0, 30))}]`,
  "  - source_model: tiny/a/experts/alpha/hf",
  `    positive_prompts: [${JSON.stringify(lines[0].slice(0, 30))}]`,
  "",
].join("\n");

beforeAll(async () => {
  await initTrainingBackend();
  root = await tempDir("cogen-zoo-moe-");
  zooDir = path.join(root, "tiny");
  const tokenizer = bpeTokenizer(tokenizerFiles(trainBpe(FIXTURE_TEXT, 40, "byte-fallback")));
  const config = randomLlamaConfig({ hiddenSize: 16, intermediateSize: 32, numLayers: 2, numHeads: 2, vocabSize: tokenizer.size });
  const models = [
    { id: "a/base", family: "a", role: "base", domain: null },
    { id: "a/experts/alpha", family: "a", role: "expert", domain: "alpha" },
    { id: "a/experts/beta", family: "a", role: "expert", domain: "beta" },
  ];
  for (const [i, m] of models.entries()) {
    const model = createTrainModel(config, { seed: 10 + i, initScale: 0.2, tokenizer });
    await exportHf(model, path.join(zooDir, m.id, "hf"));
    disposeTrainModel(model);
  }
  await fs.writeFile(path.join(zooDir, "manifest.json"), JSON.stringify({ format: "cogen-zoo/1", kind: "quick", complete: true, data: { seed: 0, domains: [] }, families: [], models }));
  await fs.mkdir(path.join(zooDir, "moe"), { recursive: true });
  await fs.writeFile(path.join(zooDir, "moe/hidden.yml"), hiddenYml);
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function ggufKeys(file: string): Promise<{ experts?: number; used?: number }> {
  const gguf = await openGguf(file);
  try {
    return { experts: gguf.getNumber("llama.expert_count"), used: gguf.getNumber("llama.expert_used_count") };
  } finally {
    await gguf.close();
  }
}

describe("buildZooMoe (cogen zoo moe)", () => {
  it("writes the hidden-gate and trained top-2 / top-1 mixtures with their manifest, byte-identically on a rebuild", async () => {
    const manifest = await buildZooMoe({ zooDir, plan: PLAN, corpus });
    expect(manifest.experts).toEqual(["beta", "alpha"]);
    expect(manifest.checkpoints.map((c) => [c.id, c.gates, c.expertsPerToken])).toEqual([["a-hidden", "hidden", 2], ["a-trained-top2", "trained", 2], ["a-trained-top1", "trained", 1]]);
    expect(await readZooMoeManifest(zooDir)).toEqual(manifest);
    for (const c of manifest.checkpoints) {
      const file = path.join(zooDir, c.files.gguf);
      expect(await ggufKeys(file), c.id).toEqual({ experts: 2, used: c.expertsPerToken });
      expect((await fs.stat(file)).size).toBe(c.ggufBytes);
      expect(Object.keys(c.gateQuality.domains)).toEqual(["beta", "alpha"]);
      expect(c.gateQuality.chance).toBe(0.5);
    }
    const trained = manifest.checkpoints[1].training!;
    expect(trained.steps).toBe(4);
    expect(trained.finalRouting).toBeGreaterThan(0);
    expect(manifest.checkpoints[0].files.hf).toBe("moe/a-hidden/hf");
    // Trained gates differ from the hidden-state start; top-2 and top-1 share them (only the top-k differs).
    const bytes = async (id: string) => fs.readFile(path.join(zooDir, `moe/${id}/model.gguf`));
    expect((await bytes("a-trained-top2")).equals(await bytes("a-hidden"))).toBe(false);
    const before = await Promise.all(manifest.checkpoints.map((c) => bytes(c.id)));
    await buildZooMoe({ zooDir, plan: PLAN, corpus });
    const after = await Promise.all(manifest.checkpoints.map((c) => bytes(c.id)));
    after.forEach((b, i) => expect(b.equals(before[i]), manifest.checkpoints[i].id).toBe(true));
  }, 200_000);

  it("refuses a zoo without the family or without its MoE config, before building anything", async () => {
    await expect(buildZooMoe({ zooDir, plan: { ...PLAN, hiddenConfig: "moe/missing.yml" }, corpus })).rejects.toThrow(InputFileError);
    await expect(buildZooMoe({ zooDir, plan: { ...PLAN, family: "z" }, corpus })).rejects.toThrow(ConfigError);
  });
});
