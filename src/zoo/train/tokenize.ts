import * as path from "node:path";
import { InputFileError } from "../../core/errors.js";
import { bytesToByteLevel } from "../../formats/hf/byte-level.js";
import { vocabTokenBytes } from "../../formats/hf/token-bytes.js";
import { vocabFromTokenizerJson, type GgufVocab } from "../../formats/hf/tokenizer.js";
import { GPT2_PATTERN, type BpeFlavour } from "../bpe-train.js";
import { readJsonObject, readOptionalJsonObject } from "../../core/json-file.js";

/**
 * Text → token ids for the tokenizers cogen trains (src/zoo/bpe-train.ts), computed exactly as
 * llama.cpp computes them for the converted GGUF, so a model is trained on the ids it will see:
 * - byte-level (GGUF `gpt2`): GPT-2 pre-tokenization, bytes mapped to printable characters, then
 *   the merges applied lowest rank first (leftmost on ties);
 * - byte fallback (GGUF `llama`): spaces become "▁", then llama.cpp's SentencePiece-style loop:
 *   repeatedly join the adjacent pair whose concatenation is the vocabulary token with the highest
 *   score (leftmost on ties), scores being those the converter derives from the merge order;
 *   characters outside the vocabulary become `<0xXX>` byte tokens.
 * Special-token text in the input is not treated specially (as llama.cpp's tokenize without
 * special tokens does).
 */
export interface TokenizerFiles {
  tokenizer: Record<string, unknown>;
  config: Record<string, unknown>;
}

export interface BpeTokenizer {
  readonly flavour: BpeFlavour;
  /** Number of token ids (the largest id + 1). */
  readonly size: number;
  /** The tokenizer.json / tokenizer_config.json objects (written next to exported weights). */
  readonly files: TokenizerFiles;
  readonly vocab: GgufVocab;
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** The UTF-8 bytes one token stands for (control tokens stand for none). */
  tokenBytes(id: number): Uint8Array;
}

const SPACE = "▁";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function bpeTokenizer(files: TokenizerFiles, source = "tokenizer.json"): BpeTokenizer {
  const vocab = vocabFromTokenizerJson(files.tokenizer, files.config, source);
  const flavour: BpeFlavour = vocab.model === "gpt2" ? "byte-level" : "byte-fallback";
  const idOf = new Map<string, number>();
  vocab.tokens.forEach((t, i) => {
    if (!idOf.has(t)) idOf.set(t, i);
  });
  const bytesOf = vocab.tokens.map((_, id) => vocabTokenBytes(vocab, id));
  const encodeWord = flavour === "byte-level" ? byteLevelWordEncoder(vocab, idOf, source) : spmWordEncoder(vocab, idOf, source);
  const cache = new Map<string, number[]>();
  const cached = (word: string): number[] => {
    let ids = cache.get(word);
    if (!ids) {
      ids = encodeWord(word);
      if (cache.size < 200_000) cache.set(word, ids);
    }
    return ids;
  };
  // Byte-fallback text can be cut before each "▁" when no token holds a "▁" after its start.
  const splittable = !vocab.tokens.some((t) => t.indexOf(SPACE, 1) > 0);

  return {
    flavour,
    size: vocab.tokens.length,
    files,
    vocab,
    encode(text) {
      const out: number[] = [];
      if (flavour === "byte-level") {
        for (const word of text.match(GPT2_PATTERN) ?? []) out.push(...cached(bytesToByteLevel(encoder.encode(word))));
        return out;
      }
      let normalized = text.replaceAll(" ", SPACE);
      if (vocab.addSpacePrefix && normalized.length > 0) normalized = SPACE + normalized;
      const words = splittable ? normalized.split(/(?=▁)/) : [normalized];
      for (const word of words) if (word.length > 0) out.push(...cached(word));
      return out;
    },
    decode(ids) {
      const parts: Uint8Array[] = [];
      for (const id of ids) {
        if (!(id >= 0 && id < bytesOf.length)) throw new RangeError(`token id ${id} is outside the vocabulary (${bytesOf.length})`);
        parts.push(bytesOf[id]);
      }
      return decoder.decode(concat(parts));
    },
    tokenBytes(id) {
      if (!(id >= 0 && id < bytesOf.length)) throw new RangeError(`token id ${id} is outside the vocabulary (${bytesOf.length})`);
      return bytesOf[id];
    },
  };
}

/** Read tokenizer.json (and tokenizer_config.json when present) from a model folder. */
export async function readBpeTokenizer(dir: string): Promise<BpeTokenizer> {
  const file = path.join(dir, "tokenizer.json");
  const tokenizer = await readJsonObject(file, "a trained tokenizer needs tokenizer.json");
  // tokenizer_config.json is optional; an unreadable or corrupt one is an error, not `{}`.
  const config = (await readOptionalJsonObject(path.join(dir, "tokenizer_config.json"))) ?? {};
  return bpeTokenizer({ tokenizer, config }, file);
}


/** GPT-2 style BPE on one pre-tokenized word (already in byte-level characters). */
function byteLevelWordEncoder(vocab: GgufVocab, idOf: Map<string, number>, source: string): (word: string) => number[] {
  const rank = new Map<string, number>();
  (vocab.merges ?? []).forEach((m, i) => {
    const [a, b] = m.split(" ");
    const key = a + "\u0000" + b;
    if (!rank.has(key)) rank.set(key, i);
  });
  return (word) => {
    const symbols = [...word];
    while (symbols.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const r = rank.get(symbols[i] + "\u0000" + symbols[i + 1]);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      symbols.splice(best, 2, symbols[best] + symbols[best + 1]);
    }
    return symbols.map((s) => {
      const id = idOf.get(s);
      if (id === undefined) throw new InputFileError(source, `byte-level symbol ${JSON.stringify(s)} is not in the vocabulary`);
      return id;
    });
  };
}

/** llama.cpp's SentencePiece-style merge loop with byte fallback, on one chunk of normalized text. */
function spmWordEncoder(vocab: GgufVocab, idOf: Map<string, number>, source: string): (word: string) => number[] {
  const scores = vocab.scores ?? vocab.tokens.map(() => 0);
  const byteIds: number[] = [];
  for (let b = 0; b < 256; b++) {
    const id = idOf.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    byteIds.push(id ?? -1);
  }
  return (word) => {
    const text = [...word];
    const n = text.length;
    const prev = text.map((_, i) => i - 1);
    const next = text.map((_, i) => (i + 1 < n ? i + 1 : -1));
    const heap = new BigramHeap();
    const tryAdd = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const joined = text[left] + text[right];
      const id = idOf.get(joined);
      if (id === undefined) return;
      heap.push({ left, right, score: scores[id], size: joined.length });
    };
    for (let i = 1; i < n; i++) tryAdd(i - 1, i);
    for (let top = heap.pop(); top; top = heap.pop()) {
      const { left, right } = top;
      if (text[left].length === 0 || text[right].length === 0 || text[left].length + text[right].length !== top.size) continue;
      text[left] += text[right];
      text[right] = "";
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      tryAdd(prev[left], left);
      tryAdd(left, next[left]);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0 && i < n; i = next[i]) {
      const id = idOf.get(text[i]);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      for (const b of encoder.encode(text[i])) {
        if (byteIds[b] < 0) throw new InputFileError(source, `byte-fallback vocabulary has no token for byte 0x${b.toString(16)}`);
        out.push(byteIds[b]);
      }
    }
    return out;
  };
}

interface Bigram { left: number; right: number; score: number; size: number }

/** Max-heap on score, then smallest left index (llama.cpp's order). */
class BigramHeap {
  private items: Bigram[] = [];
  private before(a: Bigram, b: Bigram): boolean {
    return a.score > b.score || (a.score === b.score && a.left < b.left);
  }
  push(item: Bigram): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }
  pop(): Bigram | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && this.before(items[l], items[best])) best = l;
        if (r < items.length && this.before(items[r], items[best])) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best], items[i]];
        i = best;
      }
    }
    return top;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
