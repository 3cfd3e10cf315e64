import { bytesToByteLevel } from "../formats/hf/byte-level.js";

/**
 * A small BPE trainer: counts words, then repeatedly merges the most frequent adjacent pair
 * (ties broken by the pair's text, so training is deterministic). Two flavours, matching the two
 * vocabularies llama.cpp runs:
 * - "byte-level": GPT-2 pre-tokenization, symbols are the 256 byte-level characters;
 * - "byte-fallback": SentencePiece style, words start with "▁" in place of a space, symbols are
 *   characters (anything missing from the vocabulary falls back to `<0xXX>` byte tokens).
 */
export type BpeFlavour = "byte-level" | "byte-fallback";

export interface TrainedBpe {
  flavour: BpeFlavour;
  /** Base symbols first (bytes or characters), then one token per merge, in merge order. */
  symbols: string[];
  merges: [string, string][];
}

/** GPT-2's pre-tokenizer pattern (contractions, letters, numbers, other, whitespace). */
export const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export function splitWords(text: string, flavour: BpeFlavour): string[] {
  if (flavour === "byte-level") {
    const encoder = new TextEncoder();
    return (text.match(GPT2_PATTERN) ?? []).map((w) => bytesToByteLevel(encoder.encode(w)));
  }
  return text.split(/(?= )/).map((w) => w.replaceAll(" ", "▁")).filter((w) => w.length > 0);
}

export function trainBpe(text: string, numMerges: number, flavour: BpeFlavour, minCharCount = 2): TrainedBpe {
  const wordCounts = new Map<string, number>();
  for (const word of splitWords(text, flavour)) wordCounts.set(word, (wordCounts.get(word) ?? 0) + 1);

  const base = new Set<string>();
  if (flavour === "byte-level") {
    for (let b = 0; b < 256; b++) base.add(bytesToByteLevel(Uint8Array.of(b)));
  } else {
    const charCounts = new Map<string, number>();
    for (const [word, count] of wordCounts) for (const ch of word) charCounts.set(ch, (charCounts.get(ch) ?? 0) + count);
    for (const [ch, count] of [...charCounts].sort((a, b) => (a[0] < b[0] ? -1 : 1))) if (count >= minCharCount) base.add(ch);
  }

  const words = [...wordCounts].map(([word, count]) => ({ symbols: [...word], count }));
  const merges: [string, string][] = [];
  for (let m = 0; m < numMerges; m++) {
    const pairs = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        if (!base.has(symbols[i][0]) || !base.has(symbols[i + 1][0])) continue;
        const key = symbols[i] + "\u0000" + symbols[i + 1];
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    }
    let best: string | undefined;
    let bestCount = 1;
    for (const [key, count] of pairs) {
      if (count > bestCount || (count === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = count;
      }
    }
    if (best === undefined) break;
    const [a, b] = best.split("\u0000");
    merges.push([a, b]);
    for (const word of words) {
      const s = word.symbols;
      for (let i = 0; i + 1 < s.length; i++) {
        if (s[i] === a && s[i + 1] === b) s.splice(i, 2, a + b);
      }
    }
  }
  const symbols = [...base];
  for (const [a, b] of merges) if (!symbols.includes(a + b)) symbols.push(a + b);
  return { flavour, symbols, merges };
}

/** A Hugging Face tokenizer.json (and tokenizer_config.json) for a trained BPE. */
export function tokenizerFiles(bpe: TrainedBpe): { tokenizer: Record<string, unknown>; config: Record<string, unknown> } {
  if (bpe.flavour === "byte-level") {
    const vocab: Record<string, number> = {};
    bpe.symbols.forEach((s, i) => (vocab[s] = i));
    const eos = "<|endoftext|>";
    const eosId = bpe.symbols.length;
    return {
      tokenizer: {
        version: "1.0",
        added_tokens: [{ id: eosId, content: eos, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
        normalizer: null,
        pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
        post_processor: null,
        decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
        model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: bpe.merges },
      },
      config: { bos_token: eos, eos_token: eos, unk_token: null, add_bos_token: false, add_eos_token: false },
    };
  }
  const specials = ["<unk>", "<s>", "</s>"];
  const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  const vocabList = [...specials, ...bytes, ...bpe.symbols];
  const vocab: Record<string, number> = {};
  vocabList.forEach((s, i) => (vocab[s] = i));
  return {
    tokenizer: {
      version: "1.0",
      added_tokens: specials.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
      normalizer: { type: "Replace", pattern: { String: " " }, content: "▁" },
      pre_tokenizer: null,
      post_processor: null,
      decoder: { type: "Sequence", decoders: [{ type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }] },
      model: { type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: bpe.merges },
    },
    config: { bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>", add_bos_token: false, add_eos_token: false },
  };
}
