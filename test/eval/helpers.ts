/** Shared fixtures for eval and jobs tests: items the stub model can read, expected results. */
import { reference, stubGreedy, STUB_VOCAB } from "../models/openai-stub.js";
import type { TaskItem } from "../../src/formats/tasks.js";
import { parseTasks } from "../../src/formats/tasks.js";
import { bitsPerByte } from "../../src/eval/score.js";

export const ITEMS_JSONL = [
  { id: "mc1", domain: "geo", context: "The capital of France is", choices: [" Paris", " London", " Rome"], answer: 0 },
  { id: "mc2", domain: "geo", context: "The capital", choices: [" of France", " is"], answer: 1 },
  { id: "mc3", domain: "math", context: "The answer is", choices: [" 42", " a", " the answer"], answer: 0 },
  { id: "bpb1", domain: "text", text: "The capital of France is Paris." },
  { id: "bpb2", domain: "text", text: "Hello, world!" },
  { id: "em1", domain: "math", prompt: "The answer", answer: "x" },
  { id: "em2", domain: "math", prompt: "Q", answer: "y", max_tokens: 3 },
].map((o) => JSON.stringify(o)).join("\n") + "\n";

export const ITEMS: TaskItem[] = parseTasks(ITEMS_JSONL, "items.jsonl");

/** The score the stub model must get on an item, computed independently of cogen's runner. */
export function expectedScore(item: TaskItem): number {
  if (item.kind === "multiple_choice") {
    const lls = item.choices.map((c) => reference(item.context, c).logprob);
    return lls.indexOf(Math.max(...lls)) === item.answer ? 1 : 0;
  }
  if (item.kind === "bits_per_byte") return 2 ** -bitsPerByte(reference("", item.text).logprob, Buffer.byteLength(item.text));
  const text = stubGreedy(item.prompt, item.maxTokens).map((t) => STUB_VOCAB[t]).join("").split("\n")[0];
  return item.answers.includes(text.trim()) ? 1 : 0;
}
