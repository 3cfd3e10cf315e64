/**
 * Hashed n-gram TF-IDF features of short texts: word unigrams and bigrams plus character 3- to
 * 5-grams, hashed into a fixed number of buckets (no vocabulary to store), sublinear term
 * frequency, IDF from the indexed texts, L2-normalised. Sparse vectors as sorted index/value
 * arrays. Hashes are computed incrementally over the text (no substring per n-gram), so a
 * request's vector costs a few tens of microseconds.
 */
export interface SparseVector {
  indices: Uint32Array;
  values: Float32Array;
}

export const FEATURE_BUCKETS = 1 << 18;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a continued from `h` over text[start, end): fnv(a + b) = fnvFrom(fnv(a), b). */
function fnvFrom(h: number, text: string, start = 0, end = text.length): number {
  for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h;
}

const WORD_PREFIX = fnvFrom(FNV_OFFSET, "w:");
const BIGRAM_PREFIX = fnvFrom(FNV_OFFSET, "b:");
const CHAR_PREFIX = fnvFrom(FNV_OFFSET, "c:");
const SPACE = " ".charCodeAt(0);

/** Calls `add(bucket)` once per term occurrence of the text (word 1–2-grams, char 3–5-grams). */
function forEachTerm(text: string, buckets: number, add: (bucket: number) => void): void {
  const normalized = text.toLowerCase().replace(/\s+/g, " ").trim();
  const words = normalized.match(/[\p{L}\p{N}]+/gu) ?? [];
  for (let i = 0; i < words.length; i++) {
    add((fnvFrom(WORD_PREFIX, words[i]) >>> 0) % buckets);
    if (i > 0) add((fnvFrom(Math.imul(fnvFrom(BIGRAM_PREFIX, words[i - 1]) ^ SPACE, FNV_PRIME), words[i]) >>> 0) % buckets);
  }
  const padded = ` ${normalized} `;
  for (let i = 0; i + 3 <= padded.length; i++) {
    let h = fnvFrom(CHAR_PREFIX, padded, i, i + 2);
    for (let n = 3; n <= 5 && i + n <= padded.length; n++) {
      h = Math.imul(h ^ padded.charCodeAt(i + n - 1), FNV_PRIME);
      add((h >>> 0) % buckets);
    }
  }
}

/** Raw hashed term counts of a text. */
export function termCounts(text: string, buckets = FEATURE_BUCKETS): Map<number, number> {
  const counts = new Map<number, number>();
  forEachTerm(text, buckets, (h) => counts.set(h, (counts.get(h) ?? 0) + 1));
  return counts;
}

/** Digits of the radix sort of bucket ids: two passes for the default 2^18 buckets. */
const RADIX_BITS = 9;
const RADIX = 1 << RADIX_BITS;

/**
 * Term counts as parallel arrays sorted by bucket: counted in a reusable dense scratch array of
 * one byte per bucket (a quarter of the cache misses of 32-bit counters), no Map; the rare counts
 * past 255 carry over into `overflow`.
 */
class TermCounter {
  private readonly counts: Uint8Array;
  private readonly overflow = new Map<number, number>();
  private touched = new Uint32Array(1024);
  private scratch = new Uint32Array(1024);
  private readonly histogram = new Uint32Array(RADIX);

  constructor(readonly buckets: number) {
    this.counts = new Uint8Array(buckets);
  }

  count(text: string): { buckets: Uint32Array; counts: Uint32Array } {
    let n = 0;
    forEachTerm(text, this.buckets, (h) => {
      const count = this.counts[h];
      if (count === 255) {
        this.overflow.set(h, (this.overflow.get(h) ?? 0) + 1);
        return;
      }
      this.counts[h] = count + 1;
      if (count === 0) {
        if (n === this.touched.length) {
          const grown = new Uint32Array(n * 2);
          grown.set(this.touched);
          this.touched = grown;
          this.scratch = new Uint32Array(n * 2);
        }
        this.touched[n++] = h;
      }
    });
    const buckets = this.sortedTouched(n);
    const counts = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      counts[i] = this.counts[buckets[i]];
      this.counts[buckets[i]] = 0;
    }
    if (this.overflow.size > 0) {
      for (let i = 0; i < n; i++) counts[i] += this.overflow.get(buckets[i]) ?? 0;
      this.overflow.clear();
    }
    return { buckets, counts };
  }

  /**
   * The first n touched buckets in ascending order, by an LSD radix sort (TypedArray#sort was
   * the largest cost of building an index: it compares boxed numbers).
   */
  private sortedTouched(n: number): Uint32Array {
    let from = this.touched;
    let to = this.scratch;
    const histogram = this.histogram;
    for (let shift = 0; 2 ** shift < this.buckets; shift += RADIX_BITS) {
      histogram.fill(0);
      for (let i = 0; i < n; i++) histogram[(from[i] >>> shift) & (RADIX - 1)]++;
      let sum = 0;
      for (let d = 0; d < RADIX; d++) {
        const count = histogram[d];
        histogram[d] = sum;
        sum += count;
      }
      for (let i = 0; i < n; i++) to[histogram[(from[i] >>> shift) & (RADIX - 1)]++] = from[i];
      [from, to] = [to, from];
    }
    return from.slice(0, n);
  }
}

/** Sublinear term frequency 1 + ln(count) for the counts most terms have: Math.log per term was a tenth of indexing. */
const SUBLINEAR_TF = Float64Array.from({ length: 256 }, (_, count) => 1 + Math.log(count));

export class TfIdf {
  private readonly idf: Float32Array;
  private readonly counter: TermCounter;

  /** Fit document frequencies on `texts` (the indexed items); `vectors` are theirs, in order. */
  readonly vectors: SparseVector[];
  /**
   * The same vectors in one pair of flat arrays, text after text (`vectors` are views into them):
   * text i's features are at [vectorStart[i], vectorStart[i + 1]) of allIndices/allValues.
   */
  readonly vectorStart: Uint32Array;
  readonly allIndices: Uint32Array;
  readonly allValues: Float32Array;
  /** How many of the fitted texts have each bucket (an inverted index sizes its posting lists by it). */
  readonly documentFrequency: Uint32Array;

  constructor(texts: readonly string[], readonly buckets = FEATURE_BUCKETS) {
    this.counter = new TermCounter(buckets);
    const counted = texts.map((text) => this.counter.count(text));
    const df = new Uint32Array(buckets);
    for (const c of counted) for (const h of c.buckets) df[h]++;
    this.idf = new Float32Array(buckets);
    const n = texts.length;
    for (let h = 0; h < buckets; h++) this.idf[h] = Math.log((1 + n) / (1 + df[h])) + 1;
    this.documentFrequency = df;
    this.vectorStart = new Uint32Array(n + 1);
    for (let i = 0; i < n; i++) this.vectorStart[i + 1] = this.vectorStart[i] + counted[i].buckets.length;
    this.allIndices = new Uint32Array(this.vectorStart[n]);
    this.allValues = new Float32Array(this.vectorStart[n]);
    this.vectors = counted.map((c, i) => {
      const indices = this.allIndices.subarray(this.vectorStart[i], this.vectorStart[i + 1]);
      indices.set(c.buckets);
      return this.weigh(c, { indices, values: this.allValues.subarray(this.vectorStart[i], this.vectorStart[i + 1]) });
    });
  }

  vector(text: string): SparseVector {
    const counted = this.counter.count(text);
    return this.weigh(counted, { indices: counted.buckets, values: new Float32Array(counted.buckets.length) });
  }

  /** Fills `into.values` with the weights of the counted terms (whose buckets `into.indices` lists). */
  private weigh({ buckets, counts }: { buckets: Uint32Array; counts: Uint32Array }, into: SparseVector): SparseVector {
    const { values } = into;
    let norm = 0;
    for (let i = 0; i < buckets.length; i++) {
      const count = counts[i];
      values[i] = (count < 256 ? SUBLINEAR_TF[count] : 1 + Math.log(count)) * this.idf[buckets[i]];
      norm += values[i] * values[i];
    }
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < values.length; i++) values[i] /= norm;
    return into;
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
