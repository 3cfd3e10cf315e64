import { createHash } from "node:crypto";
import { ConfigError } from "../../core/errors.js";
import { Rng } from "../../core/rng.js";
import { tf } from "../../zoo/train/backend.js";
import { forwardLogits, tokenNll, type TrainModel } from "../../zoo/train/model.js";
import type { TrainObjective } from "../../zoo/train/train.js";
import type { BpeTokenizer } from "../../zoo/train/tokenize.js";

/**
 * InfiFPO: DPO whose reference model is a fusion of the sources. For a pair (prompt, chosen y_w,
 * rejected y_l) the loss is
 *   −log σ(β·[(ℓ_θ(y_w) − ℓ_θ(y_l)) − (ℓ_ref(y_w) − ℓ_ref(y_l))])  (+ λ·NLL of y_w per token)
 * where ℓ_θ(y) is the pivot's length-normalised log-probability of the response given the prompt
 * (mean log-probability per pivot token) and ℓ_ref is the fused reference's, read from the
 * record: each source's length-normalised log-probability in its own tokenisation, combined with
 * the source weights and clipped by whoever wrote the records (`cogen distill prefs`). The
 * optional λ·NLL term (as RPO adds) keeps the chosen responses likely; λ = 0 is pure InfiFPO.
 */
export interface FpoRecord {
  prompt: string;
  chosen: string;
  rejected: string;
  /** The fused reference's length-normalised log-probabilities (nats per token). */
  reference: { chosen: number; rejected: number };
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
}

export const DEFAULT_FPO_BETA = 2;

export function fpoObjective(options: FpoObjectiveOptions): TrainObjective {
  const { records, beta, lambda, batchSize, seqLen, seed, bosId } = options;
  const problems: string[] = [];
  if (records.length === 0) problems.push("FPO needs at least one preference record");
  if (!(beta > 0)) problems.push(`beta must be positive (got ${beta})`);
  if (!(lambda >= 0 && lambda <= 1)) problems.push(`lambda must be in [0, 1] (got ${lambda})`);
  if (problems.length) throw new ConfigError(problems, "fpo");
  const encoded = new Map<number, EncodedPair>();
  return {
    key: { objective: "fpo", beta, lambda, records: records.length, recordsHash: recordsHash(records), bosId },
    tokensPerStep: 2 * batchSize * seqLen,
    loss: (model, step, tokenizer) => {
      const rng = new Rng((Math.imul(seed >>> 0, 0x6c8e9cf5) ^ Math.imul(step + 1, 0x3c6ef372)) >>> 0);
      const pairs = Array.from({ length: batchSize }, () => {
        const i = rng.int(records.length);
        let pair = encoded.get(i);
        if (!pair) encoded.set(i, (pair = encodePair(records[i]!, tokenizer)));
        return { pair, record: records[i]! };
      });
      // Rows 0..B-1 chosen, B..2B-1 rejected.
      const sequences = [...pairs.map((p) => p.pair.chosen), ...pairs.map((p) => p.pair.rejected)];
      const inputs = new Int32Array(2 * batchSize * seqLen).fill(bosId);
      const targets = new Int32Array(2 * batchSize * seqLen);
      const mask = new Float32Array(2 * batchSize * seqLen);
      const counts = new Float32Array(2 * batchSize);
      sequences.forEach((seq, r) => {
        const window = packSequence(seq.prompt, seq.response, seqLen, bosId);
        inputs.set(window.inputs, r * seqLen);
        targets.set(window.targets, r * seqLen);
        mask.set(window.mask, r * seqLen);
        counts[r] = window.responseTokens;
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
  chosen: { prompt: number[]; response: number[] };
  rejected: { prompt: number[]; response: number[] };
}

/** Prompt and response are tokenised apart (as lm-eval scores a continuation), so both responses share the prompt's tokens. */
function encodePair(record: FpoRecord, tokenizer: BpeTokenizer): EncodedPair {
  const prompt = tokenizer.encode(record.prompt);
  return {
    chosen: { prompt, response: tokenizer.encode(record.chosen) },
    rejected: { prompt, response: tokenizer.encode(record.rejected) },
  };
}

/** BOS + prompt + response in seqLen predicted positions; the mask marks positions that predict response tokens. */
export function packSequence(prompt: readonly number[], response: readonly number[], seqLen: number, bosId: number): { inputs: Int32Array; targets: Int32Array; mask: Float32Array; responseTokens: number } {
  if (response.length === 0) throw new ConfigError(["a preference response is empty"]);
  if (response.length > seqLen) throw new ConfigError([`a preference response has ${response.length} tokens, more than seqLen ${seqLen}`]);
  const all = [bosId, ...prompt.slice(Math.max(0, prompt.length - (seqLen - response.length))), ...response];
  const predicted = all.length - 1;
  const inputs = new Int32Array(seqLen).fill(bosId);
  const targets = new Int32Array(seqLen);
  const mask = new Float32Array(seqLen);
  for (let i = 0; i < predicted; i++) {
    inputs[i] = all[i]!;
    targets[i] = all[i + 1]!;
    if (i + 1 >= all.length - response.length) mask[i] = 1;
  }
  return { inputs, targets, mask, responseTokens: response.length };
}

function recordsHash(records: readonly FpoRecord[]): string {
  const hash = createHash("sha256");
  for (const r of records) hash.update(JSON.stringify([r.prompt, r.chosen, r.rejected, r.reference.chosen, r.reference.rejected]) + "\n");
  return hash.digest("hex");
}

/**
 * A model's length-normalised log-probability of `response` after `prompt` (mean nats per token of
 * its own tokenisation): what InfiFPO compares, for the policy and for every source.
 */
export function meanResponseLogProb(model: TrainModel, tokenizer: BpeTokenizer, prompt: string, response: string): number {
  const bosId = tokenizer.vocab.bosId ?? tokenizer.vocab.eosId ?? 0;
  const promptIds = tokenizer.encode(prompt);
  const responseIds = tokenizer.encode(response);
  const seqLen = promptIds.length + responseIds.length;
  const packed = packSequence(promptIds, responseIds, seqLen, bosId);
  const nll = tf.tidy(() => {
    const logits = forwardLogits(model, tf.tensor2d(packed.inputs, [1, seqLen], "int32"));
    return tf.sum(tf.mul(tokenNll(logits, tf.tensor2d(packed.targets, [1, seqLen], "int32")), tf.tensor1d(packed.mask))).dataSync()[0]!;
  });
  return -nll / packed.responseTokens;
}
