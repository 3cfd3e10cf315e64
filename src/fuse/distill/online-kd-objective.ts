import { ConfigError } from "../../core/errors.js";
import { tf } from "../../zoo/train/backend.js";
import { batchAt, batchStarts } from "../../zoo/train/batches.js";
import { forwardLogits, tokenNll, type TrainModel } from "../../zoo/train/model.js";
import type { BpeTokenizer } from "../../zoo/train/tokenize.js";
import type { TrainObjective } from "../../zoo/train/train.js";
import { alignedKlAndGrad, jsLoss, type AlignedRows } from "./fusion-loss.js";
import { topK, type Teacher } from "./teacher-targets.js";

/**
 * Online distillation (teachers run inside the step, as TRL's GKD / distillation trainers do):
 * the pivot trains on exactly the batches of the trainer's default objective — seeded windows of
 * one token stream (`batchAt`), so λ = 1 is the plain CLM run of the same seed, steps and data,
 * e.g. the zoo's control or centralised model — and each window also listens to the teacher of
 * the span it starts in (the expert of that window's domain: the router's choice, distilled).
 * Teachers share the pivot's tokenizer; their top-k per position is the aligned (FuseLLM) target
 * with the leftover mass kept as one bucket (fusion-loss.ts). Nothing is precomputed, so a run
 * never revisits a small sample of texts: every step's windows are fresh text.
 */
export interface OnlineKdOptions {
  /** The training text in the pivot's (and teachers') tokens. */
  tokens: Int32Array;
  /** Consecutive spans of `tokens` (e.g. one per domain), each with its teacher (none: CLM only). */
  spans: readonly { end: number; teacher?: TrainModel }[];
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

export function onlineKdObjective(options: OnlineKdOptions): TrainObjective {
  const { tokens, spans, lambda, k, batchSize, seqLen, seed } = options;
  const problems: string[] = [];
  if (!(lambda >= 0 && lambda <= 1)) problems.push(`lambda must be in [0, 1] (got ${lambda})`);
  if (!(Number.isInteger(k) && k >= 1)) problems.push(`k must be a positive integer (got ${k})`);
  if (spans.length === 0 || spans.at(-1)!.end !== tokens.length) problems.push(`the spans must end at the token stream's end (${tokens.length})`);
  if (spans.some((s, i) => i > 0 && s.end <= spans[i - 1]!.end)) problems.push("the spans must be consecutive and non-empty");
  if (problems.length) throw new ConfigError(problems);
  return {
    key: { objective: "online-kd", lambda, k, seed, tokens: tokens.length, spans: spans.map((s) => s.end), teachers: options.teacherIds },
    tokensPerStep: batchSize * seqLen,
    loss: (model, step) => {
      const batch = batchAt(tokens, seed, step, batchSize, seqLen);
      const inputs = tf.tensor2d(batch.inputs, [batchSize, seqLen], "int32");
      const targets = tf.tensor2d(batch.targets, [batchSize, seqLen], "int32");
      const logits = forwardLogits(model, inputs);
      const clm = tf.mean(tokenNll(logits, targets)) as tf.Scalar;
      if (lambda === 1) return clm;
      const { rows, weight } = teacherRows(batch.inputs, step, options);
      const fusion = jsLoss(logits, (values, vocab) => alignedKlAndGrad(values, vocab, rows, weight));
      return tf.add(tf.mul(clm, lambda), tf.mul(fusion, 1 - lambda)) as tf.Scalar;
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
 * own (so a span's windows start in that part's text). Every teacher must share the pivot's
 * tokenizer: the targets are its top-k ids, read as the pivot's (across tokenizers, use the
 * precomputed aligned or ULD targets of `kdObjective`).
 */
export function onlineStream(parts: readonly OnlinePart[], tokenizer: BpeTokenizer): Pick<OnlineKdOptions, "tokens" | "spans" | "teacherIds"> {
  const problems: string[] = [];
  const pivotTokenizer = JSON.stringify(tokenizer.files.tokenizer);
  parts.forEach((p) => {
    if (p.text.length === 0) problems.push(`${p.name}: the training text is empty`);
    if (p.teacher && JSON.stringify(p.teacher.tokenizer.files.tokenizer) !== pivotTokenizer) {
      problems.push(`${p.name}: the teacher ${p.teacher.id} has another tokenizer than the pivot; online distillation needs teachers that share the pivot's tokenizer`);
    }
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
    spans.push({ end, teacher: parts[i]!.teacher?.model });
  });
  return { tokens, spans, teacherIds: parts.map((p) => p.teacher?.id ?? "") };
}

/** Each window's teacher top-k at every position (rows of windows without a teacher weigh 0). */
function teacherRows(inputs: number[][], step: number, options: OnlineKdOptions): { rows: AlignedRows; weight: Float32Array } {
  const { spans, k, seqLen, tokens, seed, batchSize } = options;
  const n = inputs.length * seqLen;
  const rows: AlignedRows = { k, ids: new Int32Array(n * k).fill(-1), probs: new Float32Array(n * k) };
  const weight = new Float32Array(n);
  const starts = batchStarts(tokens.length, seed, step, batchSize, seqLen);
  const byTeacher = new Map<TrainModel, number[]>();
  starts.forEach((start, b) => {
    const teacher = spans.find((s) => start < s.end)!.teacher;
    if (teacher) byTeacher.set(teacher, [...(byTeacher.get(teacher) ?? []), b]);
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
  return { rows, weight };
}
