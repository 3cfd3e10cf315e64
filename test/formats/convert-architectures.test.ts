/**
 * The llama-family variants llama.cpp runs under `llama`/`qwen2`: generated models converted to
 * GGUF, their next-token distributions in llama.cpp checked against the TypeScript forward pass
 * of the Hugging Face folder (src/models/llama-forward.ts).
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertGgufToHf } from "../../src/formats/convert/gguf-to-hf.js";
import { openGguf } from "../../src/formats/gguf/reader.js";
import { readLlamaConfig } from "../../src/formats/hf/config.js";
import { llama3RopeFactors } from "../../src/formats/hf/rope.js";
import { llamaCppDistributions, llamaCppTokenize, referenceDistributions } from "../../src/models/llamacpp/parity.js";
import type { RandomLlamaOptions } from "../../src/zoo/random-llama.js";
import { FIXTURE_TEXT, makeTinyLlama, maxAbsDiff, tempDir } from "../fixtures/tiny-llama.js";

let root: string;
beforeAll(async () => {
  root = await tempDir();
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** A long enough text that positions reach well past the small original contexts below. */
const TEXT = FIXTURE_TEXT.slice(0, 260);

/** Converts a tiny model; llama.cpp's and the reference's distributions, and those of the same weights without the variant's config. */
async function parity(overrides: Partial<RandomLlamaOptions>) {
  const tiny = await makeTinyLlama(root, "byte-level", { numLayers: 1, ...overrides });
  const file = await tiny.gguf("f32");
  const tokens = await llamaCppTokenize(file, TEXT);
  expect(tokens.length).toBeGreaterThan(60);
  const ours = await referenceDistributions(tiny.dir, tokens);
  const theirs = await llamaCppDistributions(file, tokens, tiny.config.vocabSize);
  return { tiny, file, tokens, ours, theirs, diff: maxAbsDiff(ours, theirs) };
}

/** The reference with config.json's rope_scaling removed: the scaling must matter for the check to mean anything. */
async function withoutScaling(dir: string, tokens: number[]): Promise<Float64Array[]> {
  const plain = `${dir}-plain`;
  await fs.cp(dir, plain, { recursive: true });
  const file = path.join(plain, "config.json");
  const config = JSON.parse(await fs.readFile(file, "utf8"));
  delete config.rope_scaling;
  await fs.writeFile(file, JSON.stringify(config));
  return referenceDistributions(plain, tokens);
}

const TOLERANCE = 1e-4;

describe("rope scaling", () => {
  it("Llama 3.1 (rope_type llama3): rope_freqs.weight holds the factors, llama.cpp matches the reference", async () => {
    const rope_scaling = { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 };
    const run = await parity({ headDim: 16, numHeads: 2, numKvHeads: 1, extraConfig: { rope_scaling } });
    const gguf = await openGguf(run.file);
    try {
      const stored = await gguf.readF32("rope_freqs.weight");
      const expected = llama3RopeFactors(run.tiny.config)!;
      expect(Array.from(stored)).toEqual(Array.from(expected));
      // Short wavelengths keep their frequency, long ones are divided by the factor, one pair is smoothed between.
      expect(stored[0]).toBe(1);
      expect(stored[stored.length - 1]).toBe(8);
      expect(Array.from(stored).some((f) => f > 1 && f < 8)).toBe(true);
    } finally {
      await gguf.close();
    }
    console.info(`llama3 rope: max |Δp| llama.cpp vs TS ${run.diff.toExponential(2)}`);
    expect(run.diff).toBeLessThan(TOLERANCE);
    expect(maxAbsDiff(run.ours, await withoutScaling(run.tiny.dir, run.tokens))).toBeGreaterThan(100 * TOLERANCE);

    // The way back restores rope_scaling from the stored config.json; rope_freqs.weight is not an HF tensor.
    const back = path.join(root, "llama3-back");
    await convertGgufToHf(run.file, back);
    expect((await readLlamaConfig(back)).ropeScaling).toEqual(run.tiny.config.ropeScaling);
  });

  for (const [architecture, rope_scaling] of [
    ["LlamaForCausalLM", { rope_type: "linear", factor: 4 }],
    ["LlamaForCausalLM", { rope_type: "yarn", factor: 4, original_max_position_embeddings: 64 }],
    ["LlamaForCausalLM", { type: "yarn", factor: 2.5, original_max_position_embeddings: 32, beta_fast: 16, beta_slow: 2 }],
    // Qwen2.5's long-context setting (YaRN), under llama.cpp's qwen2 architecture.
    ["Qwen2ForCausalLM", { type: "yarn", factor: 4, original_max_position_embeddings: 64 }],
  ] as const) {
    it(`${architecture} ${JSON.stringify(rope_scaling)}: written as llama.cpp's rope.scaling keys, llama.cpp matches the reference`, async () => {
      const run = await parity({ architecture, extraConfig: { rope_scaling } });
      const arch = architecture === "Qwen2ForCausalLM" ? "qwen2" : "llama";
      const gguf = await openGguf(run.file);
      expect(gguf.getString(`${arch}.rope.scaling.type`)).toBe("rope_type" in rope_scaling ? rope_scaling.rope_type : rope_scaling.type);
      expect(gguf.metadata.get(`${arch}.rope.scaling.factor`)?.value).toBe(rope_scaling.factor);
      await gguf.close();
      console.info(`${architecture} ${JSON.stringify(rope_scaling)}: max |Δp| llama.cpp vs TS ${run.diff.toExponential(2)}`);
      expect(run.diff).toBeLessThan(TOLERANCE);
      expect(maxAbsDiff(run.ours, await withoutScaling(run.tiny.dir, run.tokens))).toBeGreaterThan(100 * TOLERANCE);
    });
  }

  it("rope scaling llama.cpp would not honour is refused naming the field", async () => {
    const tiny = await makeTinyLlama(root, "byte-level", { numLayers: 1 });
    for (const [rope_scaling, message] of [
      [{ rope_type: "dynamic", factor: 2 }, /"rope_scaling" type "dynamic" is not supported/],
      [{ rope_type: "longrope", factor: 2 }, /"rope_scaling" type "longrope" is not supported/],
      [{ rope_type: "yarn", factor: 4, attention_factor: 1.3 }, /rope_scaling\.attention_factor/],
      [{ rope_type: "linear" }, /rope_scaling\.factor/],
    ] as const) {
      const dir = `${tiny.dir}-${rope_scaling.rope_type}-${Object.keys(rope_scaling).length}`;
      await fs.cp(tiny.dir, dir, { recursive: true });
      const file = path.join(dir, "config.json");
      await fs.writeFile(file, JSON.stringify({ ...JSON.parse(await fs.readFile(file, "utf8")), rope_scaling }));
      await expect(readLlamaConfig(dir)).rejects.toThrow(message);
    }
  });
});

describe("llama-family variants", () => {
  it("Mistral: sliding_window is recorded in GGUF and survives the way back", async () => {
    const run = await parity({ architecture: "MistralForCausalLM", extraConfig: { sliding_window: 4096 } });
    const gguf = await openGguf(run.file);
    expect(gguf.metadata.get("llama.attention.sliding_window")?.value).toBe(4096);
    await gguf.close();
    expect(run.diff).toBeLessThan(TOLERANCE);
    const back = path.join(root, "mistral-back");
    await convertGgufToHf(run.file, back);
    expect((await readLlamaConfig(back)).slidingWindow).toBe(4096);
  });

  it("Llama: head_dim larger than hidden_size / num_attention_heads", async () => {
    const run = await parity({ headDim: 16, numHeads: 4, numKvHeads: 2 });
    expect(run.tiny.config.headDim * run.tiny.config.numHeads).not.toBe(run.tiny.config.hiddenSize);
    const gguf = await openGguf(run.file);
    expect(gguf.metadata.get("llama.attention.key_length")?.value).toBe(16);
    await gguf.close();
    console.info(`llama head_dim 16: max |Δp| ${run.diff.toExponential(2)}`);
    expect(run.diff).toBeLessThan(TOLERANCE);
  });

  it("Qwen2 with such a head_dim is refused (llama.cpp's qwen2 graph is hidden × hidden)", async () => {
    const tiny = await makeTinyLlama(root, "byte-level", { architecture: "Qwen2ForCausalLM", numLayers: 1, headDim: 16, numHeads: 4, numKvHeads: 2 });
    await expect(tiny.gguf("f32")).rejects.toThrow(/config\.json: head_dim 16 × num_attention_heads 4 must equal hidden_size 32/);
  });

  it("Llama with tied embeddings (no lm_head.weight) and Qwen2 biases with tied embeddings", async () => {
    for (const architecture of ["LlamaForCausalLM", "Qwen2ForCausalLM"] as const) {
      const run = await parity({ architecture, tieWordEmbeddings: true });
      const gguf = await openGguf(run.file);
      expect(gguf.list().some((t) => t.name === "output.weight")).toBe(false);
      if (architecture === "Qwen2ForCausalLM") expect(gguf.list().some((t) => t.name === "blk.0.attn_q.bias")).toBe(true);
      await gguf.close();
      expect(run.diff).toBeLessThan(TOLERANCE);
    }
  });
});
