import { promises as fs } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackendError } from "../../src/core/errors.js";
import type { SequenceToken } from "../../src/core/language-model.js";
import { createLlamaCppModel } from "../../src/models/llamacpp/model.js";
import { tokenByteSpans } from "../../src/models/llamacpp/spans.js";
import { createOpenAIModel } from "../../src/models/openai/model.js";
import { makeTinyLlama, tempDir } from "../fixtures/tiny-llama.js";
import { reference, startStub, type StubServer } from "./openai-stub.js";

/** The spans tile the text's bytes in order, and each token's bytes are what it stands for. */
function expectTiling(text: string, tokens: SequenceToken[]): void {
  const bytes = Buffer.from(text, "utf8");
  let at = 0;
  for (const t of tokens) {
    expect(t.start).toBe(at);
    expect(t.end).toBeGreaterThanOrEqual(t.start);
    at = t.end;
  }
  expect(at).toBe(bytes.length);
  const whole = tokens.filter((t) => !t.text.includes("\uFFFD"));
  for (const t of whole) expect(bytes.subarray(t.start, t.end).toString("utf8")).toBe(t.text);
}

describe("tokenByteSpans", () => {
  it("gives a character split over tokens an empty span, then the whole character", () => {
    // "é" = C3 A9 split over two byte tokens; "☃" = E2 98 83 over three.
    const pieces = ["ab", "\uFFFD", "\uFFFD", "c", "\uFFFD", "\uFFFD", "\uFFFD"];
    const text = "abéc☃";
    const decode = (from: number, to: number) => {
      const runs: Record<string, string> = { "1,2": "\uFFFD", "1,3": "é", "4,5": "\uFFFD", "4,6": "\uFFFD", "4,7": "☃" };
      return runs[`${from},${to}`];
    };
    expect(tokenByteSpans(text, pieces, decode)).toEqual([0, 2, 2, 4, 5, 5, 5, 8]);
  });

  it("drops a space prefix the tokenizer adds", () => {
    expect(tokenByteSpans("hi there", [" hi", " there"], () => "")).toEqual([0, 2, 8]);
  });
});

describe("sequenceTopK on llama.cpp", () => {
  let root: string;
  beforeAll(async () => {
    root = await tempDir();
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  for (const flavour of ["byte-level", "byte-fallback"] as const) {
    it(`scores every token in one pass as logLikelihood does, with spans and sorted top-k (${flavour})`, async () => {
      const tiny = await makeTinyLlama(root, flavour);
      const model = await createLlamaCppModel({ id: "tiny", path: await tiny.gguf(), contextSize: 128 });
      try {
        const text = "The heart pumps blood, café ☃ river";
        const tokens = await model.sequenceTopK!(text, 5);
        const ids = await model.tokenize(text);
        expect(tokens.map((t) => t.token)).toEqual(ids);
        const reference = await model.logLikelihood("", text);
        expect(reference.perToken!.ids).toEqual(ids);
        tokens.forEach((t, i) => expect(t.logprob).toBeCloseTo(reference.perToken!.logprobs[i], 4));
        expectTiling(text, tokens);
        for (const t of tokens) {
          expect(t.top).toHaveLength(5);
          for (let j = 1; j < t.top.length; j++) expect(t.top[j].logprob).toBeLessThanOrEqual(t.top[j - 1].logprob);
          expect(t.top[0].logprob).toBeGreaterThanOrEqual(t.logprob - 1e-6);
          const own = t.top.find((c) => c.token === t.token);
          if (own) expect(own.logprob).toBeCloseTo(t.logprob, 6);
        }
        // Scoring again, after other work, gives identical numbers (no cache carried over).
        await model.logLikelihood("A contract", " is");
        expect(await model.sequenceTopK!(text, 5)).toEqual(tokens);
      } finally {
        await model.close();
      }
    });
  }

  it("refuses a text longer than the context instead of cutting it", async () => {
    const tiny = await makeTinyLlama(root, "byte-level");
    const model = await createLlamaCppModel({ id: "tiny", path: await tiny.gguf(), contextSize: 16 });
    try {
      const text = "The river flows from the mountains through the valley into the sea. ".repeat(Math.ceil(model.contextSize / 10));
      await expect(model.sequenceTopK!(text, 3)).rejects.toThrow(new RegExp(`tokens .*context holds ${model.contextSize}`));
    } finally {
      await model.close();
    }
  });
});

describe("sequenceTopK on an OpenAI-compatible server", () => {
  let stub: StubServer;
  beforeAll(async () => {
    stub = await startStub();
  });
  afterAll(async () => {
    await stub.close();
  });

  it("reads every prompt token's log-probability and top-k from /v1/completions with echo", async () => {
    const model = createOpenAIModel({ id: "m", model: "stub", baseUrl: stub.url });
    const text = "The capital of France is Paris";
    const tokens = await model.sequenceTopK!(text, 4);
    expectTiling(text, tokens);
    expect(tokens.map((t) => t.text).join("")).toBe(text);
    let prefix = "";
    for (const t of tokens) {
      expect(t.logprob).toBeCloseTo(reference(prefix, t.text).logprob, 9);
      expect(t.top).toHaveLength(4);
      for (let j = 1; j < 4; j++) expect(t.top[j].logprob).toBeLessThanOrEqual(t.top[j - 1].logprob);
      prefix += t.text;
    }
  });

  it("names the server when it gives no prompt log-probabilities", async () => {
    const quiet = await startStub({ noEcho: true });
    const refusing = await startStub({ rejectEcho: true });
    try {
      for (const server of [quiet, refusing]) {
        const model = createOpenAIModel({ id: "m", model: "stub", baseUrl: server.url, maxRetries: 0 });
        const error = await model.sequenceTopK!("The answer", 4).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(BackendError);
        expect((error as Error).message).toContain(server.url);
        expect((error as Error).message).toMatch(/whole-sequence top-4/);
      }
    } finally {
      await quiet.close();
      await refusing.close();
    }
  });
});
