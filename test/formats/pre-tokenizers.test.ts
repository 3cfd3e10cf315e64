/**
 * Tokenizers of the llama-family model families, converted to GGUF and run in llama.cpp, against
 * Hugging Face's own `tokenizers` library (npm `tokenizers`, Rust bindings) on a multilingual
 * corpus. The byte-level families are phi-2's real vocabulary and merges under each family's
 * published pre-tokenizer and normaliser configuration (Falcon's and Phi-2's real files as they
 * are); the SentencePiece-style ones are Phi-3-mini's real byte-fallback tokenizer, with its space
 * prefix written three ways, and with added tokens in the text.
 */
import { promises as fs } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputFileError } from "../../src/core/errors.js";
import { convertHfToGguf } from "../../src/formats/convert/hf-to-gguf.js";
import { openGguf } from "../../src/formats/gguf/reader.js";
import { tokenizerJsonFromVocab, vocabFromTokenizerJson } from "../../src/formats/hf/tokenizer.js";
import { llamaCppTokenizeAll } from "../../src/models/llamacpp/parity.js";
import { writeRandomLlama } from "../../src/zoo/random-llama.js";
import { TOKENIZER_CORPUS } from "../fixtures/tokenizer-corpus.js";
import { tempDir } from "../fixtures/tiny-llama.js";
import { referenceFile } from "../reference-data.js";

interface HfTokenizer {
  encode(text: string, pair: null, options: { addSpecialTokens: boolean }): Promise<{ getIds(): number[] }>;
}
interface HfTokenizers {
  Tokenizer: { fromString(json: string): HfTokenizer };
}

/** Hugging Face's tokenizers for Node, when installed (a dev dependency; absent, the parity tests skip). */
const hf: HfTokenizers | undefined = (() => {
  try {
    return createRequire(import.meta.url)("tokenizers") as HfTokenizers;
  } catch {
    return undefined;
  }
})();
const hfNote = hf ? "" : " [skipped: the npm package `tokenizers` (0.23.2, Hugging Face's reference) is not installed]";

const phi2 = referenceFile("compat", "tokenizers", "phi-2", "tokenizer.json");
const phi3 = referenceFile("compat", "tokenizers", "phi-3-mini", "tokenizer.json");
const falcon = referenceFile("compat", "tokenizers", "falcon", "tokenizer.json");

// The families' pre-tokenizers, as their tokenizer.json files publish them.
const byteLevel = (useRegex: boolean) => ({ type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
const isolated = (regex: string) => ({ type: "Split", pattern: { Regex: regex }, behavior: "Isolated", invert: false });
const sequence = (...pretokenizers: object[]) => ({ type: "Sequence", pretokenizers });
const CI = "(?i:'s|'t|'re|'ve|'m|'ll|'d)";
const UPPER = "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]";
const LOWER = "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]";
const CJK = "[一-龥ࠀ-一가-퟿]+";

interface Family {
  name: string;
  preTokenizer: object;
  normalizer?: object;
  ignoreMerges?: boolean;
}

const FAMILIES: Family[] = [
  { name: "llama-bpe", ignoreMerges: true, preTokenizer: sequence(isolated(`${CI}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`), byteLevel(false)) },
  { name: "qwen2", normalizer: { type: "NFC" }, preTokenizer: sequence(isolated(`${CI}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`), byteLevel(false)) },
  { name: "smollm", preTokenizer: sequence({ type: "Digits", individual_digits: true }, byteLevel(true)) },
  {
    name: "gpt-4o",
    preTokenizer: sequence(
      isolated(`[^\\r\\n\\p{L}\\p{N}]?${UPPER}*${LOWER}+${CI}?|[^\\r\\n\\p{L}\\p{N}]?${UPPER}+${LOWER}*${CI}?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`),
      byteLevel(false),
    ),
  },
  {
    name: "tekken",
    ignoreMerges: true,
    preTokenizer: sequence(
      isolated(`[^\\r\\n\\p{L}\\p{N}]?${UPPER}*${LOWER}+|[^\\r\\n\\p{L}\\p{N}]?${UPPER}+${LOWER}*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`),
      byteLevel(false),
    ),
  },
  {
    name: "deepseek-llm",
    preTokenizer: sequence(
      isolated("[\r\n]"),
      isolated("\\s?[A-Za-z\u{b5}\u{c0}-\u{d6}\u{d8}-\u{f6}\u{f8}-\u{1ba}\u{1bc}-\u{1bf}\u{1c4}-\u{293}\u{295}-\u{2af}\u{370}-\u{373}\u{376}\u{377}\u{37b}-\u{37d}\u{37f}\u{386}\u{388}-\u{38a}\u{38c}\u{38e}-\u{3a1}\u{3a3}-\u{3f5}\u{3f7}-\u{481}\u{48a}-\u{52f}\u{531}-\u{556}\u{10a0}-\u{10c5}\u{13a0}-\u{13f5}\u{13f8}-\u{13fd}\u{1c90}-\u{1cba}\u{1cbd}-\u{1cbf}\u{1d00}-\u{1d2b}\u{1d6b}-\u{1d77}\u{1d79}-\u{1d9a}\u{1e00}-\u{1f15}\u{1f18}-\u{1f1d}\u{1f20}-\u{1f45}\u{1f48}-\u{1f4d}\u{1f50}-\u{1f57}\u{1f59}\u{1f5b}\u{1f5d}\u{1f5f}-\u{1f7d}\u{1f80}-\u{1fb4}\u{1fb6}-\u{1fbc}\u{1fbe}\u{1fc2}-\u{1fc4}\u{1fc6}-\u{1fcc}\u{1fd0}-\u{1fd3}\u{1fd6}-\u{1fdb}\u{1fe0}-\u{1fec}\u{1ff2}-\u{1ff4}\u{1ff6}-\u{1ffc}\u{2102}\u{2107}\u{210a}-\u{2113}\u{2115}\u{2119}-\u{211d}\u{2124}\u{2126}\u{2128}\u{212a}-\u{212d}\u{212f}-\u{2134}\u{2139}\u{213c}-\u{213f}\u{2145}-\u{2149}\u{214e}\u{2183}\u{2184}\u{2c00}-\u{2c7b}\u{2c7e}-\u{2ce4}\u{2ceb}-\u{2cee}\u{2cf2}\u{2cf3}\u{a640}-\u{a66d}\u{a680}-\u{a69b}\u{a722}-\u{a76f}\u{a771}-\u{a787}\u{a78b}-\u{a78e}\u{ab70}-\u{abbf}\u{fb00}-\u{fb06}\u{fb13}-\u{fb17}\u{ff21}-\u{ff3a}\u{ff41}-\u{ff5a}\u{10400}-\u{1044f}\u{104b0}-\u{104d3}\u{104d8}-\u{104fb}\u{10c80}-\u{10cb2}\u{10cc0}-\u{10cf2}\u{118a0}-\u{118df}\u{1e900}-\u{1e943}]+"),
      isolated("\\s?[!-/:-~！-／：-～‘-‟　-。]+"),
      isolated("\\s+$"),
      isolated(CJK),
      { type: "Digits", individual_digits: false },
      byteLevel(false),
    ),
  },
  {
    name: "deepseek-coder",
    preTokenizer: sequence(isolated("[\r\n]"), isolated("\\s?\\p{L}+"), isolated("\\s?\\p{P}+"), isolated(CJK), { type: "Digits", individual_digits: true }, byteLevel(false)),
  },
  {
    name: "deepseek-v3",
    preTokenizer: sequence(
      isolated("\\p{N}{1,3}"),
      isolated("[一-龥぀-ゟ゠-ヿ]+"),
      isolated("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"),
      byteLevel(false),
    ),
  },
];

let root: string;
beforeAll(async () => {
  root = await tempDir("cogen-pretok-");
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** A tiny random model around a tokenizer.json, converted to GGUF; the GGUF's path. */
async function ggufWith(name: string, tokenizer: Record<string, unknown>, config: Record<string, unknown> = {}): Promise<string> {
  const dir = path.join(root, name);
  const vocab = tokenizer.model as { vocab: Record<string, number> };
  const added = (tokenizer.added_tokens ?? []) as { id: number }[];
  const vocabSize = Math.max(...Object.values(vocab.vocab), ...added.map((t) => t.id)) + 1;
  await writeRandomLlama(dir, { hiddenSize: 8, intermediateSize: 16, numLayers: 1, numHeads: 2, numKvHeads: 2, vocabSize, seed: 1, tokenizer: { tokenizer, config } });
  const file = path.join(root, `${name}.gguf`);
  await convertHfToGguf(dir, file, { dtype: "f32" });
  return file;
}

/** The texts whose llama.cpp ids differ from Hugging Face's. */
async function mismatches(file: string, tokenizer: Record<string, unknown>, texts: readonly string[], special = false): Promise<string[]> {
  const reference = hf!.Tokenizer.fromString(JSON.stringify(tokenizer));
  const ours = await llamaCppTokenizeAll(file, texts, special);
  const out: string[] = [];
  for (let i = 0; i < texts.length; i++) {
    const theirs = (await reference.encode(texts[i], null, { addSpecialTokens: false })).getIds();
    if (JSON.stringify(theirs) !== JSON.stringify(ours[i])) {
      console.info(`${JSON.stringify(texts[i])}: HF ${JSON.stringify(theirs)} llama.cpp ${JSON.stringify(ours[i])}`);
      out.push(texts[i]);
    }
  }
  return out;
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await fs.readFile(file, "utf8")) as Record<string, unknown>;
}

async function preOf(file: string): Promise<string | undefined> {
  const gguf = await openGguf(file);
  try {
    return gguf.getString("tokenizer.ggml.pre");
  } finally {
    await gguf.close();
  }
}

describe("byte-level BPE pre-tokenizers: llama.cpp tokenizes as Hugging Face does", () => {
  it(`has a corpus of at least 200 strings`, () => {
    expect(TOKENIZER_CORPUS.length).toBeGreaterThanOrEqual(200);
  });

  for (const family of FAMILIES) {
    it.skipIf(!hf || !phi2.available)(`${family.name}: phi-2's vocabulary under the family's pre-tokenizer${hfNote}${phi2.skipNote}`, async () => {
      const tokenizer = await readJson(phi2.path);
      tokenizer.pre_tokenizer = family.preTokenizer;
      tokenizer.normalizer = family.normalizer ?? null;
      if (family.ignoreMerges) (tokenizer.model as Record<string, unknown>).ignore_merges = true;
      const file = await ggufWith(family.name, tokenizer);
      expect(await preOf(file)).toBe(family.name);
      expect(await mismatches(file, tokenizer, TOKENIZER_CORPUS)).toEqual([]);
      // The known difference: llama.cpp applies no normaliser, so text not already in NFC differs.
      if (family.normalizer) expect(await mismatches(file, tokenizer, ["cafe\u0301", "cafe"])).toEqual(["cafe\u0301"]);
      // GGUF → HF without the stored tokenizer.json: the rebuilt one splits text the same way.
      const rebuilt = tokenizerJsonFromVocab(vocabFromTokenizerJson(tokenizer, undefined, "tokenizer.json")).tokenizer;
      rebuilt.normalizer = tokenizer.normalizer;
      const [original, again] = [tokenizer, rebuilt].map((t) => hf!.Tokenizer.fromString(JSON.stringify(t)));
      for (const text of TOKENIZER_CORPUS) {
        const [a, b] = await Promise.all([original, again].map(async (t) => (await t.encode(text, null, { addSpecialTokens: false })).getIds()));
        expect(b, text).toEqual(a);
      }
    });
  }

  for (const [name, ref, expected] of [["phi-2", phi2, "phi-2"], ["falcon", falcon, "falcon"]] as const) {
    it.skipIf(!hf || !ref.available)(`${name}'s real tokenizer is named "${expected}" (structure and check-text hash agree)${hfNote}${ref.skipNote}`, async () => {
      const tokenizer = await readJson(ref.path);
      const file = await ggufWith(name, tokenizer);
      expect(await preOf(file)).toBe(expected);
      expect(await mismatches(file, tokenizer, TOKENIZER_CORPUS)).toEqual([]);
    });
  }
});

describe("byte-level BPE pre-tokenizers llama.cpp does not know are refused by name", () => {
  const base = { model: { type: "BPE", vocab: { a: 0, b: 1, ab: 2 }, merges: ["a b"] }, added_tokens: [] };
  const refused = (preTokenizer: object, normalizer: object | null = null) => {
    try {
      vocabFromTokenizerJson({ ...base, pre_tokenizer: preTokenizer, normalizer }, undefined, "tokenizer.json");
    } catch (error) {
      expect(error).toBeInstanceOf(InputFileError);
      return (error as Error).message;
    }
    throw new Error("accepted");
  };

  it("a Split regex of no known family", () => {
    expect(refused(sequence(isolated("\\p{L}+|\\p{N}{1,2}"), byteLevel(false)))).toMatch(/splits text as none of llama\.cpp's.*llama-bpe.*qwen2.*smollm/);
  });
  it("SmolLM's digits with a prefix space (not smollm, not gpt-2)", () => {
    expect(refused(sequence({ type: "Digits", individual_digits: true }, { ...byteLevel(true), add_prefix_space: true }))).toMatch(/adds a prefix space/);
  });
  it("digits split after the GPT-2 regex in a different order than any family", () => {
    expect(refused(sequence(byteLevel(true), { type: "Digits", individual_digits: true }))).toMatch(/splits text as none/);
  });
  it("a Whitespace pre-tokenizer, a removing Split, and a lowercasing normaliser", () => {
    expect(refused(sequence({ type: "Whitespace" }, byteLevel(false)))).toMatch(/Whitespace.*not one llama\.cpp implements/);
    expect(refused(sequence({ ...isolated("\\s+"), behavior: "Removed" }, byteLevel(false)))).toMatch(/not an isolating regex split/);
    expect(refused(byteLevel(true), { type: "Lowercase" })).toMatch(/normalizer.*Lowercase/);
  });
  it("no ByteLevel at all", () => {
    expect(refused(isolated("\\p{L}+"))).toMatch(/ByteLevel/);
  });
  it("a SmolLM-style Sequence[Digits, ByteLevel] is smollm, never gpt-2", () => {
    const vocab = vocabFromTokenizerJson({ ...base, pre_tokenizer: sequence({ type: "Digits", individual_digits: true }, byteLevel(true)) }, undefined, "tokenizer.json");
    expect(vocab.pre).toBe("smollm");
  });
});

describe("SentencePiece-style byte-fallback tokenizers: llama.cpp tokenizes as Hugging Face does", () => {
  // Hugging Face's Metaspace (prepend_scheme "first") prepends "▁" only when the text does not
  // already start with a space; llama.cpp's add_space_prefix always does. The texts that start
  // with a space are the known, documented difference, and the only one.
  const startsWithSpace = (text: string) => text.startsWith(" ");
  const variants: [string, (t: Record<string, unknown>) => void, boolean, (text: string) => boolean][] = [
    ["Phi-3-mini as published (Prepend ▁ normaliser: space prefix)", () => undefined, true, () => false],
    ["no space prefix (Replace-only normaliser)", (t) => (t.normalizer = { type: "Sequence", normalizers: [{ type: "Replace", pattern: { String: " " }, content: "▁" }] }), false, () => false],
    [
      "Metaspace pre-tokenizer, prepend_scheme first (newer Llama/Mistral files)",
      (t) => {
        t.normalizer = null;
        t.pre_tokenizer = { type: "Metaspace", replacement: "▁", prepend_scheme: "first", split: false };
        t.decoder = { type: "Metaspace", replacement: "▁", prepend_scheme: "first", split: false };
      },
      true,
      startsWithSpace,
    ],
  ];
  for (const [what, change, prefix, knownDifference] of variants) {
    it.skipIf(!hf || !phi3.available)(`${what}${hfNote}${phi3.skipNote}`, async () => {
      const tokenizer = await readJson(phi3.path);
      change(tokenizer);
      const file = await ggufWith(`phi3-${prefix}-${what.length}`, tokenizer);
      const gguf = await openGguf(file);
      expect(gguf.getString("tokenizer.ggml.model")).toBe("llama");
      expect(gguf.metadata.get("tokenizer.ggml.add_space_prefix")?.value).toBe(prefix);
      await gguf.close();
      const expected = TOKENIZER_CORPUS.filter(knownDifference);
      expect(await mismatches(file, tokenizer, TOKENIZER_CORPUS)).toEqual(expected);
    });
  }

  it.skipIf(!hf || !phi3.available)(`added tokens in the text become their ids in both${hfNote}${phi3.skipNote}`, async () => {
    const tokenizer = await readJson(phi3.path);
    const added = (tokenizer.added_tokens as { content: string }[]).map((t) => t.content);
    expect(added.length).toBeGreaterThan(5);
    const texts = TOKENIZER_CORPUS.slice(0, 60).map((text, i) => `${added[i % added.length]}${text}${added[(i + 3) % added.length]}\n${text.slice(0, 10)}`);
    // llama.cpp strips the whitespace after Phi-3's rstrip tokens only for models whose
    // general.name contains "phi-3"/"phi3" (it keeps no per-token strip flags in GGUF), and only
    // ASCII whitespace: a no-break space right after such a token is the one known difference.
    const file = await ggufWith("phi3-added", tokenizer);
    const afterStrip = texts.filter((t) => /\|>\n\u00a0/.test(t));
    expect(await mismatches(file, tokenizer, texts, true)).toEqual(afterStrip);
  });
});

describe("BOS/EOS from the post-processor when tokenizer_config.json does not say (Llama 3 style)", () => {
  const tokenizer = (single: object[]) => ({
    model: { type: "BPE", vocab: { a: 0, b: 1, "<|begin_of_text|>": 2, "<|end_of_text|>": 3 }, merges: [] },
    added_tokens: [{ id: 2, content: "<|begin_of_text|>", special: true }, { id: 3, content: "<|end_of_text|>", special: true }],
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, use_regex: true },
    post_processor: { type: "TemplateProcessing", single, special_tokens: { "<|begin_of_text|>": { id: "<|begin_of_text|>", ids: [2] }, "<|end_of_text|>": { id: "<|end_of_text|>", ids: [3] } } },
  });
  const bos = { SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } };
  const eos = { SpecialToken: { id: "<|end_of_text|>", type_id: 0 } };
  const text = { Sequence: { id: "A", type_id: 0 } };

  it("a template that adds BOS before the text", () => {
    const vocab = vocabFromTokenizerJson(tokenizer([bos, text]), { bos_token: "<|begin_of_text|>" }, "tokenizer.json");
    expect([vocab.addBos, vocab.addEos, vocab.bosId]).toEqual([true, false, 2]);
  });
  it("a template that adds EOS after it; tokenizer_config.json's own flags win", () => {
    expect(vocabFromTokenizerJson(tokenizer([text, eos]), {}, "tokenizer.json").addEos).toBe(true);
    expect(vocabFromTokenizerJson(tokenizer([bos, text]), { add_bos_token: false }, "tokenizer.json").addBos).toBe(false);
  });
});
