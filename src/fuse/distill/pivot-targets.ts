import { InputFileError } from "../../core/errors.js";

/** Training targets for one text, in the PIVOT's tokenisation. */
export interface PivotTargets {
  /** Pivot token ids of the text (no BOS); the trainer prepends BOS. Position t predicts tokens[t]. */
  tokens: Int32Array;
  /** FuseLLM ("aligned") target: per position t, k candidate pivot token ids and probabilities
   *  (ids[t*k + j], probs[t*k + j]; id -1 = empty slot; probs of a position sum to ≤ 1). */
  aligned?: { k: number; ids: Int32Array; probs: Float32Array };
  /** InfiFusion ULD target: per source s and position t, the source's k largest next-token
   *  probabilities in descending order at the source position covering the same bytes
   *  (sorted[(s*tokens.length + t)*k + j]), with each source's weight for this text (sum 1). */
  uld?: { k: number; sources: number; sorted: Float32Array; weights: Float32Array };
}

/** Float32 sums of k probabilities may exceed 1 by rounding; more than this is a real error. */
const PROBABILITY_SUM_SLACK = 1e-3;
/** Problems listed before the rest are summarised as a count (one bad file can have millions). */
const MAX_PROBLEMS_LISTED = 5;

/**
 * Every way `targets` breaks the contract for a pivot with `vocabSize` tokens, each naming the
 * field and index. Empty when the targets are usable.
 */
export function pivotTargetsProblems(targets: PivotTargets, vocabSize: number): string[] {
  const problems: string[] = [];
  let dropped = 0;
  const add = (problem: string): void => {
    if (problems.length < MAX_PROBLEMS_LISTED) problems.push(problem);
    else dropped++;
  };
  const n = targets.tokens.length;
  if (n === 0) add("tokens is empty");
  for (let t = 0; t < n; t++) {
    const id = targets.tokens[t]!;
    if (id < 0 || id >= vocabSize) add(`tokens[${t}] = ${id} is outside the pivot vocabulary [0, ${vocabSize})`);
  }
  if (!targets.aligned && !targets.uld) add("neither an aligned nor a uld target is present");
  if (targets.aligned) checkAligned(targets.aligned, n, vocabSize, add);
  if (targets.uld) checkUld(targets.uld, n, add);
  if (dropped > 0) problems.push(`and ${dropped} more problem(s)`);
  return problems;
}

/** Throws an InputFileError naming `where` (file, shard, record) when the targets are unusable. */
export function checkPivotTargets(targets: PivotTargets, vocabSize: number, where: string): void {
  const problems = pivotTargetsProblems(targets, vocabSize);
  if (problems.length > 0) throw new InputFileError(where, `invalid pivot targets: ${problems.join("; ")}`);
}

function checkAligned(
  aligned: NonNullable<PivotTargets["aligned"]>,
  n: number,
  vocabSize: number,
  add: (problem: string) => void,
): void {
  const { k, ids, probs } = aligned;
  if (!Number.isInteger(k) || k < 1) return add(`aligned.k = ${k} is not a positive integer`);
  if (ids.length !== n * k) add(`aligned.ids has ${ids.length} entries, expected tokens.length × k = ${n * k}`);
  if (probs.length !== n * k) add(`aligned.probs has ${probs.length} entries, expected tokens.length × k = ${n * k}`);
  if (ids.length !== n * k || probs.length !== n * k) return;
  for (let t = 0; t < n; t++) {
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const i = t * k + j;
      const id = ids[i]!;
      const p = probs[i]!;
      if (id < -1 || id >= vocabSize) add(`aligned.ids[${i}] = ${id} is neither -1 nor a pivot token id`);
      if (!(p >= 0 && p <= 1)) add(`aligned.probs[${i}] = ${p} is not a probability`);
      else if (id === -1 && p > 0) add(`aligned.probs[${i}] = ${p} belongs to an empty slot (id -1)`);
      else sum += p;
    }
    if (sum > 1 + PROBABILITY_SUM_SLACK) add(`aligned.probs of position ${t} sum to ${sum.toFixed(4)} > 1`);
  }
}

function checkUld(uld: NonNullable<PivotTargets["uld"]>, n: number, add: (problem: string) => void): void {
  const { k, sources, sorted, weights } = uld;
  if (!Number.isInteger(k) || k < 1) return add(`uld.k = ${k} is not a positive integer`);
  if (!Number.isInteger(sources) || sources < 1) return add(`uld.sources = ${sources} is not a positive integer`);
  if (weights.length !== sources) add(`uld.weights has ${weights.length} entries, expected uld.sources = ${sources}`);
  let weightSum = 0;
  for (let s = 0; s < weights.length; s++) {
    const w = weights[s]!;
    if (!(w >= 0 && w <= 1)) add(`uld.weights[${s}] = ${w} is not in [0, 1]`);
    else weightSum += w;
  }
  if (weights.length === sources && Math.abs(weightSum - 1) > PROBABILITY_SUM_SLACK) {
    add(`uld.weights sum to ${weightSum.toFixed(4)}, expected 1`);
  }
  const expected = sources * n * k;
  if (sorted.length !== expected) return add(`uld.sorted has ${sorted.length} entries, expected sources × tokens.length × k = ${expected}`);
  for (let row = 0; row < sources * n; row++) {
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const i = row * k + j;
      const p = sorted[i]!;
      if (!(p >= 0 && p <= 1)) add(`uld.sorted[${i}] = ${p} is not a probability`);
      else sum += p;
      if (j > 0 && p > sorted[i - 1]!) add(`uld.sorted[${i}] = ${p} is larger than the entry before it (must descend)`);
    }
    if (sum > 1 + PROBABILITY_SUM_SLACK) {
      add(`uld.sorted of source ${Math.floor(row / n)}, position ${row % n} sums to ${sum.toFixed(4)} > 1`);
    }
  }
}
