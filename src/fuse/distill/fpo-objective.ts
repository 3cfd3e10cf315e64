import { createHash } from "node:crypto";
import { ConfigError } from "../../core/errors.js";
import { Rng } from "../../core/rng.js";
import { vocabSequenceStart } from "../../formats/sequence-start.js";
import { tf } from "../../zoo/train/backend.js";
import { forwardLogits, tokenNll, type TrainModel } from "../../zoo/train/model.js";
import type { TrainObjective } from "../../zoo/train/train.js";
import type { BpeTokenizer } from "../../zoo/train/tokenize.js";

/**
 * InfiFPO: DPO whose reference model is a fusion of the sources. For a pair (prompt, chosen y_w,
 * rejected y_l) the loss is
 *   −log σ(β·[(ℓ_θ(y_w) − ℓ_θ(y_l)) − (ℓ_ref(y_w) − ℓ_ref(y_l))])  (+ λ·NLL of y_w per token)
 * where ℓ_θ(y) is the pivot's length-normalised log-probability of the response given the prompt
 * and ℓ_ref is the fused reference's, read from the record: each source's length-normalised
 * log-probability in its own tokenisation, combined with the source weights and clipped by whoever
 * wrote the records. The optional λ·NLL term (as RPO adds) keeps the chosen responses likely;
 * λ = 0 is pure InfiFPO.
 *
 * Length normalisation (`unit`): "token" divides by the response's tokens (InfiFPO's, and
 * `cogen distill prefs`'s default); "byte" divides by its UTF-8 bytes, which needs no tokenizer to
 * compare sources and, for responses of equal length (the zoo's cloze choices), ranks them exactly
 * as lm-eval's acc (the sum of log-probabilities) does.
 *
 * The response is scored as an evaluation harness scores a continuation: prompt + response is
 * tokenised whole, the response's tokens are those past the prompt's own tokens, and a prompt too
 * long for the window is cut from the left (llama.cpp's logLikelihood in src/models/llamacpp).
 */
export type FpoUnit = "token" | "byte";

export interface FpoRecord {
  prompt: string;
  chosen: string;
  rejected: string;
  /** The fused reference's length-normalised log-probabilities (nats per token or per byte: the objective's unit). */
  reference: { chosen: number; rejected: number };
  /** The unit `reference` is in, where the record says (fpo-records.ts); the objective refuses another. */
  unit?: FpoUnit;
}

export interface FpoObjectiveOptions {
  records: readonly FpoRecord[];
  /** Inverse temperature of the preference margin. */
  beta: number;
  /** Weight of the chosen responses' NLL (0: none). */
  lambda: number;
  /** Pairs per step. */
  batchSize: number;
  /** Positions per sequence (prompt + response; longer prompts are cut from the left). */
  seqLen: number;
  seed: number;
  bosId: number;
  /** What ℓ divides by (default: the records' unit, else "token"); the records' reference must be in the same unit. */
  unit?: FpoUnit;
}

export const DEFAULT_FPO_BETA = 2;

export function fpoObjective(options: FpoObjectiveOptions): TrainObjective {
  const { records, beta, lambda, batchSize, seqLen, seed, bosId } = options;
  const unit = options.unit ?? records.find((r) => r.unit)?.unit ?? "token";
  const problems: string[] = [];
  if (records.length === 0) problems.push("FPO needs at least one preference record");
  const other = records.findIndex((r) => r.unit !== undefined && r.unit !== unit);
  if (other >= 0) problems.push(`preference record ${other + 1}'s "unit" is "${records[other]!.unit}" but the objective normalises per ${unit}: references and ℓθ must share one unit`);
  if (!(beta > 0)) problems.push(`beta must be positive (got ${beta})`);
  if (!(lambda >= 0 && lambda <= 1)) problems.push(`lambda must be in [0, 1] (got ${lambda})`);
  if (problems.length) throw new ConfigError(problems, "fpo");
  const encoded = new Map<number, EncodedPair>();
  return {
    // packing 2: sequences start as src/formats/sequence-start.ts says (packing 1 put BOS first always).
    key: { objective: "fpo", beta, lambda, records: records.length, recordsHash: recordsHash(records), bosId, packing: 2, ...(unit === "token" ? {} : { unit }) },
    tokensPerStep: 2 * batchSize * seqLen,
    loss: (model, step, tokenizer) => {
      const rng = new Rng((Math.imul(seed >>> 0, 0x6c8e9cf5) ^ Math.imul(step + 1, 0x3c6ef372)) >>> 0);
      const pairs = Array.from({ length: batchSize }, () => {
        const i = rng.int(records.length);
        let pair = encoded.get(i);
        if (!pair) encoded.set(i, (pair = encodePair(records[i]!, tokenizer, seqLen)));
        return { pair, record: records[i]! };
      });
      // Rows 0..B-1 chosen, B..2B-1 rejected.
      const sequences = [...pairs.map((p) => p.pair.chosen), ...pairs.map((p) => p.pair.rejected)];
      const inputs = new Int32Array(2 * batchSize * seqLen).fill(bosId);
      const targets = new Int32Array(2 * batchSize * seqLen);
      const mask = new Float32Array(2 * batchSize * seqLen);
      const counts = new Float32Array(2 * batchSize);
      sequences.forEach((window, r) => {
        inputs.set(window.inputs, r * seqLen);
        targets.set(window.targets, r * seqLen);
        mask.set(window.mask, r * seqLen);
        counts[r] = unit === "byte" ? window.responseBytes : window.responseTokens;
      });
      const refMargin = tf.tensor1d(pairs.map((p) => p.record.reference.chosen - p.record.reference.rejected));
      const logits = forwardLogits(model, tf.tensor2d(inputs, [2 * batchSize, seqLen], "int32"));
      const nll = tf.mul(tokenNll(logits, tf.tensor2d(targets, [2 * batchSize, seqLen], "int32")), tf.tensor1d(mask));
      const meanLogProb = tf.div(tf.neg(tf.sum(tf.reshape(nll, [2 * batchSize, seqLen]), 1)), tf.tensor1d(counts));
      const [chosen, rejected] = tf.split(meanLogProb, 2);
      const margin = tf.mul(tf.sub(tf.sub(chosen!, rejected!), refMargin), beta);
      const preference = tf.mean(tf.softplus(tf.neg(margin)));
      if (lambda === 0) return preference as tf.Scalar;
      return tf.add(preference, tf.mul(tf.neg(tf.mean(chosen!)), lambda)) as tf.Scalar;
    },
  };
}

interface EncodedPair {
  chosen: PackedContinuation;
  rejected: PackedContinuation;
}

function encodePair(record: FpoRecord, tokenizer: BpeTokenizer, seqLen: number): EncodedPair {
  return {
    chosen: packContinuation(tokenizer, record.prompt, record.chosen, seqLen),
    rejected: packContinuation(tokenizer, record.prompt, record.rejected, seqLen),
  };
}

export interface PackedContinuation {
  inputs: Int32Array;
  targets: Int32Array;
  /** 1 where the position predicts a token of the response. */
  mask: Float32Array;
  responseTokens: number;
  responseBytes: number;
}

/**
 * Prompt + response in `seqLen` predicted positions, as a harness scores a continuation (the
 * llama.cpp backend's logLikelihood): the text is tokenised whole, the response's tokens are those
 * past the prompt's own tokens, the sequence starts as src/formats/sequence-start.ts says (BOS only
 * where the tokenizer asks for it, or before an empty prompt), and the last seqLen + 1 tokens are
 * kept (a long prompt loses its start). Positions past the sequence are padding (masked).
 */
export function packContinuation(tokenizer: BpeTokenizer, prompt: string, response: string, seqLen: number): PackedContinuation {
  const own = tokenizer.encode(prompt);
  const whole = tokenizer.encode(prompt + response);
  let common = 0;
  while (common < own.length && common < whole.length && own[common] === whole[common]) common++;
  const responseTokens = whole.length - common;
  if (responseTokens === 0) throw new ConfigError([`a preference response ${JSON.stringify(response.slice(0, 40))} has no tokens of its own after its prompt`]);
  if (responseTokens > seqLen) throw new ConfigError([`a preference response has ${responseTokens} tokens, more than seqLen ${seqLen}`]);
  const all = [...vocabSequenceStart(tokenizer.vocab, prompt === ""), ...whole];
  if (all.length === responseTokens) {
    throw new ConfigError([`the response ${JSON.stringify(response.slice(0, 40))} shares its first token with the prompt ${JSON.stringify(prompt.slice(0, 40))} and the tokenizer adds no BOS: nothing comes before it to score it from`]);
  }
  const kept = all.slice(Math.max(0, all.length - 1 - seqLen));
  const firstTarget = kept.length - 1 - responseTokens;
  const inputs = new Int32Array(seqLen).fill(padId(tokenizer));
  const targets = new Int32Array(seqLen);
  const mask = new Float32Array(seqLen);
  for (let i = 0; i < kept.length - 1; i++) {
    inputs[i] = kept[i]!;
    targets[i] = kept[i + 1]!;
    if (i >= firstTarget) mask[i] = 1;
  }
  return { inputs, targets, mask, responseTokens, responseBytes: Buffer.byteLength(response, "utf8") };
}

/** Any id fills the positions past a packed sequence (they are masked and come after it); BOS as the trainers pad. */
function padId(tokenizer: BpeTokenizer): number {
  return tokenizer.vocab.bosId ?? tokenizer.vocab.eosId ?? 0;
}

function recordsHash(records: readonly FpoRecord[]): string {
  const hash = createHash("sha256");
  for (const r of records) hash.update(JSON.stringify([r.prompt, r.chosen, r.rejected, r.reference.chosen, r.reference.rejected]) + "\n");
  return hash.digest("hex");
}

/**
 * A model's log-probability of `response` after `prompt` (nats, summed), scored as packContinuation
 * packs it within the model's context, with the response's tokens and bytes.
 */
export function continuationLogProb(model: TrainModel, tokenizer: BpeTokenizer, prompt: string, response: string): { logprob: number; tokens: number; bytes: number } {
  const seqLen = model.config.maxPositions;
  const packed = packContinuation(tokenizer, prompt, response, seqLen);
  const nll = tf.tidy(() => {
    const logits = forwardLogits(model, tf.tensor2d(packed.inputs, [1, seqLen], "int32"));
    return tf.sum(tf.mul(tokenNll(logits, tf.tensor2d(packed.targets, [1, seqLen], "int32")), tf.tensor1d(packed.mask))).dataSync()[0]!;
  });
  return { logprob: -nll, tokens: packed.responseTokens, bytes: packed.responseBytes };
}

/**
 * A model's length-normalised log-probability of `response` after `prompt` (mean nats per token of
 * its own tokenisation, or per byte): what InfiFPO compares, for the policy and for every source.
 */
export function meanResponseLogProb(model: TrainModel, tokenizer: BpeTokenizer, prompt: string, response: string, unit: FpoUnit = "token"): number {
  const scored = continuationLogProb(model, tokenizer, prompt, response);
  return scored.logprob / (unit === "byte" ? scored.bytes : scored.tokens);
}
