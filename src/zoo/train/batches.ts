import { ConfigError } from "../../core/errors.js";
import { Rng } from "../../core/rng.js";

/**
 * Training batches as a pure function of (seed, step): windows of seqLen + 1 consecutive tokens
 * at seeded random offsets. Resuming at step s therefore sees exactly the batches an
 * uninterrupted run sees, with no sampler state to save.
 */
export interface Batch {
  /** [batchSize][seqLen] input ids. */
  inputs: number[][];
  /** The same windows shifted by one: the next token at each position. */
  targets: number[][];
}

export function batchAt(tokens: Int32Array, seed: number, step: number, batchSize: number, seqLen: number): Batch {
  const inputs: number[][] = [];
  const targets: number[][] = [];
  for (const start of batchStarts(tokens.length, seed, step, batchSize, seqLen)) {
    inputs.push(Array.from(tokens.subarray(start, start + seqLen)));
    targets.push(Array.from(tokens.subarray(start + 1, start + seqLen + 1)));
  }
  return { inputs, targets };
}

/** Where batchAt's windows of this step start in the token stream. */
export function batchStarts(tokenCount: number, seed: number, step: number, batchSize: number, seqLen: number): number[] {
  const starts = tokenCount - seqLen;
  if (starts < 1) throw new ConfigError([`the training text has ${tokenCount} tokens; seqLen ${seqLen} needs at least ${seqLen + 1}`]);
  const rng = new Rng((Math.imul(seed >>> 0, 0x2c1b3c6d) ^ Math.imul(step + 1, 0x297a2d39)) >>> 0);
  return Array.from({ length: batchSize }, () => rng.int(starts));
}
