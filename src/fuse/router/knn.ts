import { cosine, TfIdf, type SparseVector } from "../text-features.js";

/** An indexed evaluation item: its text, domain, and each expert's score on it. */
export interface LabelledItem {
  id: string;
  text: string;
  domain: string;
  /** expert id → score in [0, 1] (missing: not evaluated). */
  scores: Record<string, number>;
}

export interface Neighbour {
  item: LabelledItem;
  /** Position of the item in the index. */
  index: number;
  similarity: number;
}

/** Bound on the rounding of a dot product of unit vectors, far above float64's for a few thousand terms. */
const SLACK = 1e-9;

/**
 * Features are split by document frequency: those in fewer than BAND_EDGES[0] × items are
 * "rare" (short posting lists, always walked); the common ones fall in bands between successive
 * edges, whose contribution is bounded per item until walking a band costs less than rescoring
 * the items its bound lets through.
 */
const BAND_EDGES = [1 / 20, 1 / 10, 1 / 5, 2 / 5];
const BANDS = BAND_EDGES.length;
/** Items scored exactly per neighbour asked for, to set the floor: more raise it, and prune more. */
const FLOOR_ITEMS = 2;

/**
 * Nearest neighbours by TF-IDF cosine over labelled items, exactly as a linear scan finds them
 * (`scan`, the reference), through an inverted index with rank-safe pruning:
 *
 * 1. the query's rare features' posting lists are walked, accumulating partial dot products;
 * 2. the k items with the largest partial sums are scored exactly: the k-th of those is a floor
 *    θ under the true k-th similarity;
 * 3. each item's common features are bounded per band — by Cauchy–Schwarz on the band's norms,
 *    by Hölder (the item's largest weight times the query's heaviest weights, as many as the item
 *    has features in the band) and by the query's largest weight times the item's weight sum —
 *    and items whose partial sum plus bounds stays under θ are dropped; a band is walked instead
 *    of bounded while that is cheaper than rescoring the items its bound lets through;
 * 4. the survivors are rescored exactly, highest bound first, until no bound reaches the k-th
 *    similarity found.
 *
 * Exact scores use the sorted-merge order of `cosine` (ascending feature, float64 sums), so
 * similarities and tie order (index ascending) are bit-identical to the scan's. Memory: 8 bytes
 * per (item, feature) for the postings, 28 bytes per (item, band) for the bounds.
 */
export class KnnIndex {
  private readonly tfidf: TfIdf;
  private readonly vectors: SparseVector[];
  /** Posting list of bucket b: postingItems/postingValues[postingStart[b] .. postingStart[b + 1]). */
  private readonly postingStart: Uint32Array;
  private readonly postingItems: Uint32Array;
  private readonly postingValues: Float32Array;
  /** Document frequency at which each band starts. */
  private readonly bandStart: Uint32Array;
  /** Per (item, band), at item × BANDS + band: the norm, largest weight, sum and count of the item's weights in the band. */
  private readonly bandNorm: Float64Array;
  private readonly bandMax: Float64Array;
  private readonly bandSum: Float64Array;
  private readonly bandCount: Uint32Array;
  /** Mean number of features per item: the cost of rescoring one item, in posting steps. */
  private readonly rescoreCost: number;
  /** Per-query scratch: partial dot products of every item; the query as a dense vector. */
  private readonly partial: Float64Array;
  private readonly dense: Float32Array;
  /** Items the last query scored exactly (the scan scores them all): how well pruning worked. */
  lastScored = 0;
  /** Per-query scratch: 1 for the items already scored exactly. */
  private readonly scored: Uint8Array;

  constructor(readonly items: readonly LabelledItem[]) {
    this.tfidf = new TfIdf(items.map((i) => i.text));
    this.vectors = this.tfidf.vectors;
    const buckets = this.tfidf.buckets;
    const start = new Uint32Array(buckets + 1);
    for (const v of this.vectors) for (const h of v.indices) start[h + 1]++;
    for (let b = 0; b < buckets; b++) start[b + 1] += start[b];
    const fill = start.slice(0, buckets);
    this.postingItems = new Uint32Array(start[buckets]);
    this.postingValues = new Float32Array(start[buckets]);
    this.vectors.forEach((v, item) => {
      for (let j = 0; j < v.indices.length; j++) {
        const at = fill[v.indices[j]]++;
        this.postingItems[at] = item;
        this.postingValues[at] = v.values[j];
      }
    });
    this.postingStart = start;

    const n = items.length;
    this.bandStart = Uint32Array.from(BAND_EDGES, (edge) => Math.max(1, Math.ceil(edge * n)));
    this.bandNorm = new Float64Array(n * BANDS);
    this.bandMax = new Float64Array(n * BANDS);
    this.bandSum = new Float64Array(n * BANDS);
    this.bandCount = new Uint32Array(n * BANDS);
    let features = 0;
    this.vectors.forEach((v, item) => {
      features += v.indices.length;
      for (let j = 0; j < v.indices.length; j++) {
        const band = this.bandOf(v.indices[j]);
        if (band < 0) continue;
        const at = item * BANDS + band;
        const x = v.values[j];
        this.bandNorm[at] += x * x;
        this.bandMax[at] = Math.max(this.bandMax[at], x);
        this.bandSum[at] += x;
        this.bandCount[at]++;
      }
    });
    for (let at = 0; at < this.bandNorm.length; at++) this.bandNorm[at] = Math.sqrt(this.bandNorm[at]);
    this.rescoreCost = Math.max(1, features / Math.max(1, n));
    this.partial = new Float64Array(n);
    this.dense = new Float32Array(buckets);
    this.scored = new Uint8Array(n);
  }

  /** The `k` most similar items, most similar first; `exclude` skips one item (leave-one-out). */
  query(text: string, k: number, exclude?: number): Neighbour[] {
    return this.search(this.tfidf.vector(text), k, exclude);
  }

  queryIndex(index: number, k: number): Neighbour[] {
    return this.search(this.vectors[index], k, index);
  }

  /**
   * The same answer as `query` by a linear scan of every indexed vector: the reference the
   * inverted index is tested and benchmarked against (hundreds of times slower on large indexes).
   */
  scan(text: string, k: number, exclude?: number): Neighbour[] {
    const v = this.tfidf.vector(text);
    const best: Neighbour[] = [];
    for (let i = 0; i < this.vectors.length; i++) {
      if (i === exclude) continue;
      const similarity = cosine(v, this.vectors[i]);
      if (best.length < k || similarity > best[best.length - 1].similarity) {
        best.push({ item: this.items[i], index: i, similarity });
        best.sort((a, b) => b.similarity - a.similarity);
        if (best.length > k) best.pop();
      }
    }
    return best;
  }

  /** The band of a bucket's feature by its document frequency; −1: rare (or absent). */
  private bandOf(bucket: number): number {
    const df = this.postingStart[bucket + 1] - this.postingStart[bucket];
    let band = -1;
    while (band + 1 < BANDS && df >= this.bandStart[band + 1]) band++;
    return band;
  }

  private search(v: SparseVector, k: number, exclude?: number): Neighbour[] {
    const n = this.items.length;
    if (k <= 0 || n === 0) return [];
    const { partial, dense } = this;
    const q = new QueryBands(v, (bucket) => this.bandOf(bucket), (bucket) => this.postingStart[bucket + 1] - this.postingStart[bucket]);
    for (let j = 0; j < v.indices.length; j++) dense[v.indices[j]] = v.values[j];
    const top = new TopK(k);
    const scored: number[] = [];
    const score = (item: number) => {
      if (this.scored[item]) return;
      this.scored[item] = 1;
      scored.push(item);
      top.offer(item, this.exactDot(item));
    };
    try {
      partial.fill(0);
      for (const j of q.rare) this.walk(v.indices[j], v.values[j]);
      let candidates: Uint32Array = this.allItems(exclude);
      let bounds: Float64Array = new Float64Array(0);
      for (let band = 0; ; band++) {
        // A floor under the k-th similarity: the exact scores of the best partial sums.
        for (const item of this.largestPartials(candidates, FLOOR_ITEMS * k)) score(item);
        if (top.full && top.kth > 0) {
          ({ candidates, bounds } = this.bounded(candidates, q, band, top.kth));
          if (band === BANDS || candidates.length * this.rescoreCost <= q.walkCost[band]) break;
        } else if (band === BANDS) {
          // Fewer than k items share a feature with the query, and all of them are scored: the
          // scan fills up with the first others in index order, at similarity 0.
          for (let c = 0; c < candidates.length && !top.full; c++) if (!this.scored[candidates[c]]) top.offer(candidates[c], 0);
          return this.neighbours(top);
        }
        for (const j of q.inBand[band]) this.walk(v.indices[j], v.values[j]);
      }
      // Rescore the survivors, highest bound first, until no bound reaches the k-th similarity.
      const order = Uint32Array.from(candidates.keys()).sort((a, b) => bounds[b] - bounds[a] || candidates[a] - candidates[b]);
      for (const c of order) {
        if (bounds[c] < top.kth) break;
        score(candidates[c]);
      }
      return this.neighbours(top);
    } finally {
      for (let j = 0; j < v.indices.length; j++) dense[v.indices[j]] = 0;
      for (const item of scored) this.scored[item] = 0;
      this.lastScored = scored.length;
    }
  }

  /** Adds one query feature's contribution to the partial dot product of every item that has it. */
  private walk(bucket: number, weight: number): void {
    const { partial, postingItems, postingValues } = this;
    const end = this.postingStart[bucket + 1];
    for (let p = this.postingStart[bucket]; p < end; p++) partial[postingItems[p]] += weight * postingValues[p];
  }

  /**
   * The candidates whose partial sum plus the bounds of bands `from`.. reaches `floor`, with
   * that upper bound on their similarity (parallel arrays).
   */
  private bounded(candidates: Uint32Array, q: QueryBands, from: number, floor: number): { candidates: Uint32Array; bounds: Float64Array } {
    const kept = new Uint32Array(candidates.length);
    const bounds = new Float64Array(candidates.length);
    let size = 0;
    for (let c = 0; c < candidates.length; c++) {
      const item = candidates[c];
      let bound = this.partial[item] + SLACK;
      for (let band = from; band < BANDS; band++) {
        if (q.count[band] === 0) continue;
        const at = item * BANDS + band;
        const count = this.bandCount[at];
        if (count === 0) continue;
        const heaviest = q.heaviestSums[band];
        bound += Math.min(q.norm[band] * this.bandNorm[at], q.max[band] * this.bandSum[at], this.bandMax[at] * heaviest[Math.min(count, heaviest.length - 1)]);
      }
      if (bound >= floor) {
        kept[size] = item;
        bounds[size++] = bound;
      }
    }
    return { candidates: kept.subarray(0, size), bounds: bounds.subarray(0, size) };
  }

  /** The `count` candidates with the largest partial dot products (positive ones only), ties by index. */
  private largestPartials(candidates: Uint32Array, count: number): number[] {
    const top = new TopK(count);
    for (const item of candidates) if (this.partial[item] > 0) top.offer(item, this.partial[item]);
    return top.items;
  }

  private allItems(exclude?: number): Uint32Array {
    const all = new Uint32Array(this.items.length - (exclude === undefined ? 0 : 1));
    let size = 0;
    for (let item = 0; item < this.items.length; item++) if (item !== exclude) all[size++] = item;
    return all;
  }

  /**
   * The query's dot product with an item, summed as `cosine` sums it (ascending feature, float64):
   * the query sits in `dense`, where a feature it lacks adds an exact +0.
   */
  private exactDot(item: number): number {
    const { indices, values } = this.vectors[item];
    const dense = this.dense;
    let dot = 0;
    for (let j = 0; j < indices.length; j++) dot += dense[indices[j]] * values[j];
    return dot;
  }

  private neighbours(top: TopK): Neighbour[] {
    return top.items.map((index, r) => ({ item: this.items[index], index, similarity: top.scores[r] }));
  }
}

/** The query's features grouped by band, with per-band norms the bounds need. */
class QueryBands {
  /** Positions in the query vector of its rare features, and of each band's. */
  readonly rare: number[] = [];
  readonly inBand: number[][] = Array.from({ length: BANDS }, () => []);
  readonly count = new Uint32Array(BANDS);
  readonly norm = new Float64Array(BANDS);
  readonly max = new Float64Array(BANDS);
  /** heaviestSums[band][c]: the sum of the band's c heaviest query weights. */
  readonly heaviestSums: Float64Array[];
  /** Summed length of the posting lists of the band's query features: the cost of walking it. */
  readonly walkCost = new Float64Array(BANDS);

  constructor(v: SparseVector, bandOf: (bucket: number) => number, listLength: (bucket: number) => number) {
    for (let j = 0; j < v.indices.length; j++) {
      const band = bandOf(v.indices[j]);
      (band < 0 ? this.rare : this.inBand[band]).push(j);
      if (band >= 0) this.walkCost[band] += listLength(v.indices[j]);
    }
    this.heaviestSums = this.inBand.map((positions, band) => {
      const weights = Float64Array.from(positions, (j) => v.values[j]).sort().reverse();
      const sums = new Float64Array(weights.length + 1);
      for (let c = 0; c < weights.length; c++) sums[c + 1] = sums[c] + weights[c];
      this.count[band] = weights.length;
      this.max[band] = weights[0] ?? 0;
      this.norm[band] = Math.sqrt(weights.reduce((s, w) => s + w * w, 0));
      return sums;
    });
  }
}

/** The k best (item, score) pairs offered: score descending, index ascending on ties (the scan's order). */
class TopK {
  readonly items: number[] = [];
  readonly scores: number[] = [];

  constructor(private readonly k: number) {}

  get full(): boolean {
    return this.items.length === this.k;
  }

  /** The k-th score (once full). */
  get kth(): number {
    return this.scores[this.k - 1];
  }

  has(item: number): boolean {
    return this.items.includes(item);
  }

  offer(item: number, score: number): void {
    const { items, scores } = this;
    const last = items.length - 1;
    if (this.full && (score < scores[last] || (score === scores[last] && item > items[last]))) return;
    let at = items.length;
    while (at > 0 && (scores[at - 1] < score || (scores[at - 1] === score && items[at - 1] > item))) at--;
    items.splice(at, 0, item);
    scores.splice(at, 0, score);
    if (items.length > this.k) {
      items.pop();
      scores.pop();
    }
  }
}
