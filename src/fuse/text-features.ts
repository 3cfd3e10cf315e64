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

/** fnvFrom over code units codes[start, end). */
function fnvCodes(h: number, codes: Uint16Array, start: number, end: number): number {
  for (let i = start; i < end; i++) h = Math.imul(h ^ codes[i], FNV_PRIME);
  return h;
}

const WORD_PREFIX = fnvFrom(FNV_OFFSET, "w:");
const BIGRAM_PREFIX = fnvFrom(FNV_OFFSET, "b:");
const CHAR_PREFIX = fnvFrom(FNV_OFFSET, "c:");
const SPACE = " ".charCodeAt(0);

/** ASCII whitespace as JavaScript's \s and String#trim see it: tab, LF, VT, FF, CR, space. */
const isAsciiSpace = (c: number) => c === SPACE || (c >= 9 && c <= 13);
/** ASCII [\p{L}\p{N}] after lowercasing: a–z, 0–9. */
const isAsciiWordChar = (c: number) => (c >= 97 && c <= 122) || (c >= 48 && c <= 57);

/**
 * The hashed buckets of a text's term occurrences (word 1–2-grams, char 3–5-grams), written into
 * a reusable buffer: one pass over the text's code units, no substring or regex for ASCII text
 * (the common case; other text is normalised by the Unicode-aware definition first).
 */
class TermHasher {
  /** The normalised text padded with a space each side: lowercased, whitespace runs as one space, trimmed. */
  private codes = new Uint16Array(1024);
  /** Word spans in `codes`: start, end, start, end… */
  private spans = new Int32Array(256);
  /** The normalised text when it is not ASCII (words are then found by the Unicode regex). */
  private unicode: string | undefined;
  terms = new Int32Array(4096);

  /** h mod buckets as a mask when buckets is a power of two (else −1): `%` on a uint32 is a float division in V8. */
  private readonly mask: number;

  constructor(readonly buckets: number) {
    this.mask = (buckets & (buckets - 1)) === 0 ? buckets - 1 : -1;
  }

  private bucket(h: number): number {
    return this.mask >= 0 ? h & this.mask : (h >>> 0) % this.buckets;
  }

  /** Fills `terms` with one bucket per term occurrence; returns how many. */
  hash(text: string): number {
    const length = this.normalise(text);
    const words = this.findWords(length);
    const { codes, spans } = this;
    // Words and bigrams, plus 3 terms per code unit at most for the character n-grams.
    if (this.terms.length < 2 * words + 3 * length) this.terms = new Int32Array(2 * (2 * words + 3 * length));
    const terms = this.terms;
    let n = 0;
    let previous = 0;
    for (let w = 0; w < words; w++) {
      const start = spans[2 * w];
      const end = spans[2 * w + 1];
      terms[n++] = this.bucket(fnvCodes(WORD_PREFIX, codes, start, end));
      if (w > 0) terms[n++] = this.bucket(fnvCodes(Math.imul(previous ^ SPACE, FNV_PRIME), codes, start, end));
      previous = fnvCodes(BIGRAM_PREFIX, codes, start, end);
    }
    for (let i = 0; i + 3 <= length; i++) {
      let h = Math.imul(Math.imul(CHAR_PREFIX ^ codes[i], FNV_PRIME) ^ codes[i + 1], FNV_PRIME);
      for (let k = 2; k < 5 && i + k < length; k++) {
        h = Math.imul(h ^ codes[i + k], FNV_PRIME);
        terms[n++] = this.bucket(h);
      }
    }
    return n;
  }

  /** Writes ` ${normalised} ` into `codes`; returns its length. */
  private normalise(text: string): number {
    if (this.codes.length < text.length + 2) this.codes = new Uint16Array(2 * text.length + 2);
    const codes = this.codes;
    let length = 0;
    codes[length++] = SPACE;
    let ascii = true;
    let pendingSpace = false;
    this.unicode = undefined;
    for (let i = 0; i < text.length; i++) {
      let c = text.charCodeAt(i);
      if (c >= 128) {
        ascii = false;
        break;
      }
      if (isAsciiSpace(c)) {
        pendingSpace = length > 1;
        continue;
      }
      if (pendingSpace) codes[length++] = SPACE;
      pendingSpace = false;
      if (c >= 65 && c <= 90) c += 32;
      codes[length++] = c;
    }
    if (!ascii) {
      // Unicode: lowercasing can change the length; normalised by the definition itself.
      const normalised = text.toLowerCase().replace(/\s+/g, " ").trim();
      if (this.codes.length < normalised.length + 2) this.codes = new Uint16Array(2 * normalised.length + 2);
      length = 1;
      for (let i = 0; i < normalised.length; i++) this.codes[length++] = normalised.charCodeAt(i);
      this.unicode = normalised;
    }
    this.codes[length++] = SPACE;
    return length;
  }

  /** Writes the word spans ([\p{L}\p{N}]+ runs) of the normalised text into `spans`; returns how many. */
  private findWords(length: number): number {
    let words = 0;
    const add = (start: number, end: number) => {
      if (2 * words + 2 > this.spans.length) {
        const grown = new Int32Array(2 * this.spans.length);
        grown.set(this.spans);
        this.spans = grown;
      }
      this.spans[2 * words] = start;
      this.spans[2 * words + 1] = end;
      words++;
    };
    const codes = this.codes;
    if (this.unicode === undefined) {
      let start = -1;
      for (let i = 1; i < length; i++) {
        const inWord = isAsciiWordChar(codes[i]);
        if (inWord && start < 0) start = i;
        else if (!inWord && start >= 0) {
          add(start, i);
          start = -1;
        }
      }
    } else {
      for (const match of this.unicode.matchAll(/[\p{L}\p{N}]+/gu)) add(1 + match.index, 1 + match.index + match[0].length);
    }
    return words;
  }
}

/** Raw hashed term counts of a text. */
export function termCounts(text: string, buckets = FEATURE_BUCKETS): Map<number, number> {
  const hasher = new TermHasher(buckets);
  const n = hasher.hash(text);
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) counts.set(hasher.terms[i], (counts.get(hasher.terms[i]) ?? 0) + 1);
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
  private readonly hasher: TermHasher;
  private readonly counts: Uint8Array;
  private readonly overflow = new Map<number, number>();
  private touched = new Uint32Array(1024);
  private scratch = new Uint32Array(1024);
  private countsOut = new Uint32Array(1024);
  private readonly histogram = new Uint32Array(RADIX);

  constructor(readonly buckets: number) {
    this.counts = new Uint8Array(buckets);
    this.hasher = new TermHasher(buckets);
  }

  /** The text's distinct buckets ascending and their counts: views of scratch arrays, valid until the next call. */
  count(text: string): { buckets: Uint32Array; counts: Uint32Array } {
    const terms = this.hasher.hash(text);
    if (this.touched.length < terms) {
      this.touched = new Uint32Array(2 * terms);
      this.scratch = new Uint32Array(2 * terms);
      this.countsOut = new Uint32Array(2 * terms);
    }
    const { counts: byBucket, touched } = this;
    const termBuckets = this.hasher.terms;
    let n = 0;
    for (let t = 0; t < terms; t++) {
      const h = termBuckets[t];
      const count = byBucket[h];
      if (count === 255) {
        this.overflow.set(h, (this.overflow.get(h) ?? 0) + 1);
        continue;
      }
      byBucket[h] = count + 1;
      if (count === 0) touched[n++] = h;
    }
    const buckets = this.sortedTouched(n);
    const counts = this.countsOut.subarray(0, n);
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
    return from.subarray(0, n);
  }
}

const NON_ASCII = /[^\0-\x7f]/;

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
    const n = texts.length;
    // Every text's buckets, text after text, in one buffer sized by a bound on a text's terms (a
    // word and a bigram per two code units, three character n-grams per code unit, of the text
    // normalised: lowercasing at most doubles a non-ASCII text, İ → i̇); its counts wait in the
    // values' buffer, each overwritten by its weight. No arrays per text: 20,000 texts' worth was
    // ~90 MB of allocations, a full collection of the caller's heap.
    let capacity = 0;
    for (const text of texts) capacity += 4 * (NON_ASCII.test(text) ? 2 * text.length : text.length) + 16;
    const indices = new Uint32Array(capacity);
    const values = new Float32Array(capacity);
    const counts = new Uint32Array(values.buffer);
    const df = new Uint32Array(buckets);
    const start = new Uint32Array(n + 1);
    for (let i = 0; i < n; i++) {
      const counted = this.counter.count(texts[i]);
      const at = start[i];
      // (`set` past the end throws a RangeError: the bound can only be wrong loudly.)
      indices.set(counted.buckets, at);
      counts.set(counted.counts, at);
      for (const h of counted.buckets) df[h]++;
      start[i + 1] = at + counted.buckets.length;
    }
    this.idf = new Float32Array(buckets);
    for (let h = 0; h < buckets; h++) this.idf[h] = Math.log((1 + n) / (1 + df[h])) + 1;
    this.documentFrequency = df;
    this.vectorStart = start;
    this.allIndices = indices.subarray(0, start[n]);
    this.allValues = values.subarray(0, start[n]);
    this.vectors = texts.map((_, i) => {
      const these = this.allIndices.subarray(start[i], start[i + 1]);
      return this.weigh({ buckets: these, counts: counts.subarray(start[i], start[i + 1]) }, { indices: these, values: this.allValues.subarray(start[i], start[i + 1]) });
    });
  }

  vector(text: string): SparseVector {
    const counted = this.counter.count(text);
    return this.weigh(counted, { indices: counted.buckets.slice(), values: new Float32Array(counted.buckets.length) });
  }

  /** Fills `into.values` with the weights of the counted terms (whose buckets `into.indices` lists); `counts` may share `into.values`' memory. */
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
