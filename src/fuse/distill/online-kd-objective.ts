import { ConfigError } from "../../core/errors.js";
import { tf } from "../../zoo/train/backend.js";
import { batchAt, batchStarts } from "../../zoo/train/batches.js";
import { forwardLogits, tokenNll, type TrainModel } from "../../zoo/train/model.js";
import type { BpeTokenizer } from "../../zoo/train/tokenize.js";
import type { TrainObjective } from "../../zoo/train/train.js";
import { alignedKlAndGrad, jsLoss, uldDistanceAndGrad, type AlignedRows, type UldRows } from "./fusion-loss.js";
import { teacherTargets, teacherViews, topK, type Teacher, type TeacherTargetOptions } from "./teacher-targets.js";

/**
 * Online distillation (teachers run inside the step, as TRL's GKD / distillation trainers do):
 * the pivot trains on exactly the batches of the trainer's default objective — seeded windows of
 * one token stream (`batchAt`), so λ = 1 is the plain CLM run of the same seed, steps and data,
 * e.g. the zoo's control or centralised model — and each window also listens to the teacher of
 * the span it starts in (the expert of that window's domain: the router's choice, distilled).
 * A teacher that shares the pivot's tokenizer gives its top-k per position as the aligned (FuseLLM)
 * target with the leftover mass kept as one bucket (fusion-loss.ts). A teacher with another
 * tokenizer (`crossTeacher`) reads the window as text: the window is decoded, the teacher runs on
 * it in its own tokenisation (cut to the teacher's context), and `teacherTargets` turns its top-k
 * into the pivot's rows — aligned (candidates mapped by identical bytes where both tokenisations
 * start a token at the same byte), ULD (sorted top-k, no alignment) or both. A window whose text
 * the pivot does not re-encode to the same tokens (e.g. cut inside a UTF-8 character) is not
 * taught. Rows without a teacher train on CLM alone at full weight; a taught row's loss is
 * λ·CLM + (1 − λ)·fusion. Nothing is precomputed, so a run never revisits a small sample of
 * texts: every step's windows are fresh text.
 */
export interface OnlineKdOptions {
  /** The training text in the pivot's (and teachers') tokens. */
  tokens: Int32Array;
  /**
   * Consecutive spans of `tokens` (e.g. one per domain), each with its teacher: `teacher` shares
   * the pivot's tokenizer, `crossTeacher` has another one (needs `pivot`); none: CLM only.
   */
  spans: readonly { end: number; teacher?: TrainModel; crossTeacher?: Teacher }[];
  /** The pivot's tokenizer: decodes windows for cross-tokenizer teachers. */
  pivot?: BpeTokenizer;
  /** Which targets a cross-tokenizer teacher gives (default aligned). */
  crossFusion?: CrossFusion;
  /** How its aligned candidates map to pivot ids (teacher-targets.ts `candidates`; default bytes). */
  crossCandidates?: CrossCandidates;
  /**
   * "min-ce": FuseLLM's MinCE with the pivot as one of the sources — a cross-tokenizer window is
   * taught only when the teacher's cross-entropy on the window's text (its own tokens, the bytes
   * the pivot's rows predict) is below the pivot's own at this step; otherwise it trains on CLM alone.
   * "min-ce-row": the same per row — a row is taught only where the gold token is among the
   * teacher's aligned candidates with more probability than the pivot gives it at this step.
   */
  crossGate?: "min-ce" | "min-ce-row";
  /**
   * Every row keeps its full CLM and a taught row adds (1 − λ)·fusion (FuseLLM's control is then
   * exactly the λ = 1 run: same rows, same CLM, only the fusion term added). Default: a taught
   * row's loss is λ·CLM + (1 − λ)·fusion.
   */
  keepClm?: boolean;
  /** Weight of the CLM term, in [0, 1]; 1 = no teacher is run. */
  lambda: number;
  k: number;
  batchSize: number;
  seqLen: number;
  /** The batch seed (the trainer's default objective uses the run's seed). */
  seed: number;
  /** Names the teachers in the checkpoint key (a checkpoint resumes only with the same teachers). */
  teacherIds: readonly string[];
}

/** aligned (FuseLLM, byte-identical candidates), uld (InfiFusion sorted top-k) or both. */
export type CrossFusion = "aligned" | "uld" | "both";
/** What a cross-tokenizer teacher gives when the run does not say (chosen on the dev measure: docs/ARCHITECTURE.md). */
export const DEFAULT_CROSS_FUSION: CrossFusion = "aligned";
export type CrossCandidates = NonNullable<TeacherTargetOptions["candidates"]>;

export function onlineKdObjective(options: OnlineKdOptions): TrainObjective {
  const { tokens, spans, lambda, k, batchSize, seqLen, seed } = options;
  const cross = spans.some((s) => s.crossTeacher);
  const problems: string[] = [];
  if (!(lambda >= 0 && lambda <= 1)) problems.push(`lambda must be in [0, 1] (got ${lambda})`);
  if (!(Number.isInteger(k) && k >= 1)) problems.push(`k must be a positive integer (got ${k})`);
  if (spans.length === 0 || spans.at(-1)!.end !== tokens.length) problems.push(`the spans must end at the token stream's end (${tokens.length})`);
  if (spans.some((s, i) => i > 0 && s.end <= spans[i - 1]!.end)) problems.push("the spans must be consecutive and non-empty");
  if (cross && !options.pivot) problems.push("a cross-tokenizer teacher needs the pivot's tokenizer (options.pivot)");
  if (problems.length) throw new ConfigError(problems);
  const crossFusion = options.crossFusion ?? DEFAULT_CROSS_FUSION;
  const crossCandidates = options.crossCandidates ?? "bytes";
  return {
    // Runs without a cross-tokenizer teacher keep the key (and bits) they had before those existed.
    key: { objective: "online-kd", lambda, k, seed, tokens: tokens.length, spans: spans.map((s) => s.end), teachers: options.teacherIds, ...(cross ? { crossFusion, ...(crossCandidates === "bytes" ? {} : { crossCandidates }), ...(options.crossGate ? { crossGate: options.crossGate } : {}) } : {}), ...(options.keepClm ? { keepClm: true } : {}) },
    tokensPerStep: batchSize * seqLen,
    loss: (model, step) => {
      const batch = batchAt(tokens, seed, step, batchSize, seqLen);
      const inputs = tf.tensor2d(batch.inputs, [batchSize, seqLen], "int32");
      const targets = tf.tensor2d(batch.targets, [batchSize, seqLen], "int32");
      const logits = forwardLogits(model, inputs);
      const nll = tokenNll(logits, targets);
      const clm = tf.mean(nll) as tf.Scalar;
      if (lambda === 1) return clm;
      const rowsOf = teacherRows(batch.inputs, step, options, crossFusion, crossCandidates);
      if (options.crossGate === "min-ce") gateByPivotCe(rowsOf, logits.dataSync() as Float32Array, logits.shape[1], batch.targets, seqLen);
      if (options.crossGate === "min-ce-row") gateRowsByPivotProb(rowsOf, logits.dataSync() as Float32Array, logits.shape[1], batch.targets, seqLen);
      const taught = countTaught(rowsOf);
      const n = batchSize * seqLen;
      const { rows, weight, uld } = taught;
      const aligned = jsLoss(logits, (values, vocab) => alignedKlAndGrad(values, vocab, rows, weight));
      if (options.keepClm) {
        let fusion: tf.Scalar = tf.mul(aligned, taught.alignedCount / n);
        if (uld) fusion = tf.add(fusion, tf.mul(jsLoss(logits, (values, vocab) => uldDistanceAndGrad(values, vocab, uld)), taught.uldCount / n));
        return tf.add(clm, tf.mul(fusion, 1 - lambda)) as tf.Scalar;
      }
      // Every row taught by a same-tokenizer teacher: the original expression, term for term.
      if (taught.count === n && !uld) return tf.add(tf.mul(clm, lambda), tf.mul(aligned, 1 - lambda)) as tf.Scalar;
      // Each term is a mean over its own rows: weigh it by their share of the batch, and give
      // the untaught rows their CLM at full weight, so every row's loss is λ·CLM + (1 − λ)·fusion or CLM.
      let fusion: tf.Scalar = tf.mul(aligned, taught.alignedCount / n);
      if (uld) fusion = tf.add(fusion, tf.mul(jsLoss(logits, (values, vocab) => uldDistanceAndGrad(values, vocab, uld)), taught.uldCount / n));
      const untaught = tf.div(tf.sum(tf.mul(nll, tf.tensor1d(taught.untaught))), n);
      return tf.add(tf.mul(clm, lambda), tf.mul(tf.add(fusion, untaught), 1 - lambda)) as tf.Scalar;
    },
  };
}

/** One part of the online training stream: a text (e.g. one domain's training text) and the teacher its windows listen to. */
export interface OnlinePart {
  text: string;
  /** None: the part's windows train on CLM only. */
  teacher?: Teacher;
  /** Names the part in errors (e.g. its file or domain). */
  name: string;
}

/**
 * The token stream and spans of `onlineKdObjective` from consecutive parts, each encoded on its
 * own (so a span's windows start in that part's text). A teacher with the pivot's tokenizer gives
 * its top-k ids as the pivot's; one with another tokenizer becomes the span's `crossTeacher`.
 */
export function onlineStream(parts: readonly OnlinePart[], tokenizer: BpeTokenizer): Pick<OnlineKdOptions, "tokens" | "spans" | "teacherIds" | "pivot"> {
  const problems: string[] = [];
  const pivotTokenizer = JSON.stringify(tokenizer.files.tokenizer);
  const shares = (t: Teacher) => JSON.stringify(t.tokenizer.files.tokenizer) === pivotTokenizer;
  parts.forEach((p) => {
    if (p.text.length === 0) problems.push(`${p.name}: the training text is empty`);
  });
  if (parts.length === 0) problems.push("no training text");
  if (problems.length) throw new ConfigError(problems);
  const encoded = parts.map((p) => Int32Array.from(tokenizer.encode(p.text)));
  const tokens = new Int32Array(encoded.reduce((n, e) => n + e.length, 0));
  const spans: OnlineKdOptions["spans"][number][] = [];
  let end = 0;
  encoded.forEach((e, i) => {
    tokens.set(e, end);
    end += e.length;
    const teacher = parts[i]!.teacher;
    spans.push(teacher && !shares(teacher) ? { end, crossTeacher: teacher } : { end, teacher: teacher?.model });
  });
  return { tokens, spans, teacherIds: parts.map((p) => p.teacher?.id ?? ""), pivot: tokenizer };
}

interface TeacherRowsOut {
  rows: AlignedRows;
  weight: Float32Array;
  uld?: UldRows;
  /** Cross-tokenizer windows taught: batch index, rows taught and the teacher's nats on their bytes. */
  cross: { b: number; rows: number; teacherNats: number }[];
}

interface TaughtRows {
  rows: AlignedRows;
  /** Aligned-term weight per row (1: taught by a same-tokenizer teacher or an aligned cross one). */
  weight: Float32Array;
  uld?: UldRows;
  /** Rows with any fusion target, rows in the aligned term, rows in the ULD term. */
  count: number;
  alignedCount: number;
  uldCount: number;
  /** 1 on rows with no fusion target (they train on CLM alone). */
  untaught: Float32Array;
}

/** Each window's teacher top-k at every position (rows of windows without a teacher weigh 0). */
function teacherRows(inputs: number[][], step: number, options: OnlineKdOptions, crossFusion: CrossFusion, candidates: CrossCandidates): TeacherRowsOut {
  const { spans, k, seqLen, tokens, seed, batchSize } = options;
  const n = inputs.length * seqLen;
  const rows: AlignedRows = { k, ids: new Int32Array(n * k).fill(-1), probs: new Float32Array(n * k) };
  const weight = new Float32Array(n);
  const uldWanted = crossFusion !== "aligned" && spans.some((s) => s.crossTeacher);
  const uld: UldRows | undefined = uldWanted ? { k, sources: 1, sorted: new Float32Array(n * k), weights: new Float32Array(n) } : undefined;
  const starts = batchStarts(tokens.length, seed, step, batchSize, seqLen);
  const byTeacher = new Map<TrainModel, number[]>();
  const cross: TeacherRowsOut["cross"] = [];
  starts.forEach((start, b) => {
    const span = spans.find((s) => start < s.end)!;
    if (span.teacher) byTeacher.set(span.teacher, [...(byTeacher.get(span.teacher) ?? []), b]);
    else if (span.crossTeacher) crossWindow(cross, tokens.subarray(start, start + seqLen + 1), b, span.crossTeacher, options.pivot!, { fusion: crossFusion, candidates }, { rows, weight, uld, seqLen, k });
  });
  for (const [teacher, windows] of byTeacher) {
    const vocab = teacher.config.vocabSize;
    const logits = tf.tidy(() => forwardLogits(teacher, tf.tensor2d(windows.map((b) => inputs[b]!), [windows.length, seqLen], "int32")).dataSync() as Float32Array);
    const row = new Float64Array(vocab);
    windows.forEach((b, w) => {
      for (let p = 0; p < seqLen; p++) {
        const at = (w * seqLen + p) * vocab;
        let max = -Infinity;
        for (let v = 0; v < vocab; v++) max = Math.max(max, logits[at + v]!);
        let sum = 0;
        for (let v = 0; v < vocab; v++) sum += row[v] = Math.exp(logits[at + v]! - max);
        for (let v = 0; v < vocab; v++) row[v] /= sum;
        const r = b * seqLen + p;
        topK(row, k, rows.ids, rows.probs, r * k);
        weight[r] = 1;
      }
    });
  }
  return { rows, weight, uld, cross };
}

/** MinCE with the pivot as a source: a cross window whose teacher is not better than the pivot on it is untaught. */
function gateByPivotCe(out: TeacherRowsOut, logits: Float32Array, vocab: number, targets: number[][], seqLen: number): void {
  for (const { b, rows, teacherNats } of out.cross) {
    let pivotNats = 0;
    for (let p = 0; p < rows; p++) {
      const at = (b * seqLen + p) * vocab;
      let max = -Infinity;
      for (let v = 0; v < vocab; v++) max = Math.max(max, logits[at + v]!);
      let sum = 0;
      for (let v = 0; v < vocab; v++) sum += Math.exp(logits[at + v]! - max);
      pivotNats += Math.log(sum) + max - logits[at + targets[b]![p]!]!;
    }
    if (teacherNats < pivotNats) continue;
    const from = b * seqLen;
    const k = out.rows.k;
    out.rows.ids.fill(-1, from * k, (from + seqLen) * k);
    out.rows.probs.fill(0, from * k, (from + seqLen) * k);
    out.weight.fill(0, from, from + seqLen);
    if (out.uld) {
      out.uld.sorted.fill(0, from * k, (from + seqLen) * k);
      out.uld.weights.fill(0, from, from + seqLen);
    }
  }
}

/** Per-row MinCE: a row stays taught only where the teacher gives the gold token more probability than the pivot does now. */
function gateRowsByPivotProb(out: TeacherRowsOut, logits: Float32Array, vocab: number, targets: number[][], seqLen: number): void {
  const k = out.rows.k;
  for (const { b } of out.cross) {
    for (let p = 0; p < seqLen; p++) {
      const r = b * seqLen + p;
      if (out.weight[r] === 0 && !(out.uld && out.uld.weights[r]! > 0)) continue;
      const gold = targets[b]![p]!;
      let teacherProb = 0;
      for (let c = 0; c < k; c++) if (out.rows.ids[r * k + c] === gold) teacherProb = out.rows.probs[r * k + c]!;
      const at = r * vocab;
      let max = -Infinity;
      for (let v = 0; v < vocab; v++) max = Math.max(max, logits[at + v]!);
      let sum = 0;
      for (let v = 0; v < vocab; v++) sum += Math.exp(logits[at + v]! - max);
      if (teacherProb > Math.exp(logits[at + gold]! - max) / sum) continue;
      out.rows.ids.fill(-1, r * k, r * k + k);
      out.rows.probs.fill(0, r * k, r * k + k);
      out.weight[r] = 0;
      if (out.uld) {
        out.uld.sorted.fill(0, r * k, r * k + k);
        out.uld.weights[r] = 0;
      }
    }
  }
}

function countTaught({ rows, weight, uld }: TeacherRowsOut): TaughtRows {
  const n = weight.length;
  const untaught = new Float32Array(n);
  let count = 0;
  let alignedCount = 0;
  let uldCount = 0;
  for (let r = 0; r < n; r++) {
    const inUld = uld ? uld.weights[r]! > 0 : false;
    if (weight[r]! > 0) alignedCount++;
    if (inUld) uldCount++;
    if (weight[r]! > 0 || inUld) count++;
    else untaught[r] = 1;
  }
  return { rows, weight, uld, count, alignedCount, uldCount, untaught };
}

/**
 * A window (seqLen + 1 pivot tokens) taught by a teacher with another tokenizer: its text, cut
 * from the end until the teacher's tokens fit its context, scored by the teacher; the window's
 * row p (predicting token p + 1) takes the target of text position p + 1. Skipped (untaught)
 * when the pivot does not re-encode the text to the window's own tokens.
 */
function crossWindow(cross: TeacherRowsOut["cross"], window: Int32Array, b: number, teacher: Teacher, pivot: BpeTokenizer, { fusion, candidates }: { fusion: CrossFusion; candidates: CrossCandidates }, out: { rows: AlignedRows; weight: Float32Array; uld?: UldRows; seqLen: number; k: number }): void {
  const context = teacher.model.config.maxPositions;
  let m = window.length;
  let text = pivot.decode(Array.from(window));
  while (m > 1 && teacher.tokenizer.encode(text).length > context) text = pivot.decode(Array.from(window.subarray(0, --m)));
  if (m < 2) return;
  const encoded = pivot.encode(text);
  if (encoded.length !== m || encoded.some((id, i) => id !== window[i])) return;
  const view = teacherViews(text, [teacher], out.k)[0]!;
  const targets = teacherTargets(text, pivot, [teacher], { k: out.k, aligned: fusion !== "uld", uld: fusion !== "aligned", candidates }, [view]);
  // The teacher's nats on the bytes the pivot's rows predict (from the window's second token on).
  const from = pivot.tokenBytes(window[0]!).length;
  let teacherNats = 0;
  view.starts.slice(0, -1).forEach((start, i) => {
    if (start >= from) teacherNats += view.positionNats[i]!;
  });
  cross.push({ b, rows: m - 1, teacherNats });
  const { k, seqLen } = out;
  for (let t = 1; t < m; t++) {
    const r = b * seqLen + t - 1;
    // A position where no teacher token starts at the pivot token's byte has no candidate: untaught.
    if (targets.aligned && targets.aligned.ids.subarray(t * k, t * k + k).some((id) => id >= 0)) {
      out.rows.ids.set(targets.aligned.ids.subarray(t * k, t * k + k), r * k);
      out.rows.probs.set(targets.aligned.probs.subarray(t * k, t * k + k), r * k);
      out.weight[r] = 1;
    }
    if (targets.uld && out.uld) {
      out.uld.sorted.set(targets.uld.sorted.subarray(t * k, t * k + k), r * k);
      out.uld.weights[r] = 1;
    }
  }
}
