/**
 * Hashed n-gram TF-IDF features of short texts: word unigrams and bigrams plus character 3- to
 * 5-grams, hashed into a fixed number of buckets (no vocabulary to store), sublinear term
 * frequency, IDF from the indexed texts, L2-normalised. Sparse vectors as sorted index/value
 * arrays. Cheap enough to classify a request in well under a millisecond.
 */
export interface SparseVector {
  indices: Uint32Array;
  values: Float32Array;
}

export const FEATURE_BUCKETS = 1 << 18;

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Raw hashed term counts of a text. */
export function termCounts(text: string, buckets = FEATURE_BUCKETS): Map<number, number> {
  const counts = new Map<number, number>();
  const add = (term: string) => {
    const h = fnv1a(term) % buckets;
    counts.set(h, (counts.get(h) ?? 0) + 1);
  };
  const normalized = text.toLowerCase().replace(/\s+/g, " ").trim();
  const words = normalized.match(/[\p{L}\p{N}]+/gu) ?? [];
  words.forEach((w, i) => {
    add("w:" + w);
    if (i > 0) add("b:" + words[i - 1] + " " + w);
  });
  const padded = ` ${normalized} `;
  for (let n = 3; n <= 5; n++) for (let i = 0; i + n <= padded.length; i++) add("c:" + padded.slice(i, i + n));
  return counts;
}

export class TfIdf {
  private readonly idf: Float32Array;

  /** Fit document frequencies on `texts` (the indexed items). */
  constructor(texts: readonly string[], readonly buckets = FEATURE_BUCKETS) {
    const df = new Uint32Array(buckets);
    for (const text of texts) for (const h of termCounts(text, buckets).keys()) df[h]++;
    this.idf = new Float32Array(buckets);
    const n = texts.length;
    for (let h = 0; h < buckets; h++) this.idf[h] = Math.log((1 + n) / (1 + df[h])) + 1;
  }

  vector(text: string): SparseVector {
    const entries = [...termCounts(text, this.buckets)].sort((a, b) => a[0] - b[0]);
    const indices = new Uint32Array(entries.length);
    const values = new Float32Array(entries.length);
    let norm = 0;
    entries.forEach(([h, count], i) => {
      indices[i] = h;
      values[i] = (1 + Math.log(count)) * this.idf[h];
      norm += values[i] * values[i];
    });
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < values.length; i++) values[i] /= norm;
    return { indices, values };
  }
}

/** Cosine similarity of two L2-normalised sparse vectors. */
export function cosine(a: SparseVector, b: SparseVector): number {
  let i = 0;
  let j = 0;
  let dot = 0;
  while (i < a.indices.length && j < b.indices.length) {
    if (a.indices[i] === b.indices[j]) dot += a.values[i++] * b.values[j++];
    else if (a.indices[i] < b.indices[j]) i++;
    else j++;
  }
  return dot;
}
