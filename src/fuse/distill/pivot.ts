/**
 * The pivot's side of fusion: its tokenizer (from a Hugging Face folder or a GGUF file), the map
 * from decoded token text to pivot id that source candidates are mapped through, and a text's
 * pivot tokens with their byte spans.
 */
import { promises as fs } from "node:fs";
import { InputFileError } from "../../core/errors.js";
import { vocabFromMetadata } from "../../formats/convert/gguf-metadata.js";
import { openGguf } from "../../formats/gguf/reader.js";
import { TokenType, tokenizerJsonFromVocab } from "../../formats/hf/tokenizer.js";
import { bpeTokenizer, readBpeTokenizer, type BpeTokenizer } from "../../zoo/train/tokenize.js";
import type { PivotText } from "./fusion.js";

export interface Pivot {
  tokenizer: BpeTokenizer;
  /** Decoded token text → pivot id (a regular token before a byte token with the same text). */
  vocabulary: Map<string, number>;
}

const decoder = new TextDecoder();

/** Load the pivot's tokenizer: a model folder with tokenizer.json, or a GGUF file. */
export async function readPivotTokenizer(location: string): Promise<BpeTokenizer> {
  let stat;
  try {
    stat = await fs.stat(location);
  } catch {
    throw new InputFileError(location, "the pivot's tokenizer is missing (expected a model folder with tokenizer.json, or a GGUF file)");
  }
  if (stat.isDirectory()) return readBpeTokenizer(location);
  const gguf = await openGguf(location);
  try {
    return bpeTokenizer(tokenizerJsonFromVocab(vocabFromMetadata(gguf.metadata, location)), location);
  } finally {
    await (gguf as { close?: () => Promise<void> }).close?.();
  }
}

export function preparePivot(tokenizer: BpeTokenizer): Pivot {
  const vocabulary = new Map<string, number>();
  const types = tokenizer.vocab.tokenTypes;
  for (const pass of [false, true]) {
    for (let id = 0; id < tokenizer.size; id++) {
      if ((types[id] === TokenType.byte) !== pass) continue;
      const bytes = tokenizer.tokenBytes(id);
      if (bytes.length === 0) continue;
      const text = decoder.decode(bytes);
      if (text.includes("\uFFFD") || vocabulary.has(text)) continue;
      vocabulary.set(text, id);
    }
  }
  return { tokenizer, vocabulary };
}

export function pivotText(pivot: Pivot, text: string): PivotText {
  const ids = Int32Array.from(pivot.tokenizer.encode(text));
  const end = new Uint32Array(ids.length);
  const strings: string[] = [];
  let at = 0;
  for (let t = 0; t < ids.length; t++) {
    const bytes = pivot.tokenizer.tokenBytes(ids[t]);
    at += bytes.length;
    end[t] = at;
    strings.push(decoder.decode(bytes));
  }
  return { ids, strings, end };
}
