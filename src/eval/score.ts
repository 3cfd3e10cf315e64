/**
 * Scores as lm-evaluation-harness computes them. Pure functions, no I/O.
 */
import { argmax } from "../core/argmax.js";
import type { LogLikelihood } from "../core/language-model.js";


/** Length in characters as Python counts them (code points), lm-eval's acc_norm denominator. */
export function characterLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

export interface MultipleChoiceScore {
  /** 1 when the most likely choice is the answer. */
  acc: number;
  /** 1 when the most likely choice per character (log-likelihood / length) is the answer. */
  accNorm: number;
  pred: number;
  predNorm: number;
}

/** Accuracy and length-normalised accuracy of a multiple-choice item (lm-eval's acc, acc_norm). */
export function scoreMultipleChoice(lls: readonly LogLikelihood[], choices: readonly string[], answer: number): MultipleChoiceScore {
  const raw = lls.map((ll) => ll.logprob);
  const normalised = lls.map((ll, i) => ll.logprob / characterLength(choices[i]));
  const pred = argmax(raw);
  const predNorm = argmax(normalised);
  return { acc: pred === answer ? 1 : 0, accNorm: predNorm === answer ? 1 : 0, pred, predNorm };
}

/**
 * Bits per byte: −Σ log P / ln 2 over the UTF-8 bytes of the text. Comparable across tokenizers
 * because the denominator is bytes, not tokens. Lower is better.
 */
export function bitsPerByte(logprob: number, bytes: number): number {
  if (bytes <= 0) throw new RangeError("bits per byte of an empty text");
  return -logprob / Math.LN2 / bytes;
}

/** 1 when the generation matches any accepted answer, both trimmed of surrounding whitespace. */
export function exactMatch(generation: string, answers: readonly string[]): number {
  const got = generation.trim();
  return answers.some((a) => a.trim() === got) ? 1 : 0;
}
