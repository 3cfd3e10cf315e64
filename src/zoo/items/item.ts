/**
 * Zoo evaluation items in the wire format of src/formats/tasks.ts: multiple choice
 * `{id, domain, task, context, choices, answer}` (answer = index of the true choice) and bits
 * per byte `{id, domain, task, text}`. Choices carry their own leading space.
 */
import { Rng } from "../../core/rng.js";

export interface MultipleChoiceJson {
  id: string;
  domain: string;
  task: string;
  context: string;
  choices: string[];
  answer: number;
}

export interface BitsPerByteJson {
  id: string;
  domain: string;
  task: string;
  text: string;
}

/** Put the true choice among the distractors at a position drawn from `rng`. */
export function placeAnswer(truth: string, distractors: string[], rng: Rng): { choices: string[]; answer: number } {
  const answer = rng.int(distractors.length + 1);
  const choices = [...distractors];
  choices.splice(answer, 0, truth);
  return { choices, answer };
}

/** A deterministic shuffled copy. */
export function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  return rng.shuffle([...items]);
}

/** One JSON object per line, in order, ending with a newline. */
export function toJsonl(items: readonly object[]): string {
  return items.map((item) => JSON.stringify(item) + "\n").join("");
}
