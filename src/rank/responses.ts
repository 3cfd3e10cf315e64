/**
 * A sparse response matrix: every model's score on the items it answered, stored item by item
 * (compressed sparse rows) in typed arrays — no object per cell — so that a million models × items
 * fits in a few bytes per response. Missing responses are simply absent.
 */
import { ConfigError } from "../core/errors.js";
import { DEFAULT_DOMAIN, type ItemResult } from "../core/evidence.js";

export interface ResponseMatrix {
  models: string[];
  items: string[];
  /** Domain of each item (index into `domains`). */
  itemDomain: Int32Array;
  domains: string[];
  /** Responses of item i are at positions itemStart[i] .. itemStart[i + 1] - 1. */
  itemStart: Int32Array;
  /** Model index of each response. */
  model: Int32Array;
  /** Score of each response, in [0, 1]. */
  score: Float32Array;
}

/**
 * Build a response matrix from per-item results. An item belongs to one domain; the same
 * (model, item) twice, a score outside [0, 1] or an item in two domains is a ConfigError.
 */
export function buildResponseMatrix(results: readonly ItemResult[]): ResponseMatrix {
  const modelIndex = new Map<string, number>();
  const itemIndex = new Map<string, number>();
  const domainIndex = new Map<string, number>();
  const models: string[] = [];
  const items: string[] = [];
  const domains: string[] = [];
  const itemDomainList: number[] = [];
  const counts: number[] = [];
  const rowModel = new Int32Array(results.length);
  const rowItem = new Int32Array(results.length);

  for (let r = 0; r < results.length; r++) {
    const { model, item, score } = results[r];
    const domain = results[r].domain || DEFAULT_DOMAIN;
    if (!(score >= 0 && score <= 1)) {
      throw new ConfigError([`result for model "${model}", item "${item}": score ${score} is not in [0, 1]`]);
    }
    let m = modelIndex.get(model);
    if (m === undefined) {
      m = models.length;
      modelIndex.set(model, m);
      models.push(model);
    }
    let d = domainIndex.get(domain);
    if (d === undefined) {
      d = domains.length;
      domainIndex.set(domain, d);
      domains.push(domain);
    }
    let i = itemIndex.get(item);
    if (i === undefined) {
      i = items.length;
      itemIndex.set(item, i);
      items.push(item);
      itemDomainList.push(d);
      counts.push(0);
    } else if (itemDomainList[i] !== d) {
      throw new ConfigError([`item "${item}" appears in two domains ("${domains[itemDomainList[i]]}" and "${domain}"); give the items distinct ids`]);
    }
    counts[i]++;
    rowModel[r] = m;
    rowItem[r] = i;
  }

  const itemStart = new Int32Array(items.length + 1);
  for (let i = 0; i < items.length; i++) itemStart[i + 1] = itemStart[i] + counts[i];
  const fill = itemStart.slice(0, items.length);
  const model = new Int32Array(results.length);
  const score = new Float32Array(results.length);
  for (let r = 0; r < results.length; r++) {
    const pos = fill[rowItem[r]]++;
    model[pos] = rowModel[r];
    score[pos] = results[r].score;
  }
  const matrix = { models, items, itemDomain: Int32Array.from(itemDomainList), domains, itemStart, model, score };
  assertNoDuplicates(matrix);
  return matrix;
}

/** Reject the same model twice on one item (names both). */
export function assertNoDuplicates(matrix: ResponseMatrix): void {
  const lastItem = new Int32Array(matrix.models.length).fill(-1);
  for (let i = 0; i < matrix.items.length; i++) {
    for (let p = matrix.itemStart[i]; p < matrix.itemStart[i + 1]; p++) {
      const m = matrix.model[p];
      if (lastItem[m] === i) {
        throw new ConfigError([`model "${matrix.models[m]}" has two results for item "${matrix.items[i]}"`]);
      }
      lastItem[m] = i;
    }
  }
}

/** The sub-matrix of the given items (indices into `matrix.items`), keeping every model. */
export function selectItems(matrix: ResponseMatrix, keep: ArrayLike<number>): ResponseMatrix {
  let total = 0;
  for (let k = 0; k < keep.length; k++) total += matrix.itemStart[keep[k] + 1] - matrix.itemStart[keep[k]];
  const itemStart = new Int32Array(keep.length + 1);
  const model = new Int32Array(total);
  const score = new Float32Array(total);
  const itemDomain = new Int32Array(keep.length);
  const items: string[] = [];
  let pos = 0;
  for (let k = 0; k < keep.length; k++) {
    const i = keep[k];
    const from = matrix.itemStart[i];
    const to = matrix.itemStart[i + 1];
    model.set(matrix.model.subarray(from, to), pos);
    score.set(matrix.score.subarray(from, to), pos);
    pos += to - from;
    itemStart[k + 1] = pos;
    itemDomain[k] = matrix.itemDomain[i];
    items.push(matrix.items[i]);
  }
  return { models: matrix.models, items, itemDomain, domains: matrix.domains, itemStart, model, score };
}

/** Each model's mean score over the items it answered (NaN when it answered none). */
export function meanScores(matrix: ResponseMatrix): Float64Array {
  const sum = new Float64Array(matrix.models.length);
  const n = new Float64Array(matrix.models.length);
  for (let p = 0; p < matrix.model.length; p++) {
    sum[matrix.model[p]] += matrix.score[p];
    n[matrix.model[p]]++;
  }
  for (let m = 0; m < sum.length; m++) sum[m] = n[m] > 0 ? sum[m] / n[m] : NaN;
  return sum;
}
