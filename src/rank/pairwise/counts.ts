/**
 * Comparisons aggregated by unordered pair: the Bradley–Terry and Davidson likelihoods depend on
 * the data only through, for each pair (i, j) with i < j, the number of wins of i, wins of j and
 * ties. Fitting over pairs instead of battles makes every iteration O(pairs).
 */
import type { Comparison } from "../../core/evidence.js";

/** Vote counts per compared pair of models, indices into `models`. Counts may be fractional. */
export interface PairCounts {
  models: string[];
  /** Lower model index of each pair. */
  i: Int32Array;
  /** Higher model index of each pair. */
  j: Int32Array;
  winsI: Float64Array;
  winsJ: Float64Array;
  /** Ties and both_bad votes. */
  ties: Float64Array;
}

/** Outcome slot of a vote within its pair: 0 = i won, 1 = j won, 2 = tie. */
export type Slot = 0 | 1 | 2;

/** Pair counts plus, for each comparison, the cell (pair·3 + slot) it was counted in. */
export interface IndexedCounts extends PairCounts {
  cellOfVote: Int32Array;
}

/** Pair tables up to this many models are a dense models² array; larger ones a Map. */
const DENSE_PAIR_TABLE_MODELS = 1024;

/** Aggregate comparisons. Models and pairs are indexed in order of first appearance. */
export function countPairs(comparisons: readonly Comparison[]): IndexedCounts {
  const index = new Map<string, number>();
  const models: string[] = [];
  const id = (name: string): number => {
    let k = index.get(name);
    if (k === undefined) {
      k = models.length;
      index.set(name, k);
      models.push(name);
    }
    return k;
  };
  // Pass 1: model indices, so the pair table can be sized.
  const n = comparisons.length;
  const first = new Int32Array(n);
  const second = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    first[k] = id(comparisons[k].a);
    second[k] = id(comparisons[k].b);
  }
  const m = models.length;
  const dense = m <= DENSE_PAIR_TABLE_MODELS ? new Int32Array(m * m).fill(-1) : undefined;
  const sparse = dense ? undefined : new Map<number, number>();
  const pi: number[] = [];
  const pj: number[] = [];
  const cellOfVote = new Int32Array(n);
  const cells: number[] = [];
  for (let k = 0; k < n; k++) {
    const a = first[k];
    const b = second[k];
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    const key = lo * m + hi;
    let p = dense ? dense[key] : (sparse!.get(key) ?? -1);
    if (p < 0) {
      p = pi.length;
      if (dense) dense[key] = p;
      else sparse!.set(key, p);
      pi.push(lo);
      pj.push(hi);
      cells.push(0, 0, 0);
    }
    const outcome = comparisons[k].outcome;
    let slot: Slot;
    if (outcome === "tie" || outcome === "both_bad") slot = 2;
    else slot = (outcome === "a") === (a === lo) ? 0 : 1;
    cellOfVote[k] = p * 3 + slot;
    cells[p * 3 + slot]++;
  }
  const pairs = pi.length;
  const counts: IndexedCounts = {
    models,
    i: Int32Array.from(pi),
    j: Int32Array.from(pj),
    winsI: new Float64Array(pairs),
    winsJ: new Float64Array(pairs),
    ties: new Float64Array(pairs),
    cellOfVote,
  };
  for (let p = 0; p < pairs; p++) {
    counts.winsI[p] = cells[p * 3];
    counts.winsJ[p] = cells[p * 3 + 1];
    counts.ties[p] = cells[p * 3 + 2];
  }
  return counts;
}

/** The same pairs with new counts taken from a flat cell array (pair·3 + slot). */
export function withCells(counts: PairCounts, cells: Float64Array): PairCounts {
  const n = counts.i.length;
  const out: PairCounts = { models: counts.models, i: counts.i, j: counts.j, winsI: new Float64Array(n), winsJ: new Float64Array(n), ties: new Float64Array(n) };
  for (let p = 0; p < n; p++) {
    out.winsI[p] = cells[p * 3];
    out.winsJ[p] = cells[p * 3 + 1];
    out.ties[p] = cells[p * 3 + 2];
  }
  return out;
}

/** Flat cells (pair·3 + slot) of a PairCounts. */
export function cellsOf(counts: PairCounts): Float64Array {
  const n = counts.i.length;
  const cells = new Float64Array(n * 3);
  for (let p = 0; p < n; p++) {
    cells[p * 3] = counts.winsI[p];
    cells[p * 3 + 1] = counts.winsJ[p];
    cells[p * 3 + 2] = counts.ties[p];
  }
  return cells;
}

/**
 * The sub-problem on a subset of models (a connected component): models renumbered in ascending
 * order of their original index, pairs with both ends in the subset kept in their original
 * orientation, so cell q·3 + slot of the result is cell pairMap[q]·3 + slot of the original.
 */
export function restrictCounts(counts: PairCounts, subset: readonly number[]): PairCounts & { pairMap: Int32Array } {
  const sorted = [...subset].sort((x, y) => x - y);
  const local = new Int32Array(counts.models.length).fill(-1);
  sorted.forEach((m, k) => (local[m] = k));
  const keep: number[] = [];
  for (let p = 0; p < counts.i.length; p++) if (local[counts.i[p]] >= 0 && local[counts.j[p]] >= 0) keep.push(p);
  const pick = (source: Float64Array) => Float64Array.from(keep, (p) => source[p]);
  return {
    models: sorted.map((m) => counts.models[m]),
    i: Int32Array.from(keep, (p) => local[counts.i[p]]),
    j: Int32Array.from(keep, (p) => local[counts.j[p]]),
    winsI: pick(counts.winsI),
    winsJ: pick(counts.winsJ),
    ties: pick(counts.ties),
    pairMap: Int32Array.from(keep),
  };
}
