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
  const bytes = new TextEncoder().encode(text);
  let hash = FNV_OFFSET_BASIS;
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME) >>> 0;
  }
  return hash >>> 0;
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
