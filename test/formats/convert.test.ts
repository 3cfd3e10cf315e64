import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTinyLlama, maxAbsDiff, tempDir, FIXTURE_TEXT } from "../fixtures/tiny-llama.js";
import { convertGgufToHf } from "../../src/formats/convert/gguf-to-hf.js";
import { openHfWeights } from "../../src/formats/safetensors/index.js";
import { openGguf } from "../../src/formats/gguf/reader.js";
import { llamaCppDistributions, llamaCppTokenize as tokenize, referenceDistributions as reference } from "../../src/models/llamacpp/parity.js";

let root: string;

beforeAll(async () => {
  root = await tempDir();
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe("convert HF → GGUF → llama.cpp", () => {
  for (const flavour of ["byte-level", "byte-fallback"] as const) {
    it(`gives the reference forward pass's next-token probabilities (${flavour} tokenizer, F32)`, async () => {
      const tiny = await makeTinyLlama(root, flavour);
      const file = await tiny.gguf("f32");
      const gguf = await openGguf(file);
      expect(gguf.getString("tokenizer.ggml.model")).toBe(flavour === "byte-level" ? "gpt2" : "llama");
      await gguf.close();

      const tokens = await tokenize(file, "The heart pumps blood");
      expect(tokens.length).toBeGreaterThan(3);
      const ours = await reference(tiny.dir, tokens);
      const theirs = await llamaCppDistributions(file, tokens, tiny.config.vocabSize);
      const diff = maxAbsDiff(ours, theirs);
      console.info(`max abs Δp llama.cpp vs TS (${flavour}): ${diff.toExponential(2)}`);
      expect(diff).toBeLessThan(1e-5);
      // The distributions are far from uniform, so agreement is not trivial.
      expect(Math.max(...ours[ours.length - 1])).toBeGreaterThan(5 / tiny.config.vocabSize);
    });
  }

  it("tokenizes like the Hugging Face tokenizer it came from (byte-level BPE merges applied)", async () => {
    const tiny = await makeTinyLlama(root, "byte-level");
    const file = await tiny.gguf("f32");
    const tokenizer = JSON.parse(await fs.readFile(path.join(tiny.dir, "tokenizer.json"), "utf8"));
    const vocab = tokenizer.model.vocab as Record<string, number>;
    const tokens = await tokenize(file, "the heart");
    // "the" and " heart" pieces come out as merged tokens, not bytes.
    expect(tokens.length).toBeLessThan("the heart".length);
    const byId = new Map(Object.entries(vocab).map(([k, v]) => [v, k]));
    expect(tokens.map((t) => byId.get(t)).join("")).toBe("theĠheart");
  });

  it("runs grouped-query attention, tied embeddings and Qwen2 biases", async () => {
    const qwen = await makeTinyLlama(root, "byte-level", { architecture: "Qwen2ForCausalLM", tieWordEmbeddings: true, numKvHeads: 1 });
    const file = await qwen.gguf("f32");
    const tokens = await tokenize(file, FIXTURE_TEXT.slice(0, 30));
    const ours = await reference(qwen.dir, tokens);
    const theirs = await llamaCppDistributions(file, tokens, qwen.config.vocabSize);
    expect(maxAbsDiff(ours, theirs)).toBeLessThan(1e-3);
  });
});

describe("convert GGUF → HF", () => {
  it("round-trips HF → GGUF → HF bit-exactly in F32, config and tokenizer included", async () => {
    const tiny = await makeTinyLlama(root, "byte-fallback");
    const file = await tiny.gguf("f32");
    const back = path.join(root, "back");
    await convertGgufToHf(file, back);
    const a = await openHfWeights(tiny.dir);
    const b = await openHfWeights(back);
    expect(b.list().map((t) => t.name).sort()).toEqual(a.list().map((t) => t.name).sort());
    for (const t of a.list()) {
      expect(Buffer.from(await b.readRaw(t.name)).equals(Buffer.from(await a.readRaw(t.name)))).toBe(true);
    }
    await a.close();
    await b.close();
    const original = JSON.parse(await fs.readFile(path.join(tiny.dir, "config.json"), "utf8"));
    const restored = JSON.parse(await fs.readFile(path.join(back, "config.json"), "utf8"));
    expect(restored).toEqual(original);
    expect(await fs.readFile(path.join(back, "tokenizer.json"), "utf8")).toBe(await fs.readFile(path.join(tiny.dir, "tokenizer.json"), "utf8"));
  });

  it("rebuilds a working tokenizer.json from the GGUF vocabulary when none is stored", async () => {
    const { tokenizerJsonFromVocab, vocabFromTokenizerJson } = await import("../../src/formats/hf/tokenizer.js");
    for (const flavour of ["byte-level", "byte-fallback"] as const) {
      const tiny = await makeTinyLlama(root, flavour);
      const json = JSON.parse(await fs.readFile(path.join(tiny.dir, "tokenizer.json"), "utf8"));
      const config = JSON.parse(await fs.readFile(path.join(tiny.dir, "tokenizer_config.json"), "utf8"));
      const vocab = vocabFromTokenizerJson(json, config, "tokenizer.json");
      const rebuilt = tokenizerJsonFromVocab(vocab);
      const again = vocabFromTokenizerJson(rebuilt.tokenizer, rebuilt.config, "rebuilt");
      expect(again.tokens).toEqual(vocab.tokens);
      expect(again.tokenTypes).toEqual(vocab.tokenTypes);
      expect(again.merges).toEqual(vocab.merges);
      expect(again.bosId).toBe(vocab.bosId);
      if (flavour === "byte-fallback") {
        // Merges recovered from scores keep BPE's order: the same scores come back.
        expect(again.scores).toEqual(vocab.scores);
      }
    }
  });

  it("dequantizes a Q8_0 model on the way back, close to the original weights", async () => {
    const tiny = await makeTinyLlama(root, "byte-level");
    const file = await tiny.gguf("q8_0");
    const back = path.join(root, "back-q8");
    await convertGgufToHf(file, back);
    const a = await openHfWeights(tiny.dir);
    const b = await openHfWeights(back);
    const name = "model.layers.0.self_attn.q_proj.weight";
    const x = await a.readF32(name);
    const y = await b.readF32(name);
    let maxErr = 0;
    let maxAbs = 0;
    x.forEach((v, i) => ((maxErr = Math.max(maxErr, Math.abs(v - y[i]))), (maxAbs = Math.max(maxAbs, Math.abs(v)))));
    expect(maxErr).toBeGreaterThan(0);
    expect(maxErr).toBeLessThan(maxAbs / 100);
    await a.close();
    await b.close();
  });
});
