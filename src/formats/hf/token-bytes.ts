import { byteLevelToBytes } from "./byte-level.js";
import { TokenType, type GgufVocab } from "./tokenizer.js";

const SPACE = "▁";
const encoder = new TextEncoder();

/**
 * The raw bytes one vocabulary entry stands for when decoded: byte-level (GGUF `gpt2`) tokens
 * map their characters back to bytes; SentencePiece (`llama`) byte tokens `<0xXX>` are one byte
 * and "▁" is a space; control, unknown and unused tokens decode to nothing. A token may hold
 * part of a UTF-8 character, which is why this is bytes and not text.
 */
export function vocabTokenBytes(vocab: GgufVocab, id: number): Uint8Array {
  const text = vocab.tokens[id];
  const type = vocab.tokenTypes[id];
  if (text === undefined || type === TokenType.control || type === TokenType.unknown || type === TokenType.unused) return new Uint8Array(0);
  if (vocab.model === "gpt2") return type === TokenType.userDefined ? encoder.encode(text) : (byteLevelToBytes(text) ?? encoder.encode(text));
  if (type === TokenType.byte) return Uint8Array.of(parseInt(text.slice(3, 5), 16));
  return encoder.encode(text.replaceAll(SPACE, " "));
}
