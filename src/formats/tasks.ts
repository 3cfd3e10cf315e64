/**
 * Evaluation items as JSONL, one item per line; the kind is given by the fields present:
 *
 *   multiple choice (scored by log-likelihood):  {"id", "domain"?, "context", "choices": [..], "answer": index | choice text}
 *   bits per byte (log-likelihood of a text):    {"id", "domain"?, "text"}
 *   exact match (greedy generation):             {"id", "domain"?, "prompt", "answer": text | [texts], "max_tokens"?}
 *
 * Choices are scored verbatim as continuations of the context, so they carry their own leading
 * space (" Paris"), as lm-evaluation-harness's target delimiter would add. An optional "task"
 * names the benchmark (default: the domain). Blank lines are skipped; every error names the
 * file and line.
 */
import { InputFileError } from "../core/errors.js";
import { readTextFile } from "../core/files.js";
import { didYouMean, unknownKeys } from "../core/suggest.js";
import { forEachJsonlObject } from "./jsonl.js";
import { DEFAULT_DOMAIN } from "../core/evidence.js";

interface ItemBase {
  id: string;
  domain: string;
  task: string;
}
export interface MultipleChoiceItem extends ItemBase {
  kind: "multiple_choice";
  context: string;
  choices: string[];
  /** Index of the correct choice. */
  answer: number;
}
export interface BitsPerByteItem extends ItemBase {
  kind: "bits_per_byte";
  text: string;
}
export interface ExactMatchItem extends ItemBase {
  kind: "exact_match";
  prompt: string;
  /** Accepted answers (compared after trimming whitespace). */
  answers: string[];
  maxTokens: number;
}
export type TaskItem = MultipleChoiceItem | BitsPerByteItem | ExactMatchItem;

export const DEFAULT_EXACT_MATCH_MAX_TOKENS = 64;

/** One JSONL line for `item` that parseTasks reads back as the same item (the writer of this format). */
export function formatTaskLine(item: TaskItem): string {
  const base = { id: item.id, domain: item.domain, task: item.task };
  if (item.kind === "multiple_choice") return JSON.stringify({ ...base, context: item.context, choices: item.choices, answer: item.answer });
  if (item.kind === "bits_per_byte") return JSON.stringify({ ...base, text: item.text });
  return JSON.stringify({ ...base, prompt: item.prompt, answer: item.answers, max_tokens: item.maxTokens });
}
const MAX_CHOICES = 1000;
const COMMON_KEYS = ["id", "domain", "task"];
const MULTIPLE_CHOICE_KEYS = ["context", "choices", "answer"];
const BITS_PER_BYTE_KEYS = ["text"];
const EXACT_MATCH_KEYS = ["prompt", "answer", "max_tokens"];

export async function readTasksFile(file: string): Promise<TaskItem[]> {
  const text = await readTextFile(file);
  return parseTasks(text, file);
}

export function parseTasks(text: string, file: string): TaskItem[] {
  const items: TaskItem[] = [];
  const seen = new Map<string, number>();
  forEachJsonlObject(text, file, "(an item must be a JSON object)", (value, line) => {
    const item = parseItem(value, (problem) => new InputFileError(file, problem, line));
    const previous = seen.get(item.id);
    if (previous !== undefined) throw new InputFileError(file, `duplicate id '${item.id}' (first on line ${previous})`, line);
    seen.set(item.id, line);
    items.push(item);
  });
  if (items.length === 0) throw new InputFileError(file, "no items");
  return items;
}

function parseItem(value: unknown, fail: (problem: string) => Error): TaskItem {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw fail("an item must be a JSON object");
  const o = value as Record<string, unknown>;
  const str = (field: string, allowEmpty = false): string => {
    const v = o[field];
    if (typeof v !== "string") throw fail(`'${field}' must be a string`);
    if (!allowEmpty && v === "") throw fail(`'${field}' must not be empty`);
    return v;
  };
  const id = typeof o.id === "number" && Number.isInteger(o.id) ? String(o.id) : str("id");
  const domain = o.domain === undefined ? DEFAULT_DOMAIN : str("domain");
  const task = o.task === undefined ? domain : str("task");
  const base = { id, domain, task };
  // A key the item's kind does not use is a typo or a mixed item: refused, with the closest name.
  const only = (kindKeys: readonly string[]) => {
    const problems = unknownKeys(o, [...COMMON_KEYS, ...kindKeys], "field", (key) => `'${key}'`);
    if (problems.length) throw fail(problems.join("; "));
  };
  if ("choices" in o || "context" in o) {
    only(MULTIPLE_CHOICE_KEYS);
    const context = str("context", true);
    const choices = o.choices;
    if (!Array.isArray(choices) || choices.length < 2 || choices.length > MAX_CHOICES || !choices.every((c) => typeof c === "string" && c !== "")) {
      throw fail(`'choices' must be a list of 2 to ${MAX_CHOICES} non-empty strings`);
    }
    let answer: number;
    if (typeof o.answer === "number") {
      if (!Number.isInteger(o.answer) || o.answer < 0 || o.answer >= choices.length) {
        throw fail(`'answer' ${o.answer} is not a choice index (0..${choices.length - 1})`);
      }
      answer = o.answer;
    } else if (typeof o.answer === "string") {
      answer = choices.indexOf(o.answer);
      if (answer < 0) throw fail(`'answer' ${JSON.stringify(o.answer)} is not one of the choices`);
    } else {
      throw fail("'answer' must be a choice index or the text of a choice");
    }
    return { kind: "multiple_choice", ...base, context, choices: choices as string[], answer };
  }
  if ("text" in o) {
    only(BITS_PER_BYTE_KEYS);
    return { kind: "bits_per_byte", ...base, text: str("text") };
  }
  if ("prompt" in o) {
    only(EXACT_MATCH_KEYS);
    const prompt = str("prompt");
    const answer = o.answer;
    const answers = typeof answer === "string" ? [answer] : answer;
    if (!Array.isArray(answers) || answers.length === 0 || !answers.every((a) => typeof a === "string")) {
      throw fail("'answer' must be a string or a non-empty list of strings");
    }
    let maxTokens = DEFAULT_EXACT_MATCH_MAX_TOKENS;
    if (o.max_tokens !== undefined) {
      if (typeof o.max_tokens !== "number" || !Number.isInteger(o.max_tokens) || o.max_tokens < 1 || o.max_tokens > 100_000) {
        throw fail("'max_tokens' must be an integer from 1 to 100000");
      }
      maxTokens = o.max_tokens;
    }
    return { kind: "exact_match", ...base, prompt, answers: answers as string[], maxTokens };
  }
  const known = [...COMMON_KEYS, ...MULTIPLE_CHOICE_KEYS, ...BITS_PER_BYTE_KEYS, ...EXACT_MATCH_KEYS];
  const hints = Object.keys(o).filter((k) => !known.includes(k)).map((k) => `'${k}'${didYouMean(k, known)}`);
  throw fail(`cannot tell the item's kind: give 'context'+'choices' (multiple choice), 'text' (bits per byte) or 'prompt'+'answer' (exact match)${hints.length ? `; unknown field ${hints.join(", ")}` : ""}`);
}
