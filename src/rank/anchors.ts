/**
 * Anchor items: K items whose (weighted) accuracy predicts a model's score on the whole benchmark,
 * in the manner of tinyBenchmarks' anchor points. Items are embedded by their correctness pattern
 * across models (a missing response counts as the item's mean), clustered with seeded k-means
 * (k-means++ start, Lloyd iterations); each cluster's anchor is its item nearest the centroid,
 * weighted by the fraction of items in the cluster. A model's predicted full score is the weighted
 * accuracy on the anchors it answered.
 *
 * The prediction error is measured honestly by leaving models out: the models are split into
 * folds, anchors are chosen on the other folds, and the held-out models' full scores (their mean
 * score over every item they answered) are predicted; the report is the mean absolute error.
 */
import { ConfigError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import type { AnchorReport } from "./ranking.js";
import type { ResponseMatrix } from "./responses.js";

export interface AnchorOptions {
  seed?: number;
  /** Folds of models for the held-out error (default 5, at most the number of models). */
  folds?: number;
  /** Lloyd iterations (default 30). */
  iterations?: number;
  /** At most this many models embed the items (a seeded sample of them beyond it; default 128). */
  maxDimensions?: number;
}

export interface AnchorSet {
  /** Item indices into the matrix. */
  items: number[];
  /** Fraction of items each anchor stands for; sums to 1. */
  weights: number[];
}

export function selectAnchors(matrix: ResponseMatrix, k: number, options: AnchorOptions = {}): AnchorReport {
  if (!Number.isInteger(k) || k < 1) throw new ConfigError([`anchors: K must be a whole number ≥ 1, got ${k}`]);
  if (k > matrix.items.length) throw new ConfigError([`anchors: K = ${k} is more than the ${matrix.items.length} items`]);
  const nModels = matrix.models.length;
  if (nModels < 2) throw new ConfigError(["anchors: need at least two models to measure the held-out error"]);
  const seed = options.seed ?? 0;
  const folds = Math.min(options.folds ?? 5, nModels);
  const truth = fullScores(matrix);

  const order = new Rng(seed).shuffle(Array.from({ length: nModels }, (_, m) => m));
  let error = 0;
  let counted = 0;
  for (let f = 0; f < folds; f++) {
    const heldOut = order.filter((_, k2) => k2 % folds === f);
    const held = new Set(heldOut);
    const train = order.filter((m) => !held.has(m));
    const anchors = findAnchors(matrix, train, k, { ...options, seed: seed + f + 1 });
    const predicted = predictScores(matrix, anchors);
    for (const m of heldOut) {
      if (Number.isNaN(predicted[m]) || Number.isNaN(truth[m])) continue;
      error += Math.abs(predicted[m] - truth[m]);
      counted++;
    }
  }
  const all = findAnchors(matrix, order, k, { ...options, seed });
  return {
    anchors: all.items.map((i, j) => ({ item: matrix.items[i], domain: matrix.domains[matrix.itemDomain[i]], weight: all.weights[j] }))
      .sort((x, y) => y.weight - x.weight || x.item.localeCompare(y.item)),
    heldOutMae: counted > 0 ? error / counted : NaN,
    folds,
  };
}

/** Each model's mean score over the items it answered. */
export function fullScores(matrix: ResponseMatrix): Float64Array {
  const sum = new Float64Array(matrix.models.length);
  const n = new Float64Array(matrix.models.length);
  for (let p = 0; p < matrix.model.length; p++) {
    sum[matrix.model[p]] += matrix.score[p];
    n[matrix.model[p]]++;
  }
  return sum.map((s, m) => (n[m] > 0 ? s / n[m] : NaN));
}

/** Weighted anchor accuracy per model over the anchors it answered (NaN if none). */
export function predictScores(matrix: ResponseMatrix, anchors: AnchorSet): Float64Array {
  const sum = new Float64Array(matrix.models.length);
  const weight = new Float64Array(matrix.models.length);
  anchors.items.forEach((i, j) => {
    for (let p = matrix.itemStart[i]; p < matrix.itemStart[i + 1]; p++) {
      sum[matrix.model[p]] += anchors.weights[j] * matrix.score[p];
      weight[matrix.model[p]] += anchors.weights[j];
    }
  });
  return sum.map((s, m) => (weight[m] > 0 ? s / weight[m] : NaN));
}

/** k-means on the items' correctness patterns over the `train` models. */
export function findAnchors(matrix: ResponseMatrix, train: readonly number[], k: number, options: AnchorOptions = {}): AnchorSet {
  const rng = new Rng(options.seed ?? 0);
  const maxDims = options.maxDimensions ?? 128;
  const dims = train.length > maxDims ? rng.shuffle([...train]).slice(0, maxDims) : [...train];
  const column = new Int32Array(matrix.models.length).fill(-1);
  dims.forEach((m, d) => { column[m] = d; });
  const nItems = matrix.items.length;
  const D = dims.length;

  // Embedding: score of each model in `dims`; a missing response is the item's mean.
  const x = new Float32Array(nItems * D);
  const present = new Uint8Array(D);
  for (let i = 0; i < nItems; i++) {
    present.fill(0);
    let sum = 0;
    let n = 0;
    for (let p = matrix.itemStart[i]; p < matrix.itemStart[i + 1]; p++) {
      const d = column[matrix.model[p]];
      if (d < 0) continue;
      x[i * D + d] = matrix.score[p];
      present[d] = 1;
      sum += matrix.score[p];
      n++;
    }
    const fill = n > 0 ? sum / n : 0.5;
    for (let d = 0; d < D; d++) if (!present[d]) x[i * D + d] = fill;
  }

  const centroids = kMeansPlusPlus(x, nItems, D, k, rng);
  const assign = new Int32Array(nItems);
  const sizes = new Float64Array(k);
  for (let iter = 0; iter < (options.iterations ?? 30); iter++) {
    let moved = 0;
    for (let i = 0; i < nItems; i++) {
      const c = nearest(x, i, D, centroids, k);
      if (c !== assign[i] || iter === 0) moved++;
      assign[i] = c;
    }
    centroids.fill(0);
    sizes.fill(0);
    for (let i = 0; i < nItems; i++) {
      sizes[assign[i]]++;
      for (let d = 0; d < D; d++) centroids[assign[i] * D + d] += x[i * D + d];
    }
    for (let c = 0; c < k; c++) {
      if (sizes[c] === 0) continue;
      for (let d = 0; d < D; d++) centroids[c * D + d] /= sizes[c];
    }
    if (moved === 0) break;
  }

  // Anchor: the member nearest its centroid. Empty clusters are dropped.
  const best = new Int32Array(k).fill(-1);
  const bestDist = new Float64Array(k).fill(Infinity);
  for (let i = 0; i < nItems; i++) {
    const c = assign[i];
    const dist = squaredDistance(x, i * D, centroids, c * D, D);
    if (dist < bestDist[c] || (dist === bestDist[c] && i < best[c])) {
      bestDist[c] = dist;
      best[c] = i;
    }
  }
  const items: number[] = [];
  const weights: number[] = [];
  for (let c = 0; c < k; c++) {
    if (best[c] < 0) continue;
    items.push(best[c]);
    weights.push(sizes[c] / nItems);
  }
  return { items, weights };
}

function kMeansPlusPlus(x: Float32Array, n: number, D: number, k: number, rng: Rng): Float64Array {
  const centroids = new Float64Array(k * D);
  const dist = new Float64Array(n).fill(Infinity);
  let chosen = rng.int(n);
  for (let c = 0; c < k; c++) {
    for (let d = 0; d < D; d++) centroids[c * D + d] = x[chosen * D + d];
    let total = 0;
    for (let i = 0; i < n; i++) {
      const dd = squaredDistance(x, i * D, centroids, c * D, D);
      if (dd < dist[i]) dist[i] = dd;
      total += dist[i];
    }
    if (c === k - 1) break;
    if (total === 0) {
      chosen = rng.int(n);
      continue;
    }
    let target = rng.next() * total;
    chosen = n - 1;
    for (let i = 0; i < n; i++) {
      target -= dist[i];
      if (target < 0) {
        chosen = i;
        break;
      }
    }
  }
  return centroids;
}

function nearest(x: Float32Array, i: number, D: number, centroids: Float64Array, k: number): number {
  let best = 0;
  let bestDist = Infinity;
  for (let c = 0; c < k; c++) {
    const dist = squaredDistance(x, i * D, centroids, c * D, D);
    if (dist < bestDist) {
      bestDist = dist;
      best = c;
    }
  }
  return best;
}

function squaredDistance(x: Float32Array, xo: number, y: Float64Array, yo: number, D: number): number {
  let s = 0;
  for (let d = 0; d < D; d++) {
    const diff = x[xo + d] - y[yo + d];
    s += diff * diff;
  }
  return s;
}
