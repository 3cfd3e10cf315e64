import { createHash } from "node:crypto";
import { ConfigError } from "../../core/errors.js";
import { Rng } from "../../core/rng.js";
import { tf } from "../../zoo/train/backend.js";
import { forwardLogits, tokenNll } from "../../zoo/train/model.js";
import type { TrainObjective } from "../../zoo/train/train.js";
import { alignedKlAndGrad, jsLoss, uldDistanceAndGrad, type AlignedRows, type UldRows } from "./fusion-loss.js";
import type { PivotTargets } from "./pivot-targets.js";

/**
 * The distillation objective: λ·CLM + (1 − λ)·fusion, on windows of the target texts.
 *
 * Step s trains on `batchSize` texts drawn with a seeded generator from (seed, s) — a pure
 * function of the step, so a resumed run sees the same batches — each cut to one window of
 * `seqLen` predicted positions at a seeded offset (shorter texts are padded, and padding
 * counts in no term). The input is BOS followed by the text's tokens, so input position t
 * predicts tokens[t]. CLM is the mean next-token cross-entropy (nats); the fusion term is the
 * aligned KL, the ULD distance, or their sum when a text carries both (see fusion-loss.ts).
 * λ = 1 is the CLM control: the same batches and steps, and no fusion term is even computed.
 */
export interface KdObjectiveOptions {
  texts: readonly PivotTargets[];
  /** Weight of the CLM term, in [0, 1]. */
  lambda: number;
  batchSize: number;
  seqLen: number;
  seed: number;
  /** The id fed before the first token (the tokenizer's BOS, else its EOS). */
  bosId: number;
}

export function kdObjective(options: KdObjectiveOptions): TrainObjective {
  const { texts, lambda, batchSize, seqLen, seed, bosId } = options;
  if (texts.length === 0) throw new ConfigError(["distillation needs at least one target text"]);
  if (!(lambda >= 0 && lambda <= 1)) throw new ConfigError([`lambda must be in [0, 1] (got ${lambda})`]);
  return {
    key: { objective: "kd", lambda, texts: texts.length, targetsHash: targetsHash(texts), bosId },
    tokensPerStep: batchSize * seqLen,
    loss: (model, step) => {
      const batch = kdBatch(texts, seed, step, batchSize, seqLen, bosId);
      const inputs = tf.tensor2d(batch.inputs, [batchSize, seqLen], "int32");
      const targets = tf.tensor2d(batch.targets, [batchSize, seqLen], "int32");
      const mask = tf.tensor1d(batch.mask);
      const logits = forwardLogits(model, inputs);
      const clm = tf.div(tf.sum(tf.mul(tokenNll(logits, targets), mask)), Math.max(1, batch.predicted));
      if (lambda === 1) return clm as tf.Scalar;
      const vocab = logits.shape[1];
      const terms: tf.Scalar[] = [];
      if (batch.aligned) {
        const aligned = batch.aligned;
        terms.push(jsLoss(logits, (values) => alignedKlAndGrad(values, vocab, aligned, batch.alignedWeight)));
      }
      if (batch.uld) {
        const uld = batch.uld;
        terms.push(jsLoss(logits, (values) => uldDistanceAndGrad(values, vocab, uld)));
      }
      const fusion = terms.length ? terms.reduce((a, b) => tf.add(a, b)) : tf.scalar(0);
      return tf.add(tf.mul(clm, lambda), tf.mul(fusion, 1 - lambda)) as tf.Scalar;
    },
  };
}

export interface KdBatch {
  /** [batch·seqLen] input ids, row-major. */
  inputs: Int32Array;
  targets: Int32Array;
  /** 1 where a row predicts a real token, 0 on padding. */
  mask: Float32Array;
  predicted: number;
  aligned?: AlignedRows;
  /** Row weight of the aligned term: 1 where the row's text has an aligned target. */
  alignedWeight: Float32Array;
  uld?: UldRows;
}

/** The batch of step `step`: a pure function of (texts, seed, step). */
export function kdBatch(texts: readonly PivotTargets[], seed: number, step: number, batchSize: number, seqLen: number, bosId: number): KdBatch {
  const rng = new Rng((Math.imul(seed >>> 0, 0x5f356495) ^ Math.imul(step + 1, 0x2545f491)) >>> 0);
  const rows = batchSize * seqLen;
  const inputs = new Int32Array(rows).fill(bosId);
  const targets = new Int32Array(rows);
  const mask = new Float32Array(rows);
  const chosen = Array.from({ length: batchSize }, () => {
    const text = texts[rng.int(texts.length)]!;
    const offset = rng.int(Math.max(1, text.tokens.length - seqLen + 1));
    return { text, offset };
  });
  const alignedK = Math.max(0, ...chosen.map((c) => c.text.aligned?.k ?? 0));
  const uldShape = chosen.find((c) => c.text.uld)?.text.uld;
  for (const c of chosen) {
    if (c.text.uld && uldShape && (c.text.uld.k !== uldShape.k || c.text.uld.sources !== uldShape.sources)) {
      throw new ConfigError([`the ULD targets of one run must share k and the number of sources (got k ${c.text.uld.k}/${uldShape.k}, sources ${c.text.uld.sources}/${uldShape.sources})`]);
    }
  }
  const aligned: AlignedRows | undefined = alignedK > 0 ? { k: alignedK, ids: new Int32Array(rows * alignedK).fill(-1), probs: new Float32Array(rows * alignedK) } : undefined;
  const alignedWeight = new Float32Array(rows);
  const uld: UldRows | undefined = uldShape
    ? { k: uldShape.k, sources: uldShape.sources, sorted: new Float32Array(uldShape.sources * rows * uldShape.k), weights: new Float32Array(uldShape.sources * rows) }
    : undefined;
  let predicted = 0;
  chosen.forEach(({ text, offset }, b) => {
    const n = text.tokens.length;
    const used = Math.min(seqLen, n - offset);
    for (let i = 0; i < used; i++) {
      const row = b * seqLen + i;
      const t = offset + i;
      inputs[row] = t === 0 ? bosId : text.tokens[t - 1]!;
      targets[row] = text.tokens[t]!;
      mask[row] = 1;
      predicted++;
      if (aligned && text.aligned) {
        alignedWeight[row] = 1;
        const k = text.aligned.k;
        aligned.ids.set(text.aligned.ids.subarray(t * k, t * k + k), row * aligned.k);
        aligned.probs.set(text.aligned.probs.subarray(t * k, t * k + k), row * aligned.k);
      }
      if (uld && text.uld) {
        const { k, sources } = uld;
        for (let s = 0; s < sources; s++) {
          uld.weights[s * rows + row] = text.uld.weights[s]!;
          uld.sorted.set(text.uld.sorted.subarray((s * n + t) * k, (s * n + t) * k + k), (s * rows + row) * k);
        }
      }
    }
  });
  return { inputs, targets, mask, predicted, aligned, alignedWeight, uld };
}

/** sha256 over every array of every text: a checkpoint resumes only on the same targets. */
function targetsHash(texts: readonly PivotTargets[]): string {
  const hash = createHash("sha256");
  const add = (a: ArrayBufferView | undefined) => {
    hash.update(a ? new Uint8Array(a.buffer, a.byteOffset, a.byteLength) : new Uint8Array(0));
  };
  for (const t of texts) {
    add(t.tokens);
    add(t.aligned?.ids);
    add(t.aligned?.probs);
    add(t.uld?.sorted);
    add(t.uld?.weights);
  }
  return hash.digest("hex");
}
