import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputFileError } from "../../src/core/errors.js";
import type { LlamaConfig } from "../../src/formats/hf/config.js";
import { convertHfToGguf } from "../../src/formats/convert/hf-to-gguf.js";
import { llamaForward, softmax } from "../../src/models/llama-forward.js";
import { klDivergence, llamaCppDistributions, llamaCppTokenize } from "../../src/models/llamacpp/parity.js";
import { trainBpe, tokenizerFiles } from "../../src/zoo/bpe-train.js";
import { bpeTokenizer } from "../../src/zoo/train/tokenize.js";
import { randomLlamaConfig } from "../../src/zoo/random-llama.js";
import { initTrainingBackend, tf } from "../../src/zoo/train/backend.js";
import { exportHf } from "../../src/zoo/train/export.js";
import { loadMixtralTrainModel, readMixtralConfig } from "../../src/zoo/train/mixtral-hf.js";
import { createTrainModel, disposeTrainModel, forwardLogits, lossOf, readWeights, trainableVariables, type RouteRecord, type TrainModel } from "../../src/zoo/train/model.js";
import { loadBalancingLoss, moeExpertName, moeGateName, routingWeights, topKMask } from "../../src/zoo/train/moe.js";
import { FIXTURE_TEXT, tempDir } from "../fixtures/tiny-llama.js";

let root: string;
beforeAll(async () => {
  await initTrainingBackend();
  root = await tempDir("cogen-train-moe-");
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const config = randomLlamaConfig({ hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, vocabSize: 53 });
const mixtral = (experts: number, expertsPerToken: number): LlamaConfig => ({ ...config, architecture: "MixtralForCausalLM", moe: { experts, expertsPerToken } });
const TOKENS = [1, 5, 9, 3, 44, 2, 7, 7, 52, 0, 12, 30];

function logitsOf(model: TrainModel, tokens: number[]): number[][] {
  return tf.tidy(() => forwardLogits(model, tf.tensor2d([tokens], [1, tokens.length], "int32")).arraySync());
}

function maxAbsDiff(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  let m = 0;
  a.forEach((row, t) => { for (let j = 0; j < row.length; j++) m = Math.max(m, Math.abs(row[j] - b[t][j])); });
  return m;
}

describe("trainer: Mixtral MoE layer", () => {
  it("routes as Mixtral: softmax over all logits, top k kept and renormalised, zero elsewhere", () => {
    const logits = [[0.3, 2.0, -1.0, 1.5], [1.0, 1.0, 1.0, 1.0], [-3, -2, 5, 0.5]];
    const [mask, weights] = tf.tidy(() => {
      const l = tf.tensor2d(logits);
      const m = topKMask(l, 2);
      return [m.arraySync(), routingWeights(l, m).arraySync()];
   });
    expect(mask).toEqual([[0, 1, 0, 1], [1, 1, 0, 0], [0, 0, 1, 1]]);
    logits.forEach((row, r) => {
      const all = row.map(Math.exp);
      const chosen = mask[r].map((m, e) => (m ? all[e] : 0));
      const sum = chosen.reduce((a, b) => a + b, 0);
      chosen.forEach((c, e) => expect(weights[r][e]).toBeCloseTo(c / sum, 6));
   });
 });

  it("with identical experts equals the dense model whatever the gate does", () => {
    const dense = createTrainModel(config, { seed: 3, initScale: 0.3 });
    const denseWeights = readWeights(dense);
    const init = new Map<string, Float32Array>();
    for (const [name, values] of denseWeights) if (!name.includes(".mlp.")) init.set(name, values);
    const rng = createTrainModel(mixtral(4, 2), { seed: 9, initScale: 1 });
    for (let layer = 0; layer < config.numLayers; layer++) {
      init.set(moeGateName(layer), readWeights(rng).get(moeGateName(layer))!);
      for (let e = 0; e < 4; e++) {
        init.set(moeExpertName(layer, e, "w1"), denseWeights.get(`model.layers.${layer}.mlp.gate_proj.weight`)!);
        init.set(moeExpertName(layer, e, "w2"), denseWeights.get(`model.layers.${layer}.mlp.down_proj.weight`)!);
        init.set(moeExpertName(layer, e, "w3"), denseWeights.get(`model.layers.${layer}.mlp.up_proj.weight`)!);
      }
    }
    const moe = createTrainModel(mixtral(4, 2), { seed: 0, init });
    const reference = llamaForward(config, (n) => denseWeights.get(n)!, TOKENS);
    expect(maxAbsDiff(reference, logitsOf(moe, TOKENS))).toBeLessThan(1e-4);
    expect(maxAbsDiff(logitsOf(dense, TOKENS), logitsOf(moe, TOKENS))).toBeLessThan(1e-4);
    [dense, rng, moe].forEach(disposeTrainModel);
 });

  it("gate gradients match finite differences (through the renormalised weights of the selected experts)", () => {
    const model = createTrainModel(mixtral(4, 2), { seed: 4, initScale: 0.4, trainable: (n) => n.includes("block_sparse_moe.gate") });
    expect([...trainableVariables(model).keys()]).toEqual([moeGateName(0), moeGateName(1)]);
    const inputs = tf.tensor2d([TOKENS.slice(0, -1)], [1, TOKENS.length - 1], "int32");
    const targets = tf.tensor2d([TOKENS.slice(1)], [1, TOKENS.length - 1], "int32");
    const gate = trainableVariables(model).get(moeGateName(0))!;
    const { grads, value } = tf.variableGrads(() => lossOf(model, inputs, targets), [gate]);
    const analytic = grads[gate.name].dataSync();
    const base = Float32Array.from(gate.dataSync());
    const lossAt = (values: Float32Array) => {
      gate.assign(tf.tensor(values, gate.shape));
      return tf.tidy(() => lossOf(model, inputs, targets).dataSync()[0]);
    };
    let checked = 0;
    for (const index of [0, 7, 33, 64, 101]) {
      const h = 1e-2;
      const plus = base.slice();
      plus[index] += h;
      const minus = base.slice();
      minus[index] -= h;
      const numeric = (lossAt(plus) - lossAt(minus)) / (2 * h);
      expect(Math.abs(numeric - analytic[index])).toBeLessThan(2e-3 + 0.05 * Math.abs(analytic[index]));
      if (Math.abs(analytic[index]) > 1e-3) checked++;
    }
    expect(checked).toBeGreaterThan(2);
    tf.dispose([inputs, targets, value, ...Object.values(grads)]);
    disposeTrainModel(model);
 });

  it("computes Mixtral's load-balancing loss E·Σ f_e·P_e over all layers' tokens", () => {
    const [uniform, skewed] = tf.tidy(() => {
      const flat = tf.zeros([6, 4]) as tf.Tensor2D;
      const routes = (l: tf.Tensor2D): RouteRecord[] => [{ logits: l, mask: topKMask(l, 1) }];
      const skew = tf.tensor2d([[3, 0, 0, 0], [3, 0, 0, 0], [0, 3, 0, 0], [3, 0, 0, 0]]);
      return [loadBalancingLoss(routes(flat), 4).dataSync()[0], loadBalancingLoss(routes(skew), 4).dataSync()[0]];
   });
    // Equal logits: ties go to expert 0, so f = (1, 0, 0, 0) and P = 1/4 each: 4 · 1/4 = 1.
    expect(uniform).toBeCloseTo(1, 6);
    const e3 = Math.exp(3);
    const pHigh = e3 / (e3 + 3);
    const pLow = 1 / (e3 + 3);
    // f = (3/4, 1/4, 0, 0); P_0 = (3·pHigh + pLow)/4, P_1 = (3·pLow + pHigh)/4.
    const expected = 4 * (0.75 * (3 * pHigh + pLow) / 4 + 0.25 * (3 * pLow + pHigh) / 4);
    expect(skewed).toBeCloseTo(expected, 5);
 });

  it("exports a Mixtral Hugging Face folder and loads it back to the same function", async () => {
    const model = createTrainModel(mixtral(3, 2), { seed: 5, initScale: 0.3 });
    const dir = path.join(root, "mixtral");
    await exportHf(model, dir);
    const json = JSON.parse(await fs.readFile(path.join(dir, "config.json"), "utf8"));
    expect(json).toMatchObject({ architectures: ["MixtralForCausalLM"], model_type: "mixtral", num_local_experts: 3, num_experts_per_tok: 2, router_aux_loss_coef: 0.01, output_router_logits: false });
    const { model: loaded } = await loadMixtralTrainModel(dir);
    expect(maxAbsDiff(logitsOf(model, TOKENS), logitsOf(loaded, TOKENS))).toBe(0);
    const top1 = (await loadMixtralTrainModel(dir, { expertsPerToken: 1 })).model;
    expect(maxAbsDiff(logitsOf(model, TOKENS), logitsOf(top1, TOKENS))).toBeGreaterThan(1e-3);
    [model, loaded, top1].forEach(disposeTrainModel);

    await fs.writeFile(path.join(dir, "config.json"), JSON.stringify({ ...json, num_experts_per_tok: 5, num_local_experts: 0 }));
    await expect(readMixtralConfig(dir)).rejects.toThrow(InputFileError);
    await expect(readMixtralConfig(dir)).rejects.toThrow(/num_local_experts/);
 });
});

describe("trainer: MoE parity with the TypeScript reference and llama.cpp", () => {
  for (const k of [1, 2]) {
    it(`gives llamaForward's and llama.cpp's next-token distributions on a generated 4-expert top-${k} MoE (max KL ≤ 1e-6)`, async () => {
      const tokenizer = bpeTokenizer(tokenizerFiles(trainBpe(FIXTURE_TEXT, 40, "byte-fallback")));
      const moeConfig = { ...mixtral(4, k), vocabSize: tokenizer.size };
      // A large gate scale makes routing decisive, so a wrong expert choice would show.
      const model = createTrainModel(moeConfig, { seed: 11 + k, initScale: 0.3, tokenizer });
      const dir = path.join(root, `parity-top${k}`);
      await exportHf(model, dir);
      const file = path.join(root, `parity-top${k}.gguf`);
      await convertHfToGguf(dir, file, { dtype: "f32" });
      const text = "The river flows from the mountains into the sea.";
      const tokens = await llamaCppTokenize(file, text);
      expect(tokens).toEqual(tokenizer.encode(text));
      const weights = readWeights(model);
      const used = new Set<string>();
      const reference = llamaForward(moeConfig, (n) => weights.get(n)!, tokens, { onRouting: (layer, _pos, experts) => experts.forEach((e) => used.add(`${layer}:${e}`)) }).map((l) => softmax(l));
      const ours = logitsOf(model, tokens).map((l) => softmax(l));
      const theirs = await llamaCppDistributions(file, tokens, moeConfig.vocabSize);
      let worst = 0;
      for (let t = 0; t < tokens.length; t++) {
        worst = Math.max(worst, klDivergence(reference[t], ours[t]), klDivergence(reference[t], theirs[t]));
      }
      expect(worst).toBeLessThanOrEqual(1e-6);
      // Routing was not trivial: several experts were chosen in each layer.
      expect(used.size).toBeGreaterThanOrEqual(2 * Math.min(3, k + 1));
      expect(Math.max(...reference[tokens.length - 1])).toBeGreaterThan(5 / moeConfig.vocabSize);
      disposeTrainModel(model);
    });
  }
});
