import { cosine, TfIdf, type SparseVector } from "../text-features.js";
import { PostingWalk } from "./posting-walk.js";

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
/** Float32 rounds to nearest within 2^−24 relative: scaling by this first makes the result an upper bound. */
const ROUND_UP = 1 + 2 ** -20;

/**
 * Features are split by document frequency: those in fewer than BAND_EDGES[0] × items are
 * "rare" (short posting lists, always walked); the common ones fall in bands between successive
 * edges, whose contribution is bounded per item until walking a band costs less than rescoring
 * the items its bound lets through. Two wide bands: with more (four, from 1/20), bounding cost
 * more than walking the extra lists saved (20k items: 1.5× slower per route).
 */
const BAND_EDGES = [1 / 10, 1 / 5];
const BANDS = BAND_EDGES.length;
/** Items scored exactly per neighbour asked for, to set the floor: more raise it, and prune more. */
const FLOOR_ITEMS = 2;
/** A candidate count that stands for every indexed item (before the first bound drops any). */
const ALL = -1;
/** The statistics kept per (item, band), at these offsets: float32, rounded up (they bound). */
const NORM = 0;
const MAX = 1;
const SUM = 2;
const STATS = 3;

/**
 * Nearest neighbours by TF-IDF cosine over labelled items, exactly as a linear scan finds them
 * (`scan`, the reference), through an inverted index with rank-safe pruning:
 *
 * 1. the query's rare features' posting lists are walked, accumulating partial dot products
 *    (never under the exact ones: with up to 65,536 items the postings' values are rounded up
 *    to 1/255 of their list's largest, and the partial sums serve only as bounds and to pick the
 *    floor);
 * 2. the k items with the largest partial sums are scored exactly: the k-th of those is a floor
 *    θ under the true k-th similarity;
 * 3. each item's common features are bounded per band — by Cauchy–Schwarz on the band's norms,
 *    by Hölder (the item's largest weight times the query's heaviest weights, as many as the item
 *    has features in the band) and by the query's largest weight times the item's weight sum —
 *    and items whose partial sum plus bounds stays under θ are dropped; the next band's exact
 *    contribution is then added — by walking its posting lists, or, when the items still in reach
 *    have fewer features in the band than the lists have entries, from those items' own features
 *    (kept band by band) — until rescoring the items left costs less;
 * 4. the survivors are rescored exactly, highest bound first, until no bound reaches the k-th
 *    similarity found.
 *
 * Exact scores use the sorted-merge order of `cosine` (ascending feature, float64 sums), so
 * similarities and tie order (index ascending) are bit-identical to the scan's. Memory: 2 bytes
 * per (item, feature) for the postings (8 past 65,536 items), 8 more per (item, common feature) for the band-major
 * copy, 32 bytes per (item, band) for the bounds.
 */
export class KnnIndex {
  private readonly tfidf: TfIdf;
  private readonly vectors: SparseVector[];
  /**
   * Every item's features, item after item (item i's at [featureStart[i], featureStart[i + 1])):
   * the TF-IDF's own flat arrays, read as Int32 (V8 reads Uint32Array elements as doubles, which
   * made every hot loop over them ~1.7× slower).
   */
  private readonly featureStart: Int32Array;
  private readonly featureBuckets: Int32Array;
  private readonly featureValues: Float32Array;
  /** Bucket b's posting list has postingStart[b + 1] − postingStart[b] entries (its document frequency). */
  private readonly postingStart: Int32Array;
  /** The postings, and the partial dot product of every item, with the loop that walks them. */
  private readonly postings: PostingWalk;
  /** Per (item, band), from (item × BANDS + band) × STATS: the norm, largest weight and sum of the item's weights in the band. */
  private readonly bandStats: Float32Array;
  /** Per (item, band), at item × BANDS + band: how many features the item has in the band; the most any has. */
  private readonly bandCount: Int32Array;
  /** Per (band, item), at band × items + item: the norm of the item's weights in that band and all later ones (rounded up). */
  private readonly tailNorm: Float32Array;
  private readonly mostInBand: number;
  /** Mean number of features per item: the cost of rescoring one item, in posting steps. */
  private readonly rescoreCost: number;
  /**
   * Each item's features in the common bands, band-major: those of (item, band) at
   * bandFeatureIds/Values[bandFeatureStart[item × BANDS + band] .. [item × BANDS + band + 1]),
   * so a band's exact contribution can be added to the few items still in reach without walking
   * the band's posting lists for every item. A feature is named by its common id: the common
   * buckets numbered 0, 1, … (a few thousand), so the query's common weights fit one small dense
   * array (`commonWeights`) read without a filter or a branch.
   */
  private readonly bandFeatureStart: Int32Array;
  private readonly bandFeatureIds: Int32Array;
  /**
   * Each bucket's common id (−1: rare), numbered band by band: band b's from commonStart[b], so a
   * query reads a feature's band and id from this one table (one cache miss).
   */
  private readonly commonId: Int32Array;
  private readonly commonStart = new Int32Array(BANDS);
  /** Per-query scratch: the query's weight of each common feature, by common id (0 where it has none). */
  private readonly commonWeights: Float64Array;
  private readonly bandFeatureValues: Float32Array;
  /** Per-query scratch: partial dot products of every item; the query as a dense vector. */
  private readonly partial: Float64Array;
  /** Per-query scratch: the items still in reach of the top k, and a bound on each one's similarity. */
  private readonly candidates: Int32Array;
  private readonly bounds: Float64Array;
  private readonly dense: Float32Array;
  /** Per-query scratch: one bit per bucket the query has, a small (L1-sized) filter in front of `dense`. */
  private readonly inQuery: Int32Array;
  /** Items the last query scored exactly (the scan scores them all): how well pruning worked. */
  lastScored = 0;
  /** Bands the last query added from the items' own features instead of walking posting lists. */
  lastRefined = 0;
  /** Per-query scratch: 1 for the items already scored exactly. */
  private readonly scored: Uint8Array;

  constructor(readonly items: readonly LabelledItem[]) {
    this.tfidf = new TfIdf(items.map((i) => i.text));
    this.vectors = this.tfidf.vectors;
    const { vectorStart, allIndices, allValues } = this.tfidf;
    this.featureStart = new Int32Array(vectorStart.buffer, vectorStart.byteOffset, vectorStart.length);
    this.featureBuckets = new Int32Array(allIndices.buffer, allIndices.byteOffset, allIndices.length);
    this.featureValues = allValues;
    const { featureStart, featureBuckets, featureValues } = this;
    const buckets = this.tfidf.buckets;
    const start = new Int32Array(buckets + 1);
    start.set(this.tfidf.documentFrequency, 1);
    for (let b = 0; b < buckets; b++) start[b + 1] += start[b];
    this.postings = new PostingWalk(items.length, buckets, { start: featureStart, list: featureBuckets, value: featureValues });
    this.postingStart = start;

    const n = items.length;
    // Each bucket's band by its document frequency; −1: rare (or absent).
    const bandOfBucket = new Int8Array(buckets).fill(-1);
    const bandFloor = BAND_EDGES.map((edge) => Math.max(1, Math.ceil(edge * n)));
    for (let h = 0; h < buckets; h++) {
      const df = start[h + 1] - start[h];
      while (bandOfBucket[h] + 1 < BANDS && df >= bandFloor[bandOfBucket[h] + 1]) bandOfBucket[h]++;
    }
    let common = 0;
    for (let h = 0; h < buckets; h++) if (bandOfBucket[h] >= 0) common += start[h + 1] - start[h];
    const stats = new Float64Array(n * BANDS * STATS);
    const counts = new Int32Array(n * BANDS);
    const bandStart = new Int32Array(n * BANDS + 1);
    const bandIds = new Int32Array(common);
    this.commonId = new Int32Array(buckets).fill(-1);
    let commonBuckets = 0;
    for (let band = 0; band < BANDS; band++) {
      this.commonStart[band] = commonBuckets;
      for (let h = 0; h < buckets; h++) if (bandOfBucket[h] === band) this.commonId[h] = commonBuckets++;
    }
    const commonId = this.commonId;
    const bandValues = new Float32Array(common);
    const place = new Int32Array(BANDS);
    for (let item = 0; item < n; item++) {
      const first = featureStart[item];
      const end = featureStart[item + 1];
      for (let f = first; f < end; f++) {
        const band = bandOfBucket[featureBuckets[f]];
        if (band < 0) continue;
        const at = item * BANDS + band;
        const x = featureValues[f];
        stats[at * STATS + NORM] += x * x;
        stats[at * STATS + MAX] = Math.max(stats[at * STATS + MAX], x);
        stats[at * STATS + SUM] += x;
        counts[at]++;
      }
      // The item's common features, band by band, placed while its vector is still in cache.
      for (let band = 0; band < BANDS; band++) {
        const at = item * BANDS + band;
        place[band] = bandStart[at];
        bandStart[at + 1] = bandStart[at] + counts[at];
      }
      for (let f = first; f < end; f++) {
        const band = bandOfBucket[featureBuckets[f]];
        if (band < 0) continue;
        const to = place[band]++;
        bandIds[to] = commonId[featureBuckets[f]];
        bandValues[to] = featureValues[f];
      }
    }
    const features = featureStart[n];
    const tail = new Float64Array(n * BANDS);
    for (let item = 0; item < n; item++) {
      let squares = 0;
      for (let band = BANDS - 1; band >= 0; band--) {
        squares += stats[(item * BANDS + band) * STATS + NORM];
        tail[band * n + item] = Math.sqrt(squares);
      }
    }
    this.tailNorm = Float32Array.from(tail, (x) => x * ROUND_UP);
    for (let at = 0; at < stats.length; at += STATS) stats[at + NORM] = Math.sqrt(stats[at + NORM]);
    // Float32 halves the memory the bounds stream through; scaled up first so rounding never lowers a bound.
    this.bandStats = Float32Array.from(stats, (x) => x * ROUND_UP);
    this.bandFeatureStart = bandStart;
    this.bandFeatureIds = bandIds;
    this.commonWeights = new Float64Array(commonBuckets);
    this.bandFeatureValues = bandValues;
    this.mostInBand = counts.reduce((most, c) => Math.max(most, c), 0);
    this.bandCount = counts;
    this.rescoreCost = Math.max(1, features / Math.max(1, n));
    this.partial = this.postings.partial;
    this.candidates = new Int32Array(n);
    this.bounds = new Float64Array(n);
    this.dense = new Float32Array(buckets);
    this.inQuery = new Int32Array((buckets + 31) >>> 5);
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

  private search(v: SparseVector, k: number, exclude?: number): Neighbour[] {
    const n = this.items.length;
    if (k <= 0 || n === 0) return [];
    const { partial, dense } = this;
    const q = new QueryBands(v, this.commonId, this.commonStart, this.postingStart, this.mostInBand);
    const { commonId, commonWeights, inQuery } = this;
    const { indices, values } = v;
    for (let j = 0; j < indices.length; j++) {
      const h = indices[j];
      dense[h] = values[j];
      const id = commonId[h];
      if (id >= 0) commonWeights[id] = values[j];
      inQuery[h >>> 5] |= 1 << (h & 31);
    }
    const top = new TopK(k);
    const scored: number[] = [];
    let refined = 0;
    const score = (item: number) => {
      if (this.scored[item]) return;
      this.scored[item] = 1;
      scored.push(item);
      top.offer(item, this.exactDot(item));
    };
    try {
      partial.fill(0);
      this.walk(v, q.group(0));
      const { candidates, bounds } = this;
      const skip = exclude ?? -1;
      // Candidates: every item but `skip` until the first bound (ALL), then the first `size` of `candidates`.
      let size = ALL;
      for (let band = 0; ; band++) {
        // A floor under the k-th similarity: the exact scores of the best partial sums.
        for (const item of this.largestPartials(size, FLOOR_ITEMS * k, skip)) score(item);
        if (top.full && top.kth > 0) {
          size = this.bound(size, q, band, top.kth, skip);
          if (band === BANDS) break;
          // The band costs walking its posting lists (every item), or reading the band's
          // features of the items still in reach; rescoring those items exactly may cost less.
          const refineCost = this.bandFeatures(size, band);
          if (size * this.rescoreCost <= Math.min(q.walkCost[band], refineCost)) break;
          if (refineCost < q.walkCost[band]) {
            this.refine(size, band);
            refined++;
            continue;
          }
        } else if (band === BANDS) {
          // Fewer than k items share a feature with the query, and all of them are scored: the
          // scan fills up with the first others in index order, at similarity 0.
          const count = size === ALL ? n : size;
          for (let c = 0; c < count && !top.full; c++) {
            const item = size === ALL ? c : candidates[c];
            if (item !== skip && !this.scored[item]) top.offer(item, 0);
          }
          return this.neighbours(top);
        }
        this.walk(v, q.group(band + 1));
      }
      // Rescore the survivors, highest bound first, until no bound reaches the k-th similarity.
      const order = Uint32Array.from({ length: size }, (_, c) => c).sort((a, b) => bounds[b] - bounds[a] || candidates[a] - candidates[b]);
      for (const c of order) {
        if (bounds[c] < top.kth) break;
        score(candidates[c]);
      }
      return this.neighbours(top);
    } finally {
      for (let j = 0; j < indices.length; j++) {
        const h = indices[j];
        dense[h] = 0;
        if (commonId[h] >= 0) commonWeights[commonId[h]] = 0;
        inQuery[h >>> 5] = 0;
      }
      for (const item of scored) this.scored[item] = 0;
      this.lastScored = scored.length;
      this.lastRefined = refined;
    }
  }

  /** Adds the contribution of the query's features at `positions` to the partial dot product of every item that has them. */
  private walk(v: SparseVector, positions: Int32Array): void {
    const { postings } = this;
    for (const j of positions) postings.add(v.indices[j], v.values[j]);
    postings.run();
  }

  /** How many features the first `size` candidates have in `band`: the cost of `refine`. */
  private bandFeatures(size: number, band: number): number {
    const { candidates, bandCount } = this;
    let total = 0;
    for (let c = 0; c < size; c++) total += bandCount[candidates[c] * BANDS + band];
    return total;
  }

  /**
   * Adds the band's exact contribution to the partial dot product of the first `size` candidates
   * (the same sum a walk of the band's posting lists adds, for these items only).
   */
  private refine(size: number, band: number): void {
    const { candidates, partial, commonWeights, bandFeatureStart, bandFeatureIds, bandFeatureValues } = this;
    for (let c = 0; c < size; c++) {
      const item = candidates[c];
      const at = item * BANDS + band;
      const end = bandFeatureStart[at + 1];
      let sum = 0;
      for (let f = bandFeatureStart[at]; f < end; f++) {
        // A feature the query lacks adds an exact +0: the same sum as adding only the shared ones.
        sum += commonWeights[bandFeatureIds[f]] * bandFeatureValues[f];
      }
      partial[item] += sum;
    }
  }

  /**
   * Keeps (in place, in order) the first `size` candidates (with ALL: every item but `skip`, in
   * index order) whose partial sum plus the bounds of bands `from`.. reaches `floor`, with that
   * upper bound on their similarity in `bounds`; returns how many are kept.
   */
  private bound(size: number, q: QueryBands, from: number, floor: number, skip: number): number {
    const { candidates, partial, tailNorm } = this;
    const n = this.items.length;
    const queryTail = from < BANDS ? q.tailNorm[from] : 0;
    // The band's tail norms, one per item (band-major: the first pass over every item streams them in order).
    const tails = tailNorm.subarray(Math.min(from, BANDS - 1) * n);
    let kept = 0;
    if (size === ALL) {
      // Every item in index order, by its own loop: no candidate list to read through.
      for (let item = 0; item < n; item++) {
        const walked = partial[item] + SLACK;
        // Cauchy–Schwarz over all the bands left at once: one product, and most items stop here.
        const whole = walked + queryTail * tails[item];
        if (whole >= floor && item !== skip) kept = this.keepInReach(item, walked, whole, q, from, floor, kept);
      }
      return kept;
    }
    for (let c = 0; c < size; c++) {
      const item = candidates[c];
      const walked = partial[item] + SLACK;
      const whole = from < BANDS ? walked + queryTail * tails[item] : walked;
      if (whole >= floor && item !== skip) kept = this.keepInReach(item, walked, whole, q, from, floor, kept);
    }
    return kept;
  }

  /**
   * Bounds the item band by band and, if the bound reaches `floor`, keeps it as candidate number
   * `kept` (at or before its own place in `candidates`); returns the new count kept.
   */
  private keepInReach(item: number, walked: number, whole: number, q: QueryBands, from: number, floor: number, kept: number): number {
    const bound = Math.min(whole, this.bandBounds(item, walked, q, from));
    if (bound < floor) return kept;
    this.candidates[kept] = item;
    this.bounds[kept] = bound;
    return kept + 1;
  }

  /** `walked` plus, band by band from `from`, the tightest of the three bounds on the item's dot product in the band. */
  private bandBounds(item: number, walked: number, q: QueryBands, from: number): number {
    const { bandStats, bandCount } = this;
    const { norm, max, heaviest } = q;
    const stride = q.most + 1;
    let bound = walked;
    for (let band = from; band < BANDS; band++) {
      const at = item * BANDS + band;
      const count = bandCount[at];
      if (count === 0 || norm[band] === 0) continue;
      const stat = at * STATS;
      let most = norm[band] * bandStats[stat + NORM];
      const bySum = max[band] * bandStats[stat + SUM];
      if (bySum < most) most = bySum;
      const byCount = bandStats[stat + MAX] * heaviest[band * stride + count];
      if (byCount < most) most = byCount;
      bound += most;
    }
    return bound;
  }

  /**
   * The `count` candidates (the first `size`, or with ALL every item but `skip`) with the largest
   * positive partial dot products (ties: any).
   */
  private largestPartials(size: number, count: number, skip: number): Int32Array {
    const { candidates, partial } = this;
    const best = new Int32Array(count);
    const values = new Float64Array(count);
    let filled = 0;
    // Below `least` nothing enters: 0 until `best` is full, then its smallest value.
    let least = 0;
    const keep = (item: number, value: number) => {
      let at = filled < count ? filled++ : count - 1;
      while (at > 0 && values[at - 1] < value) {
        values[at] = values[at - 1];
        best[at] = best[at - 1];
        at--;
      }
      values[at] = value;
      best[at] = item;
      if (filled === count) least = values[count - 1];
    };
    if (size === ALL) {
      // Every item: one load and one compare each, most of the time.
      const n = this.items.length;
      for (let item = 0; item < n; item++) if (partial[item] > least && item !== skip) keep(item, partial[item]);
    } else {
      for (let c = 0; c < size; c++) if (partial[candidates[c]] > least && candidates[c] !== skip) keep(candidates[c], partial[candidates[c]]);
    }
    return best.subarray(0, filled);
  }

  /**
   * The query's dot product with an item, summed as `cosine` sums it (ascending feature, float64):
   * the query sits in `dense`; a feature it lacks would add an exact +0, so the bit filter skips it.
   */
  private exactDot(item: number): number {
    const { dense, inQuery, featureBuckets, featureValues } = this;
    const end = this.featureStart[item + 1];
    let dot = 0;
    for (let f = this.featureStart[item]; f < end; f++) {
      const h = featureBuckets[f];
      if (inQuery[h >>> 5] & (1 << (h & 31))) dot += dense[h] * featureValues[f];
    }
    return dot;
  }

  private neighbours(top: TopK): Neighbour[] {
    return top.items.map((index, r) => ({ item: this.items[index], index, similarity: top.scores[r] }));
  }
}

/** The query's features grouped by band, with per-band norms the bounds need. */
class QueryBands {
  /**
   * Positions in the query vector of its features, rare ones first, then band by band: group g
   * (0: rare, 1 + band) at positions[groupStart[g] .. groupStart[g + 1]).
   */
  readonly positions: Int32Array;
  readonly groupStart = new Int32Array(BANDS + 2);
  readonly norm = new Float64Array(BANDS);
  readonly max = new Float64Array(BANDS);
  /** tailNorm[band]: the norm of the query's weights in that band and all later ones. */
  readonly tailNorm = new Float64Array(BANDS);
  /**
   * At band × (most + 1) + c: the sum of the band's min(c, its feature count) heaviest query
   * weights, for every count c an item can have in a band (up to `most`).
   */
  readonly heaviest: Float64Array;
  /** Summed length of the posting lists of the band's query features: the cost of walking it. */
  readonly walkCost = new Float64Array(BANDS);

  constructor(v: SparseVector, commonId: Int32Array, commonStart: Int32Array, postingStart: Int32Array, readonly most: number) {
    const { indices, values } = v;
    const { groupStart } = this;
    // Each feature's band (−1: rare) from its common id, then a counting sort of the positions by group, in query order within each.
    const bandOf = new Int8Array(indices.length);
    for (let j = 0; j < indices.length; j++) {
      const id = commonId[indices[j]];
      let band = -1;
      if (id >= 0) for (band = 0; band + 1 < BANDS && id >= commonStart[band + 1]; ) band++;
      bandOf[j] = band;
      groupStart[band + 2]++;
    }
    for (let g = 1; g < groupStart.length; g++) groupStart[g] += groupStart[g - 1];
    const fill = groupStart.slice(0, BANDS + 1);
    this.positions = new Int32Array(indices.length);
    const weights = new Float64Array(indices.length);
    for (let j = 0; j < indices.length; j++) {
      const band = bandOf[j];
      const at = fill[band + 1]++;
      this.positions[at] = j;
      weights[at] = values[j];
      if (band >= 0) this.walkCost[band] += postingStart[indices[j] + 1] - postingStart[indices[j]];
    }
    this.heaviest = new Float64Array(BANDS * (most + 1));
    for (let band = 0; band < BANDS; band++) {
      // The band's weights, ascending (a numeric typed-array sort: no comparator calls).
      const inBand = weights.subarray(groupStart[band + 1], groupStart[band + 2]).sort();
      const sums = this.heaviest.subarray(band * (most + 1), (band + 1) * (most + 1));
      // Past the band's own features the sum stays (no out-of-bounds typed-array reads: V8's slow path).
      const known = Math.min(most, inBand.length);
      for (let c = 1; c <= known; c++) sums[c] = sums[c - 1] + inBand[inBand.length - c];
      sums.fill(sums[known], known + 1);
      this.max[band] = inBand.length > 0 ? inBand[inBand.length - 1] : 0;
      let squares = 0;
      for (let c = inBand.length - 1; c >= 0; c--) squares += inBand[c] * inBand[c];
      this.norm[band] = Math.sqrt(squares);
    }
    let squares = 0;
    for (let band = BANDS - 1; band >= 0; band--) {
      squares += this.norm[band] ** 2;
      this.tailNorm[band] = Math.sqrt(squares);
    }
  }

  /** The positions of group g's features (0: rare; 1 + band). */
  group(g: number): Int32Array {
    return this.positions.subarray(this.groupStart[g], this.groupStart[g + 1]);
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
