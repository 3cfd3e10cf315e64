import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { convertHfToGguf } from "../../src/formats/convert/hf-to-gguf.js";
import { TokenType, type GgufVocab } from "../../src/formats/hf/tokenizer.js";
import { llamaRuntime } from "../../src/models/llamacpp/runtime.js";
import { stableCutter, type TextCutter } from "../../src/models/llamacpp/stable-cut.js";
import { validateGgufForLlamaCpp } from "../../src/models/llamacpp/validate.js";
import { makeTinyLlama, tempDir } from "../fixtures/tiny-llama.js";

/** Pieces of text that stress the splits: repeated and mixed whitespace, contractions, digit runs, punctuation, non-ASCII. */
const FRAGMENTS = [
  "The", " heart", " pumps", " blood", "bank", " river", "s", "ing", " ", "  ", "   ", "\n", "\n\n", " \n", "\t", " \t ",
  "'s", "'re", "'ll", "'", "’s", " 12", "345", "7", ",", ".", "!", " (", ")", "--", " é", "café", "東京", " 👍🏽", "€", "▁",
];

interface Case {
  name: string;
  model: LlamaModel;
  cutter: TextCutter;
}
const cases: Case[] = [];
let root: string;

beforeAll(async () => {
  root = await tempDir();
  const llama = await llamaRuntime(false);
  const byteLevel = await makeTinyLlama(root, "byte-level");
  const byteFallback = await makeTinyLlama(root, "byte-fallback");
  // The same byte-fallback tokenizer with Llama 2's space prefix (GGUF add_space_prefix true).
  const prefixed = path.join(root, "prefixed");
  await fs.cp(byteFallback.dir, prefixed, { recursive: true });
  const tokenizerFile = path.join(prefixed, "tokenizer.json");
  const tokenizer = JSON.parse(await fs.readFile(tokenizerFile, "utf8"));
  tokenizer.normalizer = { type: "Sequence", normalizers: [{ type: "Prepend", prepend: "▁" }, tokenizer.normalizer] };
  await fs.writeFile(tokenizerFile, JSON.stringify(tokenizer));
  await convertHfToGguf(prefixed, path.join(root, "prefixed.gguf"));
  for (const [name, file] of [["byte-level BPE", await byteLevel.gguf()], ["byte fallback", await byteFallback.gguf()], ["byte fallback, space prefix", path.join(root, "prefixed.gguf")]] as const) {
    const { vocab } = await validateGgufForLlamaCpp(file);
    const cutter = stableCutter(vocab);
    if (!cutter) throw new Error(`${name}: the fixture should have cuts`);
    cases.push({ name, model: await llama.loadModel({ modelPath: file, gpuLayers: 0 }), cutter });
  }
  expect((await validateGgufForLlamaCpp(path.join(root, "prefixed.gguf"))).vocab?.addSpacePrefix).toBe(true);
});
afterAll(async () => {
  for (const c of cases) await c.model.dispose();
  if (root) await fs.rm(root, { recursive: true, force: true });
});

function randomText(rng: Rng, min: number, max: number): string {
  let text = "";
  for (let n = min + rng.below(max - min + 1); n > 0; n--) text += FRAGMENTS[rng.below(FRAGMENTS.length)];
  return text;
}

describe("stable cuts for llama.cpp's tokenizers", () => {
  it("tokenize text + more as the text up to any cut followed by the tail from the cut", () => {
    for (const { name, model, cutter } of cases) {
      const rng = new Rng(21);
      const tokens = (text: string) => [...model.tokenize(text, false)];
      let checked = 0;
      for (let i = 0; i < 150; i++) {
        const text = randomText(rng, 2, 10);
        const more = randomText(rng, 1, 3);
        const whole = tokens(text + more);
        let last = -1;
        for (let at = 1; at < text.length; at++) {
          if (!cutter.isCut(text, at)) continue;
          last = at;
          expect([...tokens(text.slice(0, at)), ...tokens(cutter.tail(text + more, at))], `${name}: ${JSON.stringify(text)} + ${JSON.stringify(more)} cut at ${at}`).toEqual(whole);
          checked++;
        }
        expect(cutter.lastCut(text)).toBe(last);
      }
      expect(checked, name).toBeGreaterThan(150);
    }
  });

  it("cuts only at a space after a character that is not whitespace", () => {
    const [{ cutter }] = cases;
    expect(cutter.lastCut("a  b")).toBe(1);
    expect(cutter.lastCut("a\n b")).toBe(-1);
    expect(cutter.lastCut(" b")).toBe(-1);
    expect(cutter.lastCut("x👍🏽 b")).toBe("x👍🏽".length);
    // SentencePiece reads a typed "▁" as a space: no cut right after one.
    const sentencePiece = cases.find((c) => c.name === "byte fallback")!.cutter;
    expect(sentencePiece.lastCut("a b▁ c")).toBe(1);
    expect(cutter.lastCut("a b▁ c")).toBe(4);
  });

  it("gives no cut where one is not known to be exact", () => {
    const vocab = (over: Partial<GgufVocab>): GgufVocab => ({ model: "llama", tokens: ["<unk>", "▁the", "a"], tokenTypes: [TokenType.unknown, TokenType.normal, TokenType.normal], ...over });
    expect(stableCutter(vocab({}))).toBeDefined();
    // A piece that joins a space to the character before it: "a▁" could merge across the cut.
    expect(stableCutter(vocab({ tokens: ["<unk>", "▁the", "a▁"] }))).toBeUndefined();
    expect(stableCutter(vocab({ tokens: ["<unk>", "▁▁", "a"] }))).toBeDefined();
    // User-defined tokens are matched in the raw text before any split.
    expect(stableCutter(vocab({ tokenTypes: [TokenType.unknown, TokenType.normal, TokenType.userDefined] }))).toBeUndefined();
    expect(stableCutter(vocab({ model: "gpt2", pre: "gpt-2" }))).toBeDefined();
    expect(stableCutter(vocab({ model: "gpt2", pre: "llama3" }))).toBeDefined();
    // Pre-tokenizers with several steps or anchored regexes, or none named.
    expect(stableCutter(vocab({ model: "gpt2", pre: "deepseek-llm" }))).toBeUndefined();
    expect(stableCutter(vocab({ model: "gpt2", pre: "falcon" }))).toBeUndefined();
    expect(stableCutter(vocab({ model: "gpt2" }))).toBeUndefined();
    expect(stableCutter(undefined)).toBeUndefined();
  });
});
