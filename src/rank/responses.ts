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
  const builder = new ResponseMatrixBuilder(results.length);
  for (const r of results) builder.add(r);
  return builder.build();
}

/**
 * Collects results one at a time into growable typed arrays (no object kept per result), so a
 * parser can stream millions of results into a matrix.
 */
export class ResponseMatrixBuilder {
  private readonly modelIndex = new Map<string, number>();
  private readonly itemIndex = new Map<string, number>();
  private readonly domainIndex = new Map<string, number>();
  private readonly models: string[] = [];
  private readonly items: string[] = [];
  private readonly domains: string[] = [];
  private readonly itemDomain: number[] = [];
  private counts: number[] = [];
  private rowModel: Int32Array;
  private rowItem: Int32Array;
  private rowScore: Float32Array;
  private size = 0;

  constructor(capacity = 1024) {
    const n = Math.max(16, capacity);
    this.rowModel = new Int32Array(n);
    this.rowItem = new Int32Array(n);
    this.rowScore = new Float32Array(n);
  }

  get length(): number {
    return this.size;
  }

  add(result: ItemResult): void {
    const { model, item, score } = result;
    const domain = result.domain || DEFAULT_DOMAIN;
    if (!(score >= 0 && score <= 1)) {
      throw new ConfigError([`result for model "${model}", item "${item}": score ${score} is not in [0, 1]`]);
    }
    let m = this.modelIndex.get(model);
    if (m === undefined) {
      m = this.models.length;
      this.modelIndex.set(model, m);
      this.models.push(model);
    }
    let d = this.domainIndex.get(domain);
    if (d === undefined) {
      d = this.domains.length;
      this.domainIndex.set(domain, d);
      this.domains.push(domain);
    }
    let i = this.itemIndex.get(item);
    if (i === undefined) {
      i = this.items.length;
      this.itemIndex.set(item, i);
      this.items.push(item);
      this.itemDomain.push(d);
      this.counts.push(0);
    } else if (this.itemDomain[i] !== d) {
      throw new ConfigError([`item "${item}" appears in two domains ("${this.domains[this.itemDomain[i]]}" and "${domain}"); give the items distinct ids`]);
    }
    this.counts[i]++;
    if (this.size === this.rowModel.length) this.grow();
    this.rowModel[this.size] = m;
    this.rowItem[this.size] = i;
    this.rowScore[this.size] = score;
    this.size++;
  }

  build(): ResponseMatrix {
    const nItems = this.items.length;
    const itemStart = new Int32Array(nItems + 1);
    for (let i = 0; i < nItems; i++) itemStart[i + 1] = itemStart[i] + this.counts[i];
    const fill = itemStart.slice(0, nItems);
    const model = new Int32Array(this.size);
    const score = new Float32Array(this.size);
    for (let r = 0; r < this.size; r++) {
      const pos = fill[this.rowItem[r]]++;
      model[pos] = this.rowModel[r];
      score[pos] = this.rowScore[r];
    }
    const matrix = {
      models: [...this.models],
      items: [...this.items],
      itemDomain: Int32Array.from(this.itemDomain),
      domains: [...this.domains],
      itemStart,
      model,
      score,
    };
    assertNoDuplicates(matrix);
    return matrix;
  }

  private grow(): void {
    const n = this.rowModel.length * 2;
    const rowModel = new Int32Array(n);
    rowModel.set(this.rowModel);
    this.rowModel = rowModel;
    const rowItem = new Int32Array(n);
    rowItem.set(this.rowItem);
    this.rowItem = rowItem;
    const rowScore = new Float32Array(n);
    rowScore.set(this.rowScore);
    this.rowScore = rowScore;
  }
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
