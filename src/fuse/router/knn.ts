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
 * Nearest neighbours by TF-IDF cosine over labelled items, through an inverted index: per hashed
 * feature, the items that have it (compressed rows: item ids and weights). A query walks only the
 * posting lists of its own features, in ascending feature order, accumulating each touched item's
 * dot product in the same order as the sorted-merge `cosine` does — so similarities are
 * bit-identical to the linear scan's — then keeps the top k (similarity descending, index
 * ascending on ties, as the scan keeps them). Cost: the summed length of the query's posting
 * lists, which rare features keep far below items × features; memory: 8 bytes per (item, feature).
 */
export class KnnIndex {
  private readonly tfidf: TfIdf;
  private readonly vectors: SparseVector[];
  /** Posting list of bucket b: postingItems/postingValues[postingStart[b] .. postingStart[b + 1]). */
  private readonly postingStart: Uint32Array;
  private readonly postingItems: Uint32Array;
  private readonly postingValues: Float32Array;
  /** Per-query scratch: accumulated dot products (0 = untouched) and the items touched. */
  private readonly dots: Float64Array;
  /** Per-query scratch: each touched item's squared weights on the features walked so far. */
  private readonly squares: Float64Array;
  private readonly touched: Uint32Array;

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
    this.dots = new Float64Array(items.length);
    this.squares = new Float64Array(items.length);
    this.touched = new Uint32Array(items.length);
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
   * inverted index is tested and benchmarked against (tens of times slower on large indexes).
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

  private search(v: SparseVector, k: number, exclude?: number): Neighbour[] {
    if (k <= 0) return [];
    const { dots, squares, touched, postingStart, postingItems, postingValues } = this;
    const m = v.indices.length;
    // The query's features by weight, heaviest (rarest) first; restNorm[i]: the norm of features
    // i.. of the query, by Cauchy–Schwarz the most they can add to any item's dot product.
    const order = Uint32Array.from(v.indices.keys()).sort((a, b) => v.values[b] - v.values[a] || a - b);
    const restNorm = new Float64Array(m + 1);
    for (let i = m - 1; i >= 0; i--) restNorm[i] = restNorm[i + 1] + v.values[order[i]] ** 2;
    for (let i = 0; i <= m; i++) restNorm[i] = Math.sqrt(restNorm[i]);
    const restPostings = new Float64Array(m + 1);
    for (let i = m - 1; i >= 0; i--) restPostings[i] = restPostings[i + 1] + postingStart[v.indices[order[i]] + 1] - postingStart[v.indices[order[i]]];
    let n = 0;
    let done = m;
    for (let i = 0; i < m; i++) {
      // Once k items have partial sums above all that is left, no untouched item can reach the top k.
      // Stopping pays when rescoring the items still in reach costs less than walking the rest.
      const threshold = i % 4 === 0 && n >= k ? this.kthLargest(n, k, exclude) : 0;
      if (threshold > 0 && restNorm[i] + 2 * SLACK < threshold) {
        let inReach = 0;
        for (let t = 0; t < n; t++) {
          const item = touched[t];
          if (dots[item] + restNorm[i] * Math.sqrt(Math.max(0, 1 + SLACK - squares[item])) + 2 * SLACK >= threshold) inReach++;
        }
        if (inReach * 4 * m < restPostings[i]) {
          done = i;
          break;
        }
      }
      const j = order[i];
      const q = v.values[j];
      const end = postingStart[v.indices[j] + 1];
      for (let p = postingStart[v.indices[j]]; p < end; p++) {
        const item = postingItems[p];
        const x = postingValues[p];
        if (dots[item] === 0) touched[n++] = item;
        dots[item] += q * x;
        squares[item] += x * x;
      }
    }
    const threshold = n >= k ? this.kthLargest(n, k, exclude) : 0;
    // Each candidate's bound: its partial sum plus what the rest of the query can add given the
    // norm the item has left; the ones that can reach the threshold, best bound first, are
    // rescored with `cosine` (bit-identical to the scan) until no bound can beat the k-th.
    const candidates: number[] = [];
    const bounds = new Map<number, number>();
    for (let t = 0; t < n; t++) {
      const item = touched[t];
      const bound = dots[item] + restNorm[done] * Math.sqrt(Math.max(0, 1 + SLACK - squares[item])) + 2 * SLACK;
      dots[item] = 0;
      squares[item] = 0;
      if (item === exclude || bound < threshold) continue;
      candidates.push(item);
      bounds.set(item, bound);
    }
    candidates.sort((a, b) => bounds.get(b)! - bounds.get(a)!);
    const topItems: number[] = [];
    const topSims: number[] = [];
    for (const item of candidates) {
      const last = topItems.length - 1;
      if (topItems.length === k && bounds.get(item)! < topSims[last]) break;
      const s = cosine(v, this.vectors[item]);
      if (topItems.length === k && (s < topSims[last] || (s === topSims[last] && item > topItems[last]))) continue;
      let at = topItems.length;
      while (at > 0 && (topSims[at - 1] < s || (topSims[at - 1] === s && topItems[at - 1] > item))) at--;
      topItems.splice(at, 0, item);
      topSims.splice(at, 0, s);
      if (topItems.length > k) {
        topItems.pop();
        topSims.pop();
      }
    }
    // Fewer than k items share a feature (only possible without pruning; every other item is at
    // similarity 0): the scan fills up with the first of those in index order.
    const result = topItems.map((index, r) => ({ item: this.items[index], index, similarity: topSims[r] }));
    if (result.length < k) {
      const chosen = new Set(topItems);
      for (let i = 0; i < this.items.length && result.length < k; i++) {
        if (i !== exclude && !chosen.has(i)) result.push({ item: this.items[i], index: i, similarity: 0 });
      }
    }
    return result;
  }

  /** The k-th largest partial sum among the first n touched items (other than `exclude`). */
  private kthLargest(n: number, k: number, exclude?: number): number {
    const top = new Float64Array(k);
    let size = 0;
    for (let t = 0; t < n; t++) {
      const item = this.touched[t];
      if (item === exclude) continue;
      const s = this.dots[item];
      if (size === k && s <= top[k - 1]) continue;
      let at = size < k ? size++ : k - 1;
      while (at > 0 && top[at - 1] < s) {
        top[at] = top[at - 1];
        at--;
      }
      top[at] = s;
    }
    return size === k ? top[k - 1] : 0;
  }
}
