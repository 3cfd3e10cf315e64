import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, InputFileError } from "../../src/core/errors.js";
import { llamaForward, softmax } from "../../src/models/llama-forward.js";
import { klDivergence, llamaCppDistributions } from "../../src/models/llamacpp/parity.js";
import type { LlamaConfig } from "../../src/formats/hf/config.js";
import { gateQuality } from "../../src/fuse/moe/gate-quality.js";
import { mixedBatchAt, trainGates, writeTrainedMoe } from "../../src/fuse/moe/train-gates.js";
import { trainBpe, tokenizerFiles } from "../../src/zoo/bpe-train.js";
import { randomLlamaConfig } from "../../src/zoo/random-llama.js";
import { initTrainingBackend } from "../../src/zoo/train/backend.js";
import { evaluateBitsPerByte } from "../../src/zoo/train/evaluate.js";
import { exportHf } from "../../src/zoo/train/export.js";
import { loadMixtralTrainModel } from "../../src/zoo/train/mixtral-hf.js";
import { createTrainModel, disposeTrainModel, readWeights } from "../../src/zoo/train/model.js";
import { moeGateName } from "../../src/zoo/train/moe.js";
import { bpeTokenizer, type BpeTokenizer } from "../../src/zoo/train/tokenize.js";
import { FIXTURE_TEXT, tempDir } from "../fixtures/tiny-llama.js";
import { capture } from "../cli/capture.js";

let root: string;
let moeDir: string;
let tokenizer: BpeTokenizer;
const lines = FIXTURE_TEXT.split("\n");
// Two "domains": body and nature sentences vs law and money sentences, repeated to give enough tokens.
const TEXTS = [
  { domain: "alpha", text: [lines[0], lines[4], lines[5]].join("\n").repeat(4) },
  { domain: "beta", text: [lines[1], lines[2], lines[3]].join("\n").repeat(4) },
];
const BASE = { texts: TEXTS, steps: 6, batchSize: 4, seqLen: 16, lr: 2e-2, seed: 3 };

beforeAll(async () => {
  await initTrainingBackend();
  root = await tempDir("cogen-train-gates-");
  tokenizer = bpeTokenizer(tokenizerFiles(trainBpe(FIXTURE_TEXT, 40, "byte-fallback")));
  const config: LlamaConfig = {
    ...randomLlamaConfig({ hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, vocabSize: tokenizer.size }),
    architecture: "MixtralForCausalLM",
    moe: { experts: 4, expertsPerToken: 2 },
  };
  const model = createTrainModel(config, { seed: 1, initScale: 0.2, tokenizer });
  moeDir = path.join(root, "moe");
  await exportHf(model, moeDir);
  disposeTrainModel(model);
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function bitsEqual(a: Map<string, Float32Array>, b: Map<string, Float32Array>, names: string[]): boolean {
  return names.every((n) => Buffer.from(a.get(n)!.buffer).equals(Buffer.from(b.get(n)!.buffer)));
}

describe("moe train-gates", () => {
  it("trains only the gates, lowers the loss, and is deterministic", async () => {
    const before = (await loadMixtralTrainModel(moeDir)).model;
    const initial = readWeights(before);
    disposeTrainModel(before);
    const a = await trainGates({ moeDir, ...BASE, steps: 14 });
    const b = await trainGates({ moeDir, ...BASE, steps: 14 });
    const wa = readWeights(a.model);
    const wb = readWeights(b.model);
    const names = [...initial.keys()];
    const gates = names.filter((n) => n.endsWith("block_sparse_moe.gate.weight"));
    expect(gates).toEqual([moeGateName(0), moeGateName(1)]);
    expect(a.trainedWeights).toBe(2 * 4 * 32);
    expect(bitsEqual(wa, wb, names)).toBe(true);
    expect(bitsEqual(initial, wa, names.filter((n) => !gates.includes(n)))).toBe(true);
    expect(bitsEqual(initial, wa, gates)).toBe(false);
    // The training text's bits per byte went down (one fixed evaluation, free of batch noise).
    const text = TEXTS.map((t) => t.text).join("\n");
    const start = await loadMixtralTrainModel(moeDir);
    const bpbBefore = (await evaluateBitsPerByte(start.model, tokenizer, text, { seqLen: 16 })).bitsPerByte;
    const bpbAfter = (await evaluateBitsPerByte(a.model, tokenizer, text, { seqLen: 16 })).bitsPerByte;
    expect(bpbAfter).toBeLessThan(bpbBefore - 0.01);
    disposeTrainModel(start.model);
    // The trained gates written to run with one expert per token.
    const top1Dir = path.join(root, "trained-top1");
    expect(await writeTrainedMoe(a.model, top1Dir, "hf", 1)).toContain("config.json");
    const top1 = await loadMixtralTrainModel(top1Dir);
    expect(top1.model.moe).toEqual({ experts: 4, expertsPerToken: 1 });
    expect(bitsEqual(readWeights(top1.model), wa, names)).toBe(true);
    disposeTrainModel(top1.model);
    // The balance loss is E·Σ f·P: k (= 2) when balanced, at most E·k.
    for (const v of a.losses.balance) expect(v).toBeGreaterThanOrEqual(1.5);
    a.losses.loss.forEach((l, i) => expect(l).toBeCloseTo(a.losses.ce[i] + 0.01 * a.losses.balance[i], 5));
    [a.model, b.model].forEach(disposeTrainModel);
  });

  it("with trainShared also trains attention, norms and embeddings, never the experts", async () => {
    const run = await trainGates({ moeDir, ...BASE, steps: 3, trainShared: true, expertsPerToken: 1 });
    const before = (await loadMixtralTrainModel(moeDir)).model;
    const initial = readWeights(before);
    const after = readWeights(run.model);
    const changed = [...initial.keys()].filter((n) => !bitsEqual(initial, after, [n]));
    expect(changed.some((n) => n.includes("self_attn"))).toBe(true);
    expect(changed.some((n) => n.includes("embed_tokens"))).toBe(true);
    expect(changed.some((n) => n.includes(".experts."))).toBe(false);
    expect(run.model.moe).toEqual({ experts: 4, expertsPerToken: 1 });
    [before, run.model].forEach(disposeTrainModel);
  });

  it("with domainLossCoef teaches each domain's tokens to route to its expert (gate quality rises)", async () => {
    const expertDomains = ["beta", null, "alpha", null];
    const heldOut = TEXTS.map((t) => ({ domain: t.domain, text: t.text.slice(0, 400) }));
    const plain = await trainGates({ moeDir, ...BASE, steps: 20, lr: 5e-2 });
    const taught = await trainGates({ moeDir, ...BASE, steps: 20, lr: 5e-2, domainLossCoef: 1, expertDomains });
    const qPlain = await gateQuality(plain.model, tokenizer, heldOut, { expertDomains, seqLen: 16 });
    const qTaught = await gateQuality(taught.model, tokenizer, heldOut, { expertDomains, seqLen: 16 });
    expect(qTaught.macroShare).toBeGreaterThan(0.5);
    expect(qTaught.macroShare).toBeGreaterThan(qPlain.macroShare + 0.3);
    expect(plain.losses.domain.every((v) => v === 0)).toBe(true);
    // The routing loss (mean −log p of the taught expert, in nats) falls from about log E.
    const mean5 = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean5(taught.losses.domain.slice(0, 5))).toBeGreaterThan(1);
    expect(mean5(taught.losses.domain.slice(-5))).toBeLessThan(0.8 * mean5(taught.losses.domain.slice(0, 5)));
    taught.losses.loss.forEach((l, i) => expect(l).toBeCloseTo(taught.losses.ce[i] + 0.01 * taught.losses.balance[i] + taught.losses.domain[i], 5));
    // sharedLr moves the shared weights at its own rate: a tiny one barely moves them.
    const slow = await trainGates({ moeDir, ...BASE, steps: 3, trainShared: true, sharedLr: 1e-9 });
    const fast = await trainGates({ moeDir, ...BASE, steps: 3, trainShared: true });
    const initial = readWeights((await loadMixtralTrainModel(moeDir)).model);
    const moved = (w: Map<string, Float32Array>, n: string) => Math.max(...w.get(n)!.map((x, i) => Math.abs(x - initial.get(n)![i])));
    const attn = "model.layers.0.self_attn.q_proj.weight";
    expect(moved(readWeights(slow.model), attn)).toBeLessThan(1e-6);
    expect(moved(readWeights(fast.model), attn)).toBeGreaterThan(1e-3);
    expect(moved(readWeights(slow.model), moeGateName(0))).toBeGreaterThan(1e-3);
    await expect(trainGates({ moeDir, ...BASE, domainLossCoef: 1 })).rejects.toThrow(/needs expertDomains/);
    await expect(trainGates({ moeDir, ...BASE, domainLossCoef: 1, expertDomains: ["alpha", null, null, null] })).rejects.toThrow(/no expert is named for domain\(s\) beta/);
    await expect(trainGates({ moeDir, ...BASE, sharedLr: 1e-3 })).rejects.toThrow(/sharedLr needs trainShared/);
    [plain.model, taught.model, slow.model, fast.model].forEach(disposeTrainModel);
  });

  it("resumes from a checkpoint to exactly the weights and losses of an uninterrupted run", async () => {
    const full = await trainGates({ moeDir, ...BASE });
    const checkpointDir = path.join(root, "ckpt");
    const first = await trainGates({ moeDir, ...BASE, checkpointDir, checkpointEvery: 2, stopAtStep: 4 });
    expect(first.step).toBe(4);
    disposeTrainModel(first.model);
    const resumed = await trainGates({ moeDir, ...BASE, checkpointDir, checkpointEvery: 2 });
    expect(resumed.startStep).toBe(4);
    const names = [...readWeights(full.model).keys()];
    expect(bitsEqual(readWeights(full.model), readWeights(resumed.model), names)).toBe(true);
    expect(resumed.losses).toEqual(full.losses);
    await expect(trainGates({ moeDir, ...BASE, lr: 1e-3, checkpointDir })).rejects.toThrow(/different run \(differs in schedule\)/);
    [full.model, resumed.model].forEach(disposeTrainModel);
  });

  it("mixes the domains evenly and draws batches as a pure function of (seed, step)", () => {
    const d0 = Int32Array.from({ length: 100 }, (_, i) => i);
    const d1 = Int32Array.from({ length: 50 }, (_, i) => 1000 + i);
    const batch = mixedBatchAt([d0, d1], 7, 3, 4, 8);
    expect(batch.inputs.map((row) => (row[0] >= 1000 ? 1 : 0))).toEqual([0, 1, 0, 1]);
    expect(batch.targets[1][0]).toBe(batch.inputs[1][1]);
    expect(mixedBatchAt([d0, d1], 7, 3, 4, 8)).toEqual(batch);
    expect(mixedBatchAt([d0, d1], 7, 4, 4, 8)).not.toEqual(batch);
  });

  it("rejects bad options and inputs with every problem at once", async () => {
    const error = await trainGates({ moeDir, texts: [{ domain: "x", text: "" }], steps: 0, batchSize: 2, seqLen: 8, lr: -1, seed: 0 }).catch((e) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/steps must be a positive integer/);
    expect(error.message).toMatch(/lr must be positive/);
    expect(error.message).toMatch(/empty training text for x/);
    await expect(trainGates({ moeDir, ...BASE, expertsPerToken: 5 })).rejects.toThrow(/between 1 and 4/);
    await expect(trainGates({ moeDir, ...BASE, expertsPerToken: 1 })).rejects.toThrow(/no gradient from the cross-entropy/);
    await expect(trainGates({ moeDir, ...BASE, seqLen: 4000 })).rejects.toThrow(/needs more than 4000 tokens/);
    const dense = path.join(root, "dense");
    const model = createTrainModel(randomLlamaConfig({ hiddenSize: 16, intermediateSize: 32, numLayers: 1, numHeads: 2, vocabSize: tokenizer.size }), { seed: 0, tokenizer });
    await exportHf(model, dense);
    disposeTrainModel(model);
    await expect(trainGates({ moeDir: dense, ...BASE })).rejects.toThrow(InputFileError);
    await expect(trainGates({ moeDir: dense, ...BASE })).rejects.toThrow(/not a mixture of experts/);
  });
});

describe("moe gate quality", () => {
  it("counts the share of each domain's tokens whose top-1 expert is the domain's own", async () => {
    const { model } = await loadMixtralTrainModel(moeDir);
    // Zero gates tie every logit: every token goes to expert 0 (lower index first).
    for (const layer of [0, 1]) model.weights.get(moeGateName(layer))!.assign(model.weights.get(moeGateName(layer))!.mul(0));
    const passages = TEXTS.map((t) => ({ domain: t.domain, text: t.text.slice(0, 200) }));
    const quality = await gateQuality(model, tokenizer, passages, { expertDomains: ["alpha", "beta", null, null], seqLen: 16 });
    expect(quality.domains.alpha.share).toBe(1);
    expect(quality.domains.beta.share).toBe(0);
    expect(quality.domains.beta.experts).toEqual([1, 0, 0, 0]);
    expect(quality.domains.alpha.tokens).toBe(tokenizer.encode(passages[0].text).length);
    expect(quality.macroShare).toBe(0.5);
    expect(quality.chance).toBe(0.25);
    await expect(gateQuality(model, tokenizer, passages, { expertDomains: ["alpha"] })).rejects.toThrow(/names 1 experts; the model has 4/);
    await expect(gateQuality(model, tokenizer, [{ domain: "gamma", text: "x" }], { expertDomains: ["alpha", "beta", null, null] })).rejects.toThrow(/no expert is named for domain\(s\) gamma/);
    disposeTrainModel(model);
  });
});

describe("cogen moe train-gates", () => {
  it("writes a GGUF that llama.cpp runs as the trained mixture computes, with a JSON report and gate quality", async () => {
    const files = await Promise.all(TEXTS.map(async (t) => {
      const file = path.join(root, `${t.domain}.txt`);
      await fs.writeFile(file, t.text);
      return file;
    }));
    const heldOut = path.join(root, "alpha-held.txt");
    await fs.writeFile(heldOut, lines[0]);
    const out = path.join(root, "cli-out");
    const { code, out: stdout } = await capture(["moe", "train-gates", moeDir, out, "--data", files[0], "--data", `beta=${files[1]}`, "--steps", "4",
      "--batch-size", "2", "--seq-len", "16", "--out-format", "gguf", "--expert-domains", "alpha,beta,-,-", "--held-out", `alpha=${heldOut}`, "--json"]);
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ steps: 4, files: ["model.gguf"], domains: ["alpha", "beta"], expertsPerToken: 2 });
    expect(report.gateQuality.domains.alpha.tokens).toBe(tokenizer.encode(lines[0]).length);
    // The same run through the library, exported as HF: llama.cpp on the CLI's GGUF gives its distributions.
    const run = await trainGates({ moeDir, texts: TEXTS, steps: 4, batchSize: 2, seqLen: 16, lr: 1e-2, seed: 0 });
    const weights = readWeights(run.model);
    const tokens = tokenizer.encode(lines[4]);
    const reference = llamaForward(run.model.config, (n) => weights.get(n)!, tokens).map((l) => softmax(l));
    const theirs = await llamaCppDistributions(path.join(out, "model.gguf"), tokens, run.model.config.vocabSize);
    for (let t = 0; t < tokens.length; t++) expect(klDivergence(reference[t], theirs[t])).toBeLessThan(1e-6);
    disposeTrainModel(run.model);
  });

  it("reports flag problems all at once and leaves no output behind", async () => {
    const out = path.join(root, "cli-bad");
    const { code, err: stderr } = await capture(["moe", "train-gates", moeDir, out, "--steps", "0", "--out-format", "onnx", "--routing-loss-coef", "1", "--shared-lr", "1e-3"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--routing-loss-coef needs --expert-domains/);
    expect(stderr).toMatch(/--shared-lr needs --train-shared/);
    expect(stderr).toMatch(/--steps: expected an integer ≥ 1/);
    expect(stderr).toMatch(/--out-format: expected hf or gguf/);
    expect(stderr).toMatch(/give training text/);
    const missing = await capture(["moe", "train-gates", moeDir, out, "--data", path.join(root, "nowhere.txt")]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nowhere\.txt: no such file or folder/);
    await expect(fs.stat(out)).rejects.toThrow();
  });
});
