import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackendError, ContextLengthError } from "../../src/core/errors.js";
import { plainChat } from "../../src/core/chat.js";
import { generateText, type GenerateChunk, type GenerateOptions } from "../../src/core/language-model.js";
import { createOpenAIModel } from "../../src/models/openai/model.js";
import { topLogprobs } from "../../src/models/openai/wire.js";
import { languageModelConformance } from "./conformance.js";
import { reference, startStub, STUB_VOCAB, stubGreedy, type StubServer } from "./openai-stub.js";

let stub: StubServer;
beforeAll(async () => {
  stub = await startStub();
});
afterAll(async () => {
  await stub.close();
});

const fast = { maxRetries: 3, backoffMs: 1 };

languageModelConformance("openai-compatible (stub server)", {
  open: async () => createOpenAIModel({ id: "stub", model: "stub", baseUrl: stub.url, ...fast }),
  contexts: ["The capital of France is", "Hello, world", "x"],
  tokenIds: false,
});

languageModelConformance("openai-compatible chat (stub server)", {
  open: async () => createOpenAIModel({ id: "stub-chat", model: "stub", baseUrl: stub.url, chat: true, ...fast }),
  contexts: ["The capital of France is"],
  tokenIds: false,
});

describe("openai-compatible backend", () => {
  it("computes log-likelihoods equal to the reference, including tokens straddling the boundary", async () => {
    const model = createOpenAIModel({ id: "m", model: "stub", baseUrl: stub.url });
    // " Paris" is one token: the continuation "aris" after " P" straddles the boundary.
    for (const [context, continuation] of [["The capital of France is", " Paris"], ["The capital of France is P", "aris"], ["a", "b c"], ["", "The answer"]]) {
      const got = await model.logLikelihood(context, continuation);
      const want = reference(context, continuation);
      expect(got.logprob).toBeCloseTo(want.logprob, 9);
      expect(got.tokens).toBe(want.tokens);
      expect(got.greedy).toBe(want.greedy);
      expect(got.bytes).toBe(Buffer.byteLength(continuation));
    }
  });

  it("streams exactly the server's greedy generation", async () => {
    const model = createOpenAIModel({ id: "m", model: "stub", baseUrl: stub.url });
    const { text, reason } = await generateText(model, "The", { maxTokens: 5 });
    expect(text).toBe(stubGreedy("The", 5).map((t) => STUB_VOCAB[t]).join(""));
    expect(reason).toBe("length");
  });

  it("gives a whole answer (`whole`) from one non-streaming request, the same as the streamed one", async () => {
    const streamed: unknown[] = [];
    const recording = (chat: boolean) => createOpenAIModel({
      id: "m", model: "stub", baseUrl: stub.url, chat,
      fetch: async (input, init) => {
        streamed.push((JSON.parse(String(init?.body)) as { stream?: unknown }).stream);
        return fetch(input, init);
      },
    });
    const collect = async (model: ReturnType<typeof createOpenAIModel>, options: GenerateOptions) => {
      const chunks: GenerateChunk[] = [];
      for await (const chunk of model.generate("The", options)) chunks.push(chunk);
      return chunks;
    };
    const full = stubGreedy("The", 8).map((t) => STUB_VOCAB[t]).join("");
    const stop = full.slice(3, 5);
    for (const chat of [false, true]) {
      const model = recording(chat);
      streamed.length = 0;
      const whole = await collect(model, { maxTokens: 8, whole: true });
      expect(streamed).toEqual([undefined]);
      expect(whole.filter((c) => c.type === "text")).toEqual([{ type: "text", text: full }]);
      const finish = whole.at(-1);
      expect(finish).toMatchObject({ type: "finish", reason: "length" });
      // The stub's non-streaming completions report usage; its chats do not.
      if (!chat) expect(finish).toMatchObject({ tokens: 8, promptTokens: 2 });
      const text = (chunks: GenerateChunk[]) => chunks.map((c) => (c.type === "text" ? c.text : "")).join("");
      expect(text(await collect(model, { maxTokens: 8 }))).toBe(full);
      expect(streamed.at(-1)).toBe(true);
      // A stop string is cut locally too (the stub's non-streaming completions ignore `stop`).
      const cut = await collect(model, { maxTokens: 8, stop: [stop], whole: true });
      expect(text(cut)).toBe(full.slice(0, full.indexOf(stop)));
      expect(cut.at(-1)).toEqual({ type: "finish", reason: "stop", ...(chat ? {} : { promptTokens: 2 }) });
    }
  });

  it("retries 429 and 500 with backoff, then succeeds", async () => {
    for (const status of [429, 500]) {
      const flaky = await startStub({ failFirst: 2, failStatus: status });
      try {
        const model = createOpenAIModel({ id: "m", model: "stub", baseUrl: flaky.url, ...fast });
        const got = await model.logLikelihood("a", "b");
        expect(got.logprob).toBeCloseTo(reference("a", "b").logprob, 9);
        expect(flaky.requests).toBe(3);
      } finally {
        await flaky.close();
      }
    }
  });

  it("gives up after maxRetries with a BackendError naming the status", async () => {
    const flaky = await startStub({ failFirst: 10, failStatus: 503 });
    try {
      const model = createOpenAIModel({ id: "m", model: "stub", baseUrl: flaky.url, maxRetries: 2, backoffMs: 1 });
      await expect(model.logLikelihood("a", "b")).rejects.toThrow(/HTTP 503 after 3 attempts/);
      expect(flaky.requests).toBe(3);
    } finally {
      await flaky.close();
    }
  });

  it("says clearly when a server cannot give prompt log-probabilities", async () => {
    const noEcho = await startStub({ noEcho: true });
    try {
      const model = createOpenAIModel({ id: "m", model: "stub", baseUrl: noEcho.url });
      const error = await model.logLikelihood("The capital", " of").catch((e) => e);
      expect(error).toBeInstanceOf(BackendError);
      expect(error.message).toMatch(/no prompt log-probabilities.*echo/);
    } finally {
      await noEcho.close();
    }
  });

  it("fails one input, not the model, when the server refuses a prompt longer than its context (llama.cpp server, vLLM)", async () => {
    const words = { "llama.cpp": /exceeds the available context size/, vllm: /maximum context length is 8 tokens/ };
    for (const server of ["llama.cpp", "vllm"] as const) {
      const small = await startStub({ context: { tokens: 8, server } });
      try {
        const model = createOpenAIModel({ id: "m", model: "stub", baseUrl: small.url, maxRetries: 0 });
        const long = "The capital of France is Paris and the capital of Italy is Rome";
        for (const call of [() => model.logLikelihood(long, " and"), () => generateText(model, long, { maxTokens: 2 }), () => model.nextTokenLogprobs(long, 2)]) {
          const error = await call().catch((e) => e);
          expect(error, server).toBeInstanceOf(ContextLengthError);
          expect(error.message).toMatch(/prompt is longer than the server's context/);
          expect(error.message).toMatch(words[server]);
        }
        // Short inputs on the same model still work.
        expect((await model.logLikelihood("The", " capital")).tokens).toBeGreaterThan(0);
      } finally {
        await small.close();
      }
    }
    // Any other refusal stays a BackendError of the model.
    const hosted = await startStub({ rejectEcho: true });
    try {
      const error = await createOpenAIModel({ id: "m", model: "stub", baseUrl: hosted.url }).logLikelihood("a", "b").catch((e) => e);
      expect(error).not.toBeInstanceOf(ContextLengthError);
    } finally {
      await hosted.close();
    }
  });

  it("sends a chat's messages to /v1/chat/completions, and the plain layout to a server without a chat template", async () => {
    const messages = [{ role: "system" as const, content: "Be brief." }, { role: "user" as const, content: "The capital of France is" }];
    const chatted = async (model: ReturnType<typeof createOpenAIModel>) => {
      let text = "";
      for await (const chunk of model.generateChat!(messages, { maxTokens: 4 })) if (chunk.type === "text") text += chunk.text;
      return text;
    };
    // The stub's chat answers continue the messages' contents joined by newlines.
    const model = createOpenAIModel({ id: "m", model: "stub", baseUrl: stub.url });
    expect(await chatted(model)).toBe((await generateText(model, "Be brief.\nThe capital of France is", { maxTokens: 4 })).text);
    const base = await startStub({ noChatTemplate: true });
    try {
      const model = createOpenAIModel({ id: "m", model: "stub", baseUrl: base.url, maxRetries: 0 });
      const plain = (await generateText(model, plainChat(messages), { maxTokens: 4 })).text;
      base.requests = 0;
      expect(await chatted(model)).toBe(plain);
      expect(base.requests).toBe(2); // refused, then the plain layout
      expect(await chatted(model)).toBe(plain);
      expect(base.requests).toBe(3); // remembered: not asked again
    } finally {
      await base.close();
    }
  });

  it("explains a server that refuses echo with logprobs (HTTP 400)", async () => {
    const hosted = await startStub({ rejectEcho: true });
    try {
      const model = createOpenAIModel({ id: "m", model: "stub", baseUrl: hosted.url });
      const error = await model.logLikelihood("a", "b").catch((e) => e);
      expect(error).toBeInstanceOf(BackendError);
      expect(error.message).toMatch(/HTTP 400.*echo is not supported.*cannot give prompt log-probabilities/);
      // Generation still works on such a server.
      expect((await generateText(model, "The", { maxTokens: 2 })).text.length).toBeGreaterThan(0);
    } finally {
      await hosted.close();
    }
  });

  it("retries a streaming request that got a 500, and surfaces an error event inside a stream", async () => {
    const flaky = await startStub({ failFirst: 1, failStatus: 500 });
    try {
      const model = createOpenAIModel({ id: "m", model: "stub", baseUrl: flaky.url, chat: true, ...fast });
      expect((await generateText(model, "The", { maxTokens: 3 })).text).toBe(stubGreedy("The", 3).map((t) => STUB_VOCAB[t]).join(""));
    } finally {
      await flaky.close();
    }
    const broken = await startStub({ streamError: true });
    try {
      const model = createOpenAIModel({ id: "m", model: "stub", baseUrl: broken.url });
      await expect(generateText(model, "The", { maxTokens: 3 })).rejects.toThrow(/stream: model crashed mid-stream/);
    } finally {
      await broken.close();
    }
  });

  it("times out a slow server", async () => {
    const slow = await startStub({ delayMs: 500 });
    try {
      const model = createOpenAIModel({ id: "m", model: "stub", baseUrl: slow.url, timeoutMs: 50 });
      await expect(model.logLikelihood("a", "b")).rejects.toThrow(/no response within 50 ms/);
    } finally {
      await slow.close();
    }
  });

  it("keeps at most `concurrency` requests in flight and uses all of them", async () => {
    const slow = await startStub({ delayMs: 30 });
    try {
      const model = createOpenAIModel({ id: "m", model: "stub", baseUrl: slow.url, concurrency: 3 });
      await Promise.all(Array.from({ length: 12 }, () => model.logLikelihood("a", "b")));
      expect(slow.maxInFlight).toBe(3);
      expect(model.http.limiter.peak).toBe(3);
    } finally {
      await slow.close();
    }
  });

  it("sends the API key as a bearer token and never puts it in errors", async () => {
    const locked = await startStub({ apiKey: "sekret-123" });
    try {
      const good = createOpenAIModel({ id: "m", model: "stub", baseUrl: locked.url, apiKey: "sekret-123" });
      await good.logLikelihood("a", "b");
      const bad = createOpenAIModel({ id: "m", model: "stub", baseUrl: locked.url, apiKey: "wrong-key-456" });
      const error = await bad.logLikelihood("a", "b").catch((e) => e);
      expect(error.message).toMatch(/HTTP 401/);
      expect(error.message).not.toContain("wrong-key-456");
    } finally {
      await locked.close();
    }
  });

  it("uses an injected fetch", async () => {
    const seen: string[] = [];
    const model = createOpenAIModel({
      id: "m", model: "stub", baseUrl: stub.url,
      fetch: async (input, init) => {
        seen.push(String(input));
        return fetch(input, init);
      },
    });
    await model.nextTokenLogprobs("a", 2);
    expect(seen).toEqual([`${stub.url}/completions`]);
  });
});

describe("openai-compatible wire mapping", () => {
  it("reads OpenAI's bytes: form of a token holding part of a character as partial text", () => {
    const response = { choices: [{ logprobs: { top_logprobs: [{ "bytes:\\xe2\\x82": -0.5, "bytes:\\xc3\\xa9": -1, " the": -2 }] } }] };
    expect(topLogprobs(response, 3, "b").map((t) => t.text)).toEqual(["\uFFFD", "é", " the"]);
  });
});
