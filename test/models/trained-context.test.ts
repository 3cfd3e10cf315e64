/**
 * Local models are opened at the context they were trained on (the GGUF's context_length), so a
 * long item is scored as the trainer and cogen's own forward pass see it: cut from the left to the
 * trained positions (a long passage in lm-eval's rolling windows of that size), never run past
 * them. Real zoo models on both sides: base-a's GGUF in llama.cpp, its HF folder in tfjs.
 */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors.js";
import { openGguf } from "../../src/formats/gguf/reader.js";
import { readTasksFile, type TaskItem } from "../../src/formats/tasks.js";
import { vocabSequenceStart } from "../../src/formats/sequence-start.js";
import { createLlamaCppModel, type LlamaCppModel } from "../../src/models/llamacpp/model.js";
import { openModel } from "../../src/models/open.js";
import { continuationLogProb } from "../../src/fuse/distill/fpo-objective.js";
import { disposeTeacher, loadTeacher, type Teacher } from "../../src/fuse/distill/teacher-targets.js";
import { rollingLogProb } from "../../src/zoo/train/evaluate.js";
import { cutAtWord } from "../../src/unify/items.js";

const ZOO = path.resolve("zoo");
const GGUF = path.join(ZOO, "a", "base", "model.gguf");
const HF = path.join(ZOO, "a", "base", "hf");
let trained: number;
let model: LlamaCppModel;
let teacher: Teacher;

beforeAll(async () => {
  const gguf = await openGguf(GGUF);
  try {
    trained = gguf.getNumber("llama.context_length")!;
  } finally {
    await gguf.close();
  }
  model = await createLlamaCppModel({ id: "a/base", path: GGUF, threads: 1 });
  teacher = await loadTeacher(HF, "a/base");
});
afterAll(async () => {
  await model?.close();
  if (teacher) disposeTeacher(teacher);
});

describe("a local model's context", () => {
  it("defaults to the positions the GGUF says the model was trained on", () => {
    expect(trained).toBe(teacher.model.config.maxPositions);
    expect(model.contextSize).toBe(trained);
  });

  it("scores a cloze item longer than the trained context as cogen's forward pass does, cut from the left", async () => {
    const items = (await readTasksFile(path.join(ZOO, "items", "cloze.jsonl"))).filter((i): i is TaskItem & { kind: "multiple_choice" } => i.kind === "multiple_choice");
    const long = [];
    for (const item of items) {
      if ((await model.tokenize(item.context + item.choices[0]!)).length > trained + 8) long.push(item);
      if (long.length === 2) break;
    }
    expect(long).toHaveLength(2);
    for (const item of long) {
      for (const choice of item.choices) {
        const llama = await model.logLikelihood(item.context, choice);
        const ours = continuationLogProb(teacher.model, teacher.tokenizer, item.context, choice);
        expect(llama.tokens, item.id).toBe(ours.tokens);
        expect(Math.abs(llama.logprob - ours.logprob), `${item.id} ${choice}`).toBeLessThan(0.02);
      }
    }
  });

  it("scores a passage longer than the trained context in rolling windows of that size, as cogen's forward pass does", async () => {
    const passages = (await readTasksFile(path.join(ZOO, "items", "bits-per-byte.jsonl"))).filter((i): i is TaskItem & { kind: "bits_per_byte" } => i.kind === "bits_per_byte");
    // The demo's cut (256 characters): about 1.5 windows of family A's tokens.
    const text = cutAtWord(passages[0]!.text, 256);
    const whole = [...vocabSequenceStart(teacher.tokenizer.vocab, true), ...teacher.tokenizer.encode(text)];
    expect(whole.length).toBeGreaterThan(trained + 1);
    const own = await model.tokenize(text);
    expect(own).toEqual(whole.slice(whole.length - own.length));
    const llama = await model.logLikelihood("", text);
    expect(llama.tokens).toBe(whole.length - 1);
    const ours = rollingLogProb(teacher.model, whole, 1, trained);
    expect(Math.abs(llama.logprob - ours)).toBeLessThan(0.05);
    // The windows matter: scored as one sequence running past the trained positions, the passage differs.
    expect(Math.abs(rollingLogProb(teacher.model, whole, 1, whole.length - 1) - llama.logprob)).toBeGreaterThan(0.2);
  });

  it("takes a smaller override, and refuses one past the trained positions or not a whole number, naming the expert", async () => {
    const small = await createLlamaCppModel({ id: "small", path: GGUF, threads: 1, contextSize: 32 });
    try {
      expect(small.contextSize).toBe(32);
    } finally {
      await small.close();
    }
    const spec = { id: "a-base", backend: "llamacpp" as const, path: GGUF, threads: 1, domains: [], tags: [] };
    const tooLong = openModel({ ...spec, contextSize: 512 });
    await expect(tooLong).rejects.toBeInstanceOf(ConfigError);
    await expect(tooLong).rejects.toThrow(new RegExp(`expert 'a-base': context_size 512 is longer than the ${trained} positions the model was trained on.*at most ${trained}`));
    for (const bad of [0, 1.5, -4]) await expect(createLlamaCppModel({ id: "x", path: GGUF, contextSize: bad })).rejects.toThrow(/context_size must be a whole number/);
    // The refused opens released the base model: the shared one still scores.
    expect((await model.logLikelihood("fever:", " a rise")).tokens).toBeGreaterThan(0);
  });
});
