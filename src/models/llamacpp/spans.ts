import { utf8Length } from "../../core/language-model.js";

const REPLACEMENT = "\uFFFD";
/** A character split over more tokens than this cannot be valid UTF-8 (at most 4 bytes). */
const MAX_SPLIT = 4;

/**
 * Byte boundaries of a text's tokens from their decoded pieces: token i spans
 * [bounds[i], bounds[i+1]). A piece that decodes to U+FFFD holds part of a character; such
 * tokens are decoded together (`decodeRange(from, to)`) until the character is whole, the
 * earlier ones get an empty span at the character's start and the last one the whole character.
 * A leading space the tokenizer adds (SentencePiece's space prefix) is not part of the text.
 */
export function tokenByteSpans(text: string, pieces: readonly string[], decodeRange: (from: number, to: number) => string): number[] {
  const bounds = [0];
  let at = 0;
  let runStart = -1;
  for (let i = 0; i < pieces.length; i++) {
    let piece = pieces[i];
    if (runStart < 0 && !piece.includes(REPLACEMENT)) {
      if (i === 0 && piece.startsWith(" ") && !text.startsWith(" ")) piece = piece.slice(1);
      at += utf8Length(piece);
      bounds.push(at);
      continue;
    }
    if (runStart < 0) runStart = i;
    const decoded = decodeRange(runStart, i + 1);
    const whole = !decoded.endsWith(REPLACEMENT) || i + 1 - runStart >= MAX_SPLIT || i === pieces.length - 1;
    if (!whole) {
      bounds.push(at);
      continue;
    }
    at += utf8Length(runStart === 0 && decoded.startsWith(" ") && !text.startsWith(" ") ? decoded.slice(1) : decoded);
    bounds.push(at);
    runStart = -1;
  }
  // Never past the text, whatever a tokenizer's normalisation did.
  const total = utf8Length(text);
  return bounds.map((b) => Math.min(b, total));
}
