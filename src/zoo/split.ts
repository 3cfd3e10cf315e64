/**
 * The zoo's train / held-out split: stable, seeded, and decided by a key alone, so the same
 * headword lands on the same side in every domain and in every run.
 *
 *   held out  ⇔  fnv1a32(`zoo-split/${seed}/${key}`) mod 1000  <  heldOutPerMille
 *
 * FNV-1a (32-bit) runs over the UTF-8 bytes of that string; keys are normalised first (see
 * `splitKey`). With the default 100 per mille, about 10% of keys are held out.
 */

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
export const DEFAULT_HELD_OUT_PER_MILLE = 100;
export const DEFAULT_SPLIT_SEED = 0;

/** FNV-1a, 32 bits, over the UTF-8 bytes of `text`. */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET_BASIS;
  const step = (byte: number) => {
    hash = Math.imul(hash ^ byte, FNV_PRIME) >>> 0;
  };
  // ASCII (nearly every key) hashes its char codes directly; anything else goes through UTF-8.
  if (isAscii(text)) for (let i = 0; i < text.length; i++) step(text.charCodeAt(i));
  else for (const byte of encoder.encode(text)) step(byte);
  return hash >>> 0;
}

const encoder = new TextEncoder();

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Normalise a headword or passage key: lower case, underscores and runs of white space as one space. */
export function splitKey(key: string): string {
  return key.normalize("NFC").toLowerCase().replace(/[_\s]+/g, " ").trim();
}

export interface SplitOptions {
  seed?: number;
  /** Held-out share in thousandths (0..1000); default 100 (10%). */
  heldOutPerMille?: number;
}

export function isHeldOut(key: string, options: SplitOptions = {}): boolean {
  const seed = options.seed ?? DEFAULT_SPLIT_SEED;
  const perMille = options.heldOutPerMille ?? DEFAULT_HELD_OUT_PER_MILLE;
  return fnv1a32(`zoo-split/${seed}/${splitKey(key)}`) % 1000 < perMille;
}
