/**
 * Trivial solvers for multiple-choice items: if one of them beats chance, the items have a
 * surface cue. Each scores every choice; ties share the credit (a tie of k choices that includes
 * the answer scores 1/k), so a solver with no information scores chance in expectation.
 */
import type { MultipleChoiceJson } from "./item.js";
import { charNgrams, CUE_NGRAM, sharedNgramCount } from "./text.js";

export type TrivialSolver = (context: string, choice: string) => number;


export const TRIVIAL_SOLVERS: Record<string, TrivialSolver> = {
  longest: (_context, choice) => choice.length,
  shortest: (_context, choice) => -choice.length,
  /** Distinct character 4-grams of the choice that also occur in the context. */
  "shared-ngrams": (context, choice) => sharedNgramCount(context, choice, CUE_NGRAM),
  /** The same, as a fraction of the choice's 4-grams. */
  "shared-ngram-fraction": (context, choice) => {
    const grams = charNgrams(choice, CUE_NGRAM);
    return grams.size === 0 ? 0 : sharedNgramCount(context, choice, CUE_NGRAM) / grams.size;
  },
};

export interface SolverAccuracy {
  items: number;
  accuracy: number;
  /** Standard error of the mean credit. */
  standardError: number;
  /** Expected accuracy of guessing: the mean of 1/choices. */
  chance: number;
}

export function solverAccuracy(items: readonly MultipleChoiceJson[], solver: TrivialSolver): SolverAccuracy {
  const credits = items.map((item) => {
    const scores = item.choices.map((c) => solver(item.context, c));
    const best = Math.max(...scores);
    const winners = scores.filter((s) => s === best).length;
    return scores[item.answer] === best ? 1 / winners : 0;
  });
  const n = credits.length;
  const mean = credits.reduce((a, b) => a + b, 0) / Math.max(n, 1);
  const variance = credits.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(n - 1, 1);
  const chance = items.reduce((a, item) => a + 1 / item.choices.length, 0) / Math.max(n, 1);
  return { items: n, accuracy: mean, standardError: Math.sqrt(variance / Math.max(n, 1)), chance };
}
