import { ConfigError } from "../../core/errors.js";
import { readLlamaConfig } from "../../formats/hf/config.js";
import { TokenType } from "../../formats/hf/tokenizer.js";
import { readHfWeightsF32 } from "../../formats/safetensors/index.js";
import { initTrainingBackend, tf } from "../../zoo/train/backend.js";
import { createTrainModel, disposeTrainModel, forwardLogits, type TrainModel } from "../../zoo/train/model.js";
import { readBpeTokenizer, type BpeTokenizer } from "../../zoo/train/tokenize.js";
import type { PivotTargets } from "./pivot-targets.js";

/**
 * Pivot targets straight from teacher models that cogen's trainer can run (Hugging Face llama
 * folders): each teacher's forward pass over the text in its own tokenisation gives its top-k
 * next-token distribution at every position, then
 * - aligned (FuseLLM, MinCE): the teacher with the largest weight — with equal priors the lowest
 *   cross-entropy on the text (in bits per byte, comparable across tokenizers) — gives the target. A teacher with the pivot's
 *   vocabulary maps position for position; another's position counts only where its token starts
 *   at the same byte as the pivot's, and its candidates map to pivot ids by identical bytes
 *   (unmapped candidates join the leftover mass). Elsewhere that position has no target.
 * - uld (InfiFusion): every teacher's k largest probabilities, sorted, at the teacher position
 *   whose token covers the pivot token's first byte; teacher weights per text are prior · exp(−bpb /
 *   ULD_WEIGHT_TEMPERATURE), normalised (a teacher of prior 0 has weight 0 and all-zero rows).
 * This is the in-process path for teachers the trainer can load; `cogen distill targets` builds
 * the same contract from any LanguageModel through the job queue.
 */
export interface Teacher {
  id: string;
  model: TrainModel;
  tokenizer: BpeTokenizer;
}

export interface TeacherTargetOptions {
  k: number;
  aligned: boolean;
  uld: boolean;
  /**
   * Per teacher, how much it may say about this text (≥ 0, default all 1): a teacher's weight is
   * prior · exp(−bpb / ULD_WEIGHT_TEMPERATURE), so priors from each teacher's domain make the
   * text listen to the experts of its domain (the router's knowledge) instead of whichever
   * teacher memorised the line. A teacher with prior 0 is not even run on the text.
   */
  priors?: readonly number[];
  /**
   * How a candidate of a teacher with another tokenizer becomes a pivot id: "bytes" (default) —
   * the pivot token with identical bytes, else none (its mass joins the leftover); "first-token"
   * — the first token of the pivot's own encoding of the candidate's text (" biology" → " bio"),
   * pooling candidates that start alike: the teacher's mass for "the text goes on with these
   * bytes" lands on the pivot token that begins them.
   */
  candidates?: "bytes" | "first-token";
}

/** ULD weights: a teacher 0.05 bits per byte worse than the best counts e⁻¹ as much. */
export const ULD_WEIGHT_TEMPERATURE = 0.05;

export async function loadTeacher(dir: string, id = dir): Promise<Teacher> {
  await initTrainingBackend();
  const config = await readLlamaConfig(dir);
  const tokenizer = await readBpeTokenizer(dir);
  const init = await readHfWeightsF32(dir);
  return { id, tokenizer, model: createTrainModel(config, { seed: 0, init, tokenizer }) };
}

export function disposeTeacher(teacher: Teacher): void {
  disposeTrainModel(teacher.model);
}

/** One teacher's top-k at every position of one text, in its own tokenisation. */
export interface TeacherView {
  k: number;
  /** Byte offset where each of the teacher's tokens starts, and the total. */
  starts: number[];
  /** Per position: top-k ids and probabilities (descending). */
  topIds: Int32Array;
  topProbs: Float32Array;
  /** Per position: −log p of the teacher's own next token (nats). */
  positionNats: Float32Array;
  bitsPerByte: number;
}

/**
 * Targets for one text (already checked to fit every model's context). `views` (from
 * teacherViews, same teachers and k) saves the forward passes when one text feeds several runs.
 */
export function teacherTargets(text: string, pivot: BpeTokenizer, teachers: readonly Teacher[], options: TeacherTargetOptions, views?: readonly (TeacherView | undefined)[]): PivotTargets {
  if (!options.aligned && !options.uld) throw new ConfigError(["teacher targets: ask for aligned, uld or both"]);
  const priors = options.priors ?? teachers.map(() => 1);
  if (priors.length !== teachers.length || priors.some((p) => !(p >= 0)) || !priors.some((p) => p > 0)) {
    throw new ConfigError([`teacher targets: give one prior ≥ 0 per teacher (${teachers.length}), at least one positive (got ${JSON.stringify(priors)})`]);
  }
  const tokens = Int32Array.from(pivot.encode(text));
  const n = tokens.length;
  const { k } = options;
  const pivotStarts = byteStarts(pivot, tokens);
  views ??= teacherViews(text, teachers, k, priors);
  if (views.length !== teachers.length || views.some((v, i) => (v ? v.k !== k : priors[i]! > 0))) throw new ConfigError(["teacher targets: the views do not match the teachers, their priors and k"]);
  const weights = teacherWeights(views, priors);
  const out: PivotTargets = { tokens };
  if (options.aligned) {
    let best = 0;
    weights.forEach((w, i) => (best = w > weights[best]! ? i : best));
    const teacher = teachers[best]!;
    const view = views[best]!;
    const ids = new Int32Array(n * k).fill(-1);
    const probs = new Float32Array(n * k);
    const sameVocab = sameTokenizer(teacher.tokenizer, pivot);
    const atByte = new Map(view.starts.slice(0, -1).map((b, i) => [b, i]));
    const byFirstToken = options.candidates === "first-token";
    const pivotIdOf = sameVocab ? undefined : byFirstToken ? firstPivotTokens(teacher.tokenizer, pivot) : bytesToPivotId(pivot);
    for (let t = 0; t < n; t++) {
      const i = sameVocab ? t : atByte.get(pivotStarts[t]!);
      if (i === undefined) continue;
      for (let j = 0; j < k; j++) {
        const source = view.topIds[i * k + j]!;
        const id = pivotIdOf ? (byFirstToken ? (pivotIdOf as Int32Array)[source]! : (pivotIdOf as Map<string, number>).get(key(teacher.tokenizer.tokenBytes(source)))) : source;
        if (id === undefined || id < 0) continue;
        const slot = ids.subarray(t * k, t * k + j).indexOf(id);
        // Candidates that start with the same pivot token pool their mass (first-token mapping).
        if (slot >= 0) {
          if (byFirstToken) probs[t * k + slot] += view.topProbs[i * k + j]!;
          continue;
        }
        ids[t * k + j] = id;
        probs[t * k + j] = view.topProbs[i * k + j]!;
      }
    }
    out.aligned = { k, ids, probs };
  }
  if (options.uld) {
    const s = teachers.length;
    const sorted = new Float32Array(s * n * k);
    views.forEach((view, si) => {
      if (!view) return;
      let i = 0;
      for (let t = 0; t < n; t++) {
        while (i + 1 < view.starts.length - 1 && view.starts[i + 1]! <= pivotStarts[t]!) i++;
        sorted.set(view.topProbs.subarray(i * k, i * k + k), (si * n + t) * k);
      }
    });
    out.uld = { k, sources: s, sorted, weights: Float32Array.from(weights) };
  }
  return out;
}

/** prior · exp(−(bpb − best) / T), normalised; teachers of prior 0 (no view) weigh 0. */
function teacherWeights(views: readonly (TeacherView | undefined)[], priors: readonly number[]): number[] {
  const best = Math.min(...views.map((v, i) => (v && priors[i]! > 0 ? v.bitsPerByte : Infinity)));
  const raw = views.map((v, i) => (v && priors[i]! > 0 ? priors[i]! * Math.exp(-(v.bitsPerByte - best) / ULD_WEIGHT_TEMPERATURE) : 0));
  const total = raw.reduce((a, b) => a + b, 0);
  return raw.map((w) => w / total);
}

/** Each teacher's view of the text; with priors, teachers of prior 0 are skipped (undefined). */
export function teacherViews(text: string, teachers: readonly Teacher[], k: number, priors?: readonly number[]): (TeacherView | undefined)[] {
  return teachers.map((t, i) => (priors && !(priors[i]! > 0) ? undefined : teacherView(t, text, k)));
}


function teacherView(teacher: Teacher, text: string, k: number): TeacherView {
  const { tokenizer, model } = teacher;
  const ids = tokenizer.encode(text);
  const bos = tokenizer.vocab.bosId ?? tokenizer.vocab.eosId ?? 0;
  const inputs = [bos, ...ids.slice(0, -1)];
  const vocab = model.config.vocabSize;
  const logits = tf.tidy(() => forwardLogits(model, tf.tensor2d([inputs], [1, inputs.length], "int32")).dataSync() as Float32Array);
  const topIds = new Int32Array(ids.length * k);
  const topProbs = new Float32Array(ids.length * k);
  const row = new Float64Array(vocab);
  let nats = 0;
  const positionNats = new Float32Array(ids.length);
  for (let p = 0; p < ids.length; p++) {
    let max = -Infinity;
    for (let v = 0; v < vocab; v++) max = Math.max(max, logits[p * vocab + v]!);
    let sum = 0;
    for (let v = 0; v < vocab; v++) sum += row[v] = Math.exp(logits[p * vocab + v]! - max);
    for (let v = 0; v < vocab; v++) row[v] /= sum;
    positionNats[p] = -Math.log(Math.max(row[ids[p]!]!, 1e-300));
    nats += positionNats[p]!;
    topK(row, k, topIds, topProbs, p * k);
  }
  const starts = byteStarts(tokenizer, Int32Array.from(ids));
  return { k, starts, topIds, topProbs, positionNats, bitsPerByte: nats / Math.LN2 / Math.max(1, starts[starts.length - 1]!) };
}

/** The k largest entries of `row`, descending (ties: the lower id first), written at `at`. */
export function topK(row: Float64Array, k: number, ids: Int32Array, probs: Float32Array, at: number): void {
  let count = 0;
  for (let v = 0; v < row.length; v++) {
    const p = row[v]!;
    if (count === k && p <= probs[at + k - 1]!) continue;
    let j = count < k ? count++ : k - 1;
    while (j > 0 && probs[at + j - 1]! < p) {
      ids[at + j] = ids[at + j - 1]!;
      probs[at + j] = probs[at + j - 1]!;
      j--;
    }
    ids[at + j] = v;
    probs[at + j] = p;
  }
}

/** Byte offset where each token starts, plus the total byte length at the end. */
function byteStarts(tokenizer: BpeTokenizer, ids: Int32Array): number[] {
  const starts = [0];
  for (const id of ids) starts.push(starts[starts.length - 1]! + tokenizer.tokenBytes(id).length);
  return starts;
}

function sameTokenizer(a: BpeTokenizer, b: BpeTokenizer): boolean {
  return a === b || JSON.stringify(a.files.tokenizer) === JSON.stringify(b.files.tokenizer);
}

const key = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1");

const firstTokenMaps = new WeakMap<BpeTokenizer, WeakMap<BpeTokenizer, Int32Array>>();
/** Per teacher id, the first pivot token of the pivot's encoding of its text (-1: none; bytes that are no whole UTF-8 text map by identical bytes). */
function firstPivotTokens(teacher: BpeTokenizer, pivot: BpeTokenizer): Int32Array {
  let byPivot = firstTokenMaps.get(teacher);
  if (!byPivot) firstTokenMaps.set(teacher, (byPivot = new WeakMap()));
  let map = byPivot.get(pivot);
  if (map) return map;
  const exact = bytesToPivotId(pivot);
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  map = new Int32Array(teacher.size).fill(-1);
  for (let id = 0; id < teacher.size; id++) {
    const bytes = teacher.tokenBytes(id);
    if (bytes.length === 0) continue;
    let text: string | undefined;
    try {
      text = utf8.decode(bytes);
    } catch {
      text = undefined;
    }
    map[id] = text === undefined ? (exact.get(key(bytes)) ?? -1) : (pivot.encode(text)[0] ?? -1);
  }
  byPivot.set(pivot, map);
  return map;
}

const pivotMaps = new WeakMap<BpeTokenizer, Map<string, number>>();
/**
 * Pivot token id by its bytes. A regular token wins over a byte-fallback token with the same
 * bytes ("n" over <0x6E>, as preparePivot does): the pivot's encoder never emits the byte token
 * for text its vocabulary spells, so a target on it would teach an id the pivot never sees.
 * Otherwise the first id wins.
 */
function bytesToPivotId(pivot: BpeTokenizer): Map<string, number> {
  let map = pivotMaps.get(pivot);
  if (map) return map;
  map = new Map();
  const types = pivot.vocab.tokenTypes;
  for (const byteTokens of [false, true]) {
    for (let id = 0; id < pivot.size; id++) {
      if ((types[id] === TokenType.byte) !== byteTokens) continue;
      const bytes = pivot.tokenBytes(id);
      if (bytes.length > 0 && !map.has(key(bytes))) map.set(key(bytes), id);
    }
  }
  pivotMaps.set(pivot, map);
  return map;
}
