import * as path from "node:path";
import { InputFileError } from "../../core/errors.js";
import { readOptionalText } from "../../core/files.js";
import { readOptionalJsonFile, readOptionalJsonObject } from "../../core/json-file.js";
import { CHECK_TEXT_HASHES, checkTextHash, specialIds } from "./check-text.js";
import { familyOfName, familyOfSteps, flattenSequence, preTokenizerJson, preTokenizerSteps, PRE_TOKENIZER_FAMILIES } from "./pre-tokenizer.js";

/**
 * Tokenizer vocabularies as GGUF stores them, and their conversion from and to Hugging Face's
 * tokenizer.json. Two families are supported, as llama.cpp's converter supports them:
 * - byte-level BPE (GPT-2 style, `tokenizer.ggml.model = gpt2`): tokens, merges, token types;
 * - BPE with byte fallback (Llama/SentencePiece style, `tokenizer.ggml.model = llama`): tokens,
 *   scores, token types with `<0xXX>` byte tokens.
 */
export type GgufTokenizerModel = "gpt2" | "llama";

/** llama.cpp's token types. */
export const TokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface GgufVocab {
  model: GgufTokenizerModel;
  /** llama.cpp's pre-tokenizer name (`tokenizer.ggml.pre`), for gpt2 vocabularies. */
  pre?: string;
  tokens: string[];
  tokenTypes: number[];
  scores?: number[];
  merges?: string[];
  bosId?: number;
  eosId?: number;
  unkId?: number;
  padId?: number;
  addBos?: boolean;
  addEos?: boolean;
  addSpacePrefix?: boolean;
  chatTemplate?: string;
}

interface AddedToken { id: number; content: string; special?: boolean }

/** The families whose tokenizer.json sets `ignore_merges` (llama.cpp sets it for them by name). */
const IGNORES_MERGES = new Set(["llama-bpe", "tekken"]);

/** Convert a parsed tokenizer.json (plus optional tokenizer_config.json) to a GGUF vocabulary. */
export function vocabFromTokenizerJson(
  tokenizer: unknown,
  tokenizerConfig: Record<string, unknown> | undefined,
  file: string,
): GgufVocab {
  const fail = (problem: string): never => {
    throw new InputFileError(file, problem);
  };
  if (typeof tokenizer !== "object" || tokenizer === null) fail("tokenizer.json must be an object");
  const tok = tokenizer as Record<string, unknown>;
  const model = tok.model as Record<string, unknown> | undefined;
  if (!model || model.type !== "BPE") fail(`only BPE tokenizers are supported (model.type is ${JSON.stringify(model?.type)})`);
  const vocabObject = model!.vocab;
  if (typeof vocabObject !== "object" || vocabObject === null || Array.isArray(vocabObject)) fail("model.vocab must be an object");

  const added: AddedToken[] = Array.isArray(tok.added_tokens) ? (tok.added_tokens as AddedToken[]) : [];
  const byId = new Map<number, string>();
  for (const [text, id] of Object.entries(vocabObject as Record<string, unknown>)) {
    if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0) fail(`model.vocab["${text}"] is not a token id`);
    if (byId.has(id as number)) fail(`token id ${id} appears twice in model.vocab`);
    byId.set(id as number, text);
  }
  for (const token of added) {
    if (typeof token.id !== "number" || typeof token.content !== "string") fail("added_tokens entries need id and content");
    byId.set(token.id, token.content);
  }
  const size = Math.max(-1, ...byId.keys()) + 1;
  if (size === 0) fail("the vocabulary is empty");
  const tokens: string[] = [];
  for (let id = 0; id < size; id++) {
    const text = byId.get(id);
    if (text === undefined) fail(`token ids are not contiguous: id ${id} is missing`);
    tokens.push(text!);
  }

  const merges = parseMerges(model!.merges, fail);
  const byteFallback = model!.byte_fallback === true;
  const addedById = new Map(added.map((t) => [t.id, t]));
  const idOf = new Map(tokens.map((t, i) => [t, i]));
  const special = (key: string): number | undefined => {
    const value = tokenizerConfig?.[key];
    const text = typeof value === "string" ? value : (value as { content?: string } | undefined)?.content;
    return text !== undefined ? idOf.get(text) : undefined;
  };

  const vocab: GgufVocab = {
    model: byteFallback ? "llama" : "gpt2",
    tokens,
    tokenTypes: tokens.map((text, id) => {
      const addedToken = addedById.get(id);
      if (addedToken) return addedToken.special ? TokenType.control : TokenType.userDefined;
      if (byteFallback && /^<0x[0-9A-Fa-f]{2}>$/.test(text)) return TokenType.byte;
      if (byteFallback && text === model!.unk_token) return TokenType.unknown;
      return TokenType.normal;
    }),
    bosId: special("bos_token"),
    eosId: special("eos_token"),
    unkId: special("unk_token") ?? (typeof model!.unk_token === "string" ? idOf.get(model!.unk_token) : undefined),
    padId: special("pad_token"),
    // tokenizer_config.json's flags, else what the post-processor's template adds (Llama 3 has only the template).
    addBos: typeof tokenizerConfig?.add_bos_token === "boolean" ? tokenizerConfig.add_bos_token : templateAdds(tok.post_processor, "prefix"),
    addEos: typeof tokenizerConfig?.add_eos_token === "boolean" ? tokenizerConfig.add_eos_token : templateAdds(tok.post_processor, "suffix"),
    chatTemplate: chatTemplateOf(tokenizerConfig?.chat_template),
  };

  if (byteFallback) {
    // llama.cpp's SentencePiece-style tokenizer merges the adjacent pair with the highest score;
    // scoring each token by minus its place among the tokens the merges create reproduces BPE's
    // order (and stays the same when a token can be made by more than one merge).
    const scores = new Array<number>(tokens.length).fill(0);
    let created = 0;
    for (const [a, b] of merges) {
      const id = idOf.get(a + b);
      if (id !== undefined && scores[id] === 0) scores[id] = -++created;
    }
    vocab.scores = scores;
    vocab.addSpacePrefix = spaceHandling(tok, fail);
  } else {
    vocab.merges = merges.map(([a, b]) => `${a} ${b}`);
    vocab.pre = preTokenizerName(tok, fail);
  }
  return vocab;
}

/** Whether a TemplateProcessing post-processor adds special tokens before/after the text (undefined without a template). */
function templateAdds(processor: unknown, where: "prefix" | "suffix"): boolean | undefined {
  if (!flattenSequence(processor, "processors").some((p) => p.type === "TemplateProcessing")) return undefined;
  return specialIds(processor, where).length > 0;
}

function parseMerges(raw: unknown, fail: (p: string) => never): [string, string][] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) fail("model.merges must be a list");
  return (raw as unknown[]).map((entry, i) => {
    if (typeof entry === "string") {
      const parts = entry.split(" ");
      if (parts.length !== 2) fail(`merge ${i} ("${entry}") is not two space-separated tokens`);
      return [parts[0], parts[1]];
    }
    if (Array.isArray(entry) && entry.length === 2 && entry.every((p) => typeof p === "string")) return [entry[0], entry[1]];
    return fail(`merge ${i} is neither "a b" nor ["a", "b"]`);
  });
}

/** The space prefix of a SentencePiece-style tokenizer: a Prepend normaliser or a non-splitting Metaspace pre-tokenizer. */
function spaceHandling(tok: Record<string, unknown>, fail: (p: string) => never): boolean {
  const prepend = flattenSequence(tok.normalizer, "normalizers").some((n) => n.type === "Prepend" && n.prepend === "▁");
  const pre = flattenSequence(tok.pre_tokenizer);
  if (pre.length === 0) return prepend;
  const metaspace = pre[0];
  if (pre.length > 1 || metaspace.type !== "Metaspace" || metaspace.replacement !== "▁" || metaspace.split === true) {
    fail(`the pre-tokenizer ${JSON.stringify(tok.pre_tokenizer)} is not one llama.cpp's SentencePiece-style tokenizer implements (supported: none, or Metaspace "▁" without split)`);
  }
  const scheme = metaspace.prepend_scheme ?? (metaspace.add_prefix_space === false ? "never" : "always");
  return prepend || scheme !== "never";
}

/**
 * Name the pre-tokenizer as llama.cpp knows it (src/formats/hf/pre-tokenizer.ts), refusing any
 * other: llama.cpp would silently split text differently. Where convert_hf_to_gguf.py's
 * check-text hash of this very tokenizer is known, it must name the same family (it then picks
 * among the family's names, e.g. starcoder rather than smollm).
 */
function preTokenizerName(tok: Record<string, unknown>, fail: (p: string) => never): string {
  const known = PRE_TOKENIZER_FAMILIES.map((f) => `${f.name} (${f.examples})`).join(", ");
  const unsupportedNormalizer = flattenSequence(tok.normalizer, "normalizers").find((n) => n.type !== "NFC");
  if (unsupportedNormalizer) fail(`the normalizer ${JSON.stringify(unsupportedNormalizer)} is not one llama.cpp applies to byte-level BPE text (supported: none or NFC)`);
  const split = preTokenizerSteps(tok.pre_tokenizer);
  if ("problem" in split) return fail(`${split.problem}; llama.cpp's byte-level pre-tokenizers are ${known}`);
  const family = familyOfSteps(split.steps);
  if (!family) {
    return fail(`the pre-tokenizer ${JSON.stringify(tok.pre_tokenizer)} splits text as none of llama.cpp's byte-level pre-tokenizers do (${known})`);
  }
  const hash = checkTextHash({ tokenizer: tok, steps: split.steps });
  const hashed = hash === undefined ? undefined : CHECK_TEXT_HASHES[hash];
  if (hashed === undefined) return family.name;
  if (familyOfName(hashed) !== family) {
    return fail(`the pre-tokenizer's structure is llama.cpp's "${family.name}" but its check-text hash ${hash} is that of "${hashed}"`);
  }
  return hashed;
}

/**
 * Read tokenizer.json and tokenizer_config.json from a model folder (undefined if absent). The chat
 * template is tokenizer_config.json's, else the folder's chat_template.jinja, else
 * chat_template.json's (where newer transformers save it), as llama.cpp's converter takes it.
 */
export async function readVocab(dir: string): Promise<GgufVocab | undefined> {
  const file = path.join(dir, "tokenizer.json");
  const tokenizer = await readOptionalJsonFile(file);
  if (tokenizer === undefined) return undefined;
  const config = await readOptionalJsonObject(path.join(dir, "tokenizer_config.json"));
  const vocab = vocabFromTokenizerJson(tokenizer, config, file);
  if (config?.chat_template === undefined) {
    const jinja = await readOptionalText(path.join(dir, "chat_template.jinja"));
    const template = jinja ?? chatTemplateOf((await readOptionalJsonObject(path.join(dir, "chat_template.json")))?.chat_template);
    if (template !== undefined && template.trim() !== "") vocab.chatTemplate = template;
  }
  return vocab;
}

/** A chat template field: one template, or named ones of which the GGUF's is the one named "default". */
function chatTemplateOf(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (!Array.isArray(value)) return undefined;
  const named = value.find((t): t is { template: string } => (t as { name?: unknown })?.name === "default" && typeof (t as { template?: unknown }).template === "string");
  return named?.template;
}

/**
 * Rebuild a tokenizer.json (and tokenizer_config.json) from a GGUF vocabulary, for GGUF files
 * that do not carry their original tokenizer.json. Byte-fallback merges are recovered from the
 * scores: every split of a token into two vocabulary tokens, ordered by the token's score.
 */
export function tokenizerJsonFromVocab(vocab: GgufVocab): { tokenizer: Record<string, unknown>; config: Record<string, unknown> } {
  const vocabObject: Record<string, number> = {};
  const added: Record<string, unknown>[] = [];
  vocab.tokens.forEach((text, id) => {
    const type = vocab.tokenTypes[id];
    if (type === TokenType.control || type === TokenType.userDefined) {
      added.push({ id, content: text, single_word: false, lstrip: false, rstrip: false, normalized: type !== TokenType.control, special: type === TokenType.control });
    }
    vocabObject[text] = id;
  });
  const name = (id: number | undefined) => (id === undefined ? undefined : vocab.tokens[id]);
  const config: Record<string, unknown> = {
    bos_token: name(vocab.bosId) ?? null,
    eos_token: name(vocab.eosId) ?? null,
    unk_token: name(vocab.unkId) ?? null,
    pad_token: name(vocab.padId) ?? null,
    add_bos_token: vocab.addBos ?? false,
    add_eos_token: vocab.addEos ?? false,
    ...(vocab.chatTemplate ? { chat_template: vocab.chatTemplate } : {}),
  };
  if (vocab.model === "gpt2") {
    return {
      config,
      tokenizer: {
        version: "1.0",
        added_tokens: added,
        normalizer: null,
        pre_tokenizer: preTokenizerJson(vocab.pre),
        post_processor: null,
        decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
        model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: IGNORES_MERGES.has(familyOfName(vocab.pre ?? "")?.name ?? ""), vocab: vocabObject, merges: (vocab.merges ?? []).map((m) => m.split(" ")) },
      },
    };
  }
  const scores = vocab.scores ?? vocab.tokens.map(() => 0);
  const merges: [string, string, number][] = [];
  vocab.tokens.forEach((text, id) => {
    if (vocab.tokenTypes[id] !== TokenType.normal) return;
    const chars = [...text];
    for (let cut = 1; cut < chars.length; cut++) {
      const left = chars.slice(0, cut).join("");
      const right = chars.slice(cut).join("");
      if (left in vocabObject && right in vocabObject) merges.push([left, right, scores[id]]);
    }
  });
  merges.sort((a, b) => b[2] - a[2] || vocabObject[a[0]] - vocabObject[b[0]]);
  return {
    config,
    tokenizer: {
      version: "1.0",
      added_tokens: added,
      normalizer: {
        type: "Sequence",
        normalizers: [
          ...(vocab.addSpacePrefix ? [{ type: "Prepend", prepend: "▁" }] : []),
          { type: "Replace", pattern: { String: " " }, content: "▁" },
        ],
      },
      pre_tokenizer: null,
      post_processor: null,
      decoder: {
        type: "Sequence",
        decoders: [
          { type: "Replace", pattern: { String: "▁" }, content: " " },
          { type: "ByteFallback" },
          { type: "Fuse" },
          ...(vocab.addSpacePrefix ? [{ type: "Strip", content: " ", start: 1, stop: 0 }] : []),
        ],
      },
      model: { type: "BPE", dropout: null, unk_token: name(vocab.unkId) ?? null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab: vocabObject, merges: merges.map(([a, b]) => [a, b]) },
    },
  };
}
