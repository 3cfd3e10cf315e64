/**
 * Fusion of several sources' top-K distributions into one text's pivot targets. Pure functions,
 * typed arrays in and out.
 *
 * - aligned (FuseLLM): each source's tokens are aligned to the pivot's (align.ts); a pivot
 *   position takes the distribution of the first source token paired with it, when it is that
 *   token's first pivot partner (the source's distribution there predicts the same bytes the
 *   pivot token starts); otherwise it takes the gold pivot token with probability 1. Candidates
 *   map into the pivot vocabulary by identical decoded text; unmapped ones leave their mass out.
 *   Sources combine by MinCE (the source with the lowest cross-entropy on the text) or AvgCE.
 * - uld (InfiFusion): no alignment; at each pivot position, each source's k largest
 *   probabilities, sorted, at the source position covering the pivot token's first byte.
 *
 * Cross-entropy is measured in bits per byte of the text, which does not depend on the tokenizer.
 * Source weights for a text are prior_s · exp(−bpb_s / τ), normalised: the prior (from a ranking
 * or the router's domain posterior) says whom to trust, the text's bpb who knows this text.
 */

/** One source's scoring of one text, a view into a shard (src/formats/topk-shard.ts). */
export interface SourceTopK {
  k: number;
  /** Interned token strings the indices below point into. */
  strings: readonly string[];
  /** Byte end of each token (start = previous end, 0 first). */
  end: Uint32Array;
  token: Uint32Array;
  logprob: Float32Array;
  /** [positions × k] string indices, 0xFFFFFFFF = empty slot. */
  topToken: Uint32Array;
  topLogprob: Float32Array;
  /** Negative log-likelihood of the text (nats) and its UTF-8 bytes. */
  nats: number;
  bytes: number;
}

/** The pivot's view of the text: its token ids, their decoded strings and byte ends. */
export interface PivotText {
  ids: Int32Array;
  strings: readonly string[];
  end: Uint32Array;
}

export type CombineRule = "min-ce" | "avg-ce";

/** A source 0.05 bits per byte worse than another counts e⁻¹ as much (AvgCE and ULD weights). */
export const CE_WEIGHT_TEMPERATURE_BPB = 0.05;
const EMPTY = 0xffffffff;

export function sourceBitsPerByte(source: SourceTopK): number {
  return source.bytes > 0 ? source.nats / source.bytes / Math.LN2 : Number.POSITIVE_INFINITY;
}

/**
 * Per-source weights for one text (sum 1; a missing source gets 0). `min-ce` puts all weight on
 * the source maximising prior·exp(−bpb/τ) (the lowest bpb under equal priors), `avg-ce` spreads it
 * in proportion. Throws when no source scored the text.
 */
export function sourceWeights(sources: readonly (SourceTopK | undefined)[], rule: CombineRule, priors?: Float64Array, temperature = CE_WEIGHT_TEMPERATURE_BPB): Float64Array {
  const scores = sources.map((s, i) => (s ? -sourceBitsPerByte(s) / temperature + Math.log(priors ? priors[i] : 1) : Number.NEGATIVE_INFINITY));
  const best = Math.max(...scores);
  if (!Number.isFinite(best)) throw new RangeError("no source scored this text");
  const weights = new Float64Array(sources.length);
  if (rule === "min-ce") {
    weights[scores.indexOf(best)] = 1;
    return weights;
  }
  let sum = 0;
  for (let i = 0; i < scores.length; i++) sum += weights[i] = Math.exp(scores[i] - best);
  for (let i = 0; i < scores.length; i++) weights[i] /= sum;
  return weights;
}

/** The source position whose span covers byte `at`: the first that ends after it, or an empty span at it. */
function coveringPosition(source: SourceTopK, at: number, from: number): number {
  let i = from;
  while (i < source.end.length) {
    const start = i === 0 ? 0 : source.end[i - 1];
    if (source.end[i] > at || (start === at && source.end[i] === at)) return i;
    i++;
  }
  return source.end.length - 1;
}

/** Pivot byte start of each position. */
function pivotStarts(pivot: PivotText): Uint32Array {
  const starts = new Uint32Array(pivot.ids.length);
  for (let t = 1; t < starts.length; t++) starts[t] = pivot.end[t - 1];
  return starts;
}

/**
 * InfiFusion ULD target: sorted[(s·T + t)·k + j] = source s's j-th largest probability at the
 * position covering pivot token t's first byte (zeros for a source that did not score the text).
 */
export function uldTarget(pivot: PivotText, sources: readonly (SourceTopK | undefined)[], k: number, weights: Float64Array): { k: number; sources: number; sorted: Float32Array; weights: Float32Array } {
  const T = pivot.ids.length;
  const sorted = new Float32Array(sources.length * T * k);
  const starts = pivotStarts(pivot);
  const row = new Float64Array(k);
  sources.forEach((source, s) => {
    if (!source || source.end.length === 0) return;
    let i = 0;
    for (let t = 0; t < T; t++) {
      i = coveringPosition(source, starts[t], i);
      const K = source.k;
      row.fill(0);
      let count = 0;
      for (let j = 0; j < K && count < k; j++) {
        if (source.topToken[i * K + j] === EMPTY) continue;
        row[count++] = Math.exp(source.topLogprob[i * K + j]);
      }
      row.subarray(0, count).sort().reverse();
      sorted.set(row, (s * T + t) * k);
    }
  });
  return { k, sources: sources.length, sorted, weights: Float32Array.from(weights) };
}

/**
 * FuseLLM target: per pivot position the k most probable pivot ids of the weighted mixture of the
 * sources' aligned distributions (each source's missing mass stays missing, so a position sums to
 * ≤ 1). `vocabulary` maps decoded token text → pivot id.
 */
export function alignedTarget(
  pivot: PivotText,
  sources: readonly (SourceTopK | undefined)[],
  alignments: readonly ({ firstAOfB: Int32Array; firstBOfA: Int32Array } | undefined)[],
  vocabulary: ReadonlyMap<string, number>,
  k: number,
  weights: Float64Array,
): { k: number; ids: Int32Array; probs: Float32Array } {
  const T = pivot.ids.length;
  const ids = new Int32Array(T * k).fill(-1);
  const probs = new Float32Array(T * k);
  const mass = new Map<number, number>();
  for (let t = 0; t < T; t++) {
    mass.clear();
    sources.forEach((source, s) => {
      const w = weights[s];
      const alignment = alignments[s];
      if (!source || !alignment || w === 0) return;
      const i = alignment.firstAOfB[t];
      if (i < 0 || alignment.firstBOfA[i] !== t) {
        mass.set(pivot.ids[t], (mass.get(pivot.ids[t]) ?? 0) + w);
        return;
      }
      const K = source.k;
      for (let j = 0; j < K; j++) {
        const index = source.topToken[i * K + j];
        if (index === EMPTY) continue;
        const id = vocabulary.get(source.strings[index]);
        if (id === undefined) continue;
        mass.set(id, (mass.get(id) ?? 0) + w * Math.exp(source.topLogprob[i * K + j]));
      }
    });
    const best = [...mass].sort((x, y) => y[1] - x[1] || x[0] - y[0]).slice(0, k);
    best.forEach(([id, p], j) => {
      ids[t * k + j] = id;
      probs[t * k + j] = Math.min(1, p);
    });
  }
  return { k, ids, probs };
}
