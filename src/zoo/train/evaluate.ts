import { ConfigError } from "../../core/errors.js";
import { initTrainingBackend, tf } from "./backend.js";
import { forwardLogits, tokenNll, type TrainModel } from "./model.js";
import type { BpeTokenizer } from "./tokenize.js";

/**
 * Bits per byte of held-out text: the model's total surprisal of the text's tokens, in bits,
 * divided by the UTF-8 bytes those tokens stand for. Unlike loss per token it compares models
 * with different tokenizers. The text is cut into consecutive windows of `seqLen` predicted
 * tokens (each window starts fresh, without the previous window as context); every token but
 * the first is predicted once.
 */
export interface BitsPerByteOptions {
  seqLen: number;
  /** Windows evaluated together (default 16). */
  batchSize?: number;
}

export interface BitsPerByte {
  bitsPerByte: number;
  /** Predicted tokens and the bytes they stand for. */
  tokens: number;
  bytes: number;
  /** Total surprisal in nats. */
  nats: number;
}

export async function evaluateBitsPerByte(model: TrainModel, tokenizer: BpeTokenizer, text: string, options: BitsPerByteOptions): Promise<BitsPerByte> {
  await initTrainingBackend();
  const { seqLen } = options;
  const batchSize = options.batchSize ?? 16;
  if (!(Number.isSafeInteger(seqLen) && seqLen > 0) || !(Number.isSafeInteger(batchSize) && batchSize > 0)) {
    throw new ConfigError([`seqLen and batchSize must be positive integers (got ${seqLen}, ${batchSize})`], "evaluateBitsPerByte");
  }
  const ids = tokenizer.encode(text);
  if (ids.length < 2) throw new ConfigError([`the held-out text has ${ids.length} token(s); at least 2 are needed`], "evaluateBitsPerByte");
  // Windows of seqLen + 1 tokens overlapping by one, grouped by length (only the last can be shorter).
  const windows: number[][] = [];
  for (let start = 0; start + 1 < ids.length; start += seqLen) windows.push(ids.slice(start, Math.min(ids.length, start + seqLen + 1)));
  let nats = 0;
  let bytes = 0;
  for (let i = 0; i < windows.length; i += batchSize) {
    const group = windows.slice(i, i + batchSize);
    const byLength = new Map<number, number[][]>();
    for (const w of group) byLength.set(w.length, [...(byLength.get(w.length) ?? []), w]);
    for (const [length, ws] of byLength) {
      const inputs = ws.map((w) => w.slice(0, length - 1));
      const targets = ws.map((w) => w.slice(1));
      const nll = tf.tidy(() => {
        const x = tf.tensor2d(inputs, [ws.length, length - 1], "int32");
        const y = tf.tensor2d(targets, [ws.length, length - 1], "int32");
        return tf.sum(tokenNll(forwardLogits(model, x), y)).dataSync()[0];
      });
      nats += nll;
      for (const t of targets.flat()) bytes += tokenizer.tokenBytes(t).length;
    }
  }
  const tokens = ids.length - 1;
  return { bitsPerByte: nats / Math.LN2 / Math.max(bytes, 1), tokens, bytes, nats };
}

/**
 * log P(ids[first..]) in the windows llama.cpp's `logLikelihood` scores a text longer than its
 * context with (lm-eval's rolling windows): each block of `window` targets is predicted from the
 * `window` tokens before its last one, so no position past `window` is ever read. With `window`
 * the model's trained positions, this is the score cogen gives the same model in llama.cpp.
 */
export function rollingLogProb(model: TrainModel, ids: readonly number[], first: number, window: number): number {
  let total = 0;
  for (let start = first; start < ids.length; start += window) {
    const end = Math.min(start + window, ids.length);
    const from = Math.max(0, end - 1 - window);
    const inputs = new Int32Array(window);
    const targets = new Int32Array(window);
    const mask = new Float32Array(window);
    for (let i = from; i < end - 1; i++) {
      inputs[i - from] = ids[i]!;
      targets[i - from] = ids[i + 1]!;
      if (i >= start - 1) mask[i - from] = 1;
    }
    total -= tf.tidy(() => {
      const logits = forwardLogits(model, tf.tensor2d(inputs, [1, window], "int32"));
      return tf.sum(tf.mul(tokenNll(logits, tf.tensor2d(targets, [1, window], "int32")), tf.tensor1d(mask))).dataSync()[0]!;
    });
  }
  return total;
}
