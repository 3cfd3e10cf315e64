/**
 * GPT-2's reversible byte ↔ printable-character mapping, used by byte-level BPE vocabularies
 * (tokenizer.json "ByteLevel" and GGUF `gpt2`): printable Latin-1 bytes map to themselves, the
 * other 68 bytes to U+0100 onwards, so every token is a printable string.
 */
const byteToChar: string[] = [];
const charToByte = new Map<string, number>();

{
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const char = String.fromCodePoint(printable(b) ? b : next++);
    byteToChar[b] = char;
    charToByte.set(char, b);
  }
}

export function bytesToByteLevel(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += byteToChar[b];
  return out;
}

/** The bytes a byte-level token stands for, or undefined if it has a character outside the map. */
export function byteLevelToBytes(token: string): Uint8Array | undefined {
  const out: number[] = [];
  for (const char of token) {
    const b = charToByte.get(char);
    if (b === undefined) return undefined;
    out.push(b);
  }
  return Uint8Array.from(out);
}

export const BYTE_LEVEL_ALPHABET: readonly string[] = byteToChar;
