import { promises as fs } from "node:fs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import OpenAI from "openai";
import type { GenerateChunk, GenerateOptions, LanguageModel } from "../../src/core/language-model.js";
import { createLlamaCppModel } from "../../src/models/llamacpp/model.js";
import { createGateway, startGateway, type StartedGateway } from "../../src/serve/gateway.js";
import { makeTinyLlama, tempDir } from "../fixtures/tiny-llama.js";

/**
 * An edge stub for the cases a real model cannot stage on demand: it emits "tick " every few
 * milliseconds and counts the generations that were stopped before their end.
 */
class SlowModel implements LanguageModel {
  readonly id = "slow";
  aborted = 0;
  async tokenize(text: string) { return [...text].map((c) => c.charCodeAt(0)); }
  async detokenize(tokens: number[]) { return String.fromCharCode(...tokens); }
  async nextTokenLogprobs() { return []; }
  async logLikelihood() { return { logprob: 0, tokens: 0, bytes: 0, greedy: true }; }
  async *generate(_prompt: string, options: GenerateOptions = {}): AsyncGenerator<GenerateChunk> {
    const limit = options.maxTokens ?? 1000;
    let emitted = 0;
    try {
      for (; emitted < limit; emitted++) {
        if (options.signal?.aborted) break;
        await new Promise((r) => setTimeout(r, 50));
        yield { type: "text", text: "tick " };
      }
      yield { type: "finish", reason: emitted < limit ? "abort" : "length", tokens: emitted };
    } finally {
      // Stopped early, by the signal or by the consumer closing the stream.
      if (emitted < limit) this.aborted++;
    }
  }
  async close() {}
}

let root: string;
let tiny: LanguageModel;
let slow: SlowModel;
let gateway: StartedGateway;
let client: OpenAI;

beforeAll(async () => {
  root = await tempDir();
  const fixture = await makeTinyLlama(root, "byte-level");
  tiny = await createLlamaCppModel({ id: "tiny", path: await fixture.gguf("f32"), contextSize: 256 });
  slow = new SlowModel();
  gateway = await startGateway({
    models: new Map<string, LanguageModel>([["tiny", tiny], ["slow", slow]]),
    host: "127.0.0.1",
    port: 0,
    apiKeys: ["sk-test-1", "sk-test-2"],
    maxTokensCap: 64,
    requestTimeoutMs: 2000,
    bodyLimitBytes: 4096,
  });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "sk-test-2", maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await tiny?.close();
  await fs.rm(root, { recursive: true, force: true });
});

describe("OpenAI-compatible gateway, through the official openai client", () => {
  it("lists the served models", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id).sort()).toEqual(["slow", "tiny"]);
  });

  it("answers chat completions without streaming, greedy and deterministic", async () => {
    const ask = () => client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "The heart" }], max_tokens: 8, temperature: 0 });
    const a = await ask();
    const b = await ask();
    expect(a.object).toBe("chat.completion");
    expect(a.choices[0].message.role).toBe("assistant");
    expect(a.choices[0].message.content!.length).toBeGreaterThan(0);
    expect(a.choices[0].message.content).toBe(b.choices[0].message.content);
    expect(a.choices[0].finish_reason).toBe("length");
    expect(a.usage!.completion_tokens).toBe(8);
    expect(a.usage!.prompt_tokens).toBeGreaterThan(0);
  });

  it("streams chat completions as OpenAI does, with the same text as without streaming", async () => {
    const plain = await client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "A river" }], max_tokens: 6, temperature: 0 });
    const stream = await client.chat.completions.create({
      model: "tiny", messages: [{ role: "user", content: "A river" }], max_tokens: 6, temperature: 0, stream: true, stream_options: { include_usage: true },
    });
    let text = "";
    const reasons: (string | null)[] = [];
    let usage;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices) {
        text += choice.delta.content ?? "";
        reasons.push(choice.finish_reason);
      }
    }
    expect(text).toBe(plain.choices[0].message.content);
    expect(reasons.at(-1)).toBe("length");
    expect(usage?.completion_tokens).toBe(6);
  });

  it("gives legacy completions with per-token logprobs and echo", async () => {
    const result = await client.completions.create({ model: "tiny", prompt: "Bread is made", max_tokens: 3, temperature: 0, logprobs: 2, echo: true });
    const choice = result.choices[0];
    expect(choice.text.startsWith("Bread is made")).toBe(true);
    expect(choice.finish_reason).toBe("length");
    const lp = choice.logprobs!;
    // The echoed prompt's tokens spell the prompt; the first has no context (null), as OpenAI's echo.
    const promptTokens = (await tiny.tokenize("Bread is made")).length;
    expect(lp.tokens!.slice(0, promptTokens).join("")).toBe("Bread is made");
    expect(lp.text_offset!.slice(0, 3)).toEqual([0, lp.tokens![0].length, lp.tokens![0].length + lp.tokens![1].length]);
    expect(lp.token_logprobs![0]).toBeNull();
    for (const value of lp.token_logprobs!.slice(1)) expect(value).toBeLessThanOrEqual(0);
    // Two candidates, unless both decode to the same text (a dict keeps one).
    expect(Object.keys(lp.top_logprobs![1]!).length).toBeGreaterThanOrEqual(1);
    expect(Object.keys(lp.top_logprobs![1]!).length).toBeLessThanOrEqual(2);
    expect(lp.tokens!.length).toBeGreaterThan(promptTokens);
    // Each echoed token's logprob equals what the model itself gives that continuation.
    const expected = (await tiny.logLikelihood(lp.tokens![0], lp.tokens![1])).logprob;
    expect(lp.token_logprobs![1]).toBeCloseTo(expected, 6);
  });

  it("answers errors in OpenAI's shape, raising the client's own error classes", async () => {
    await expect(client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "x" }] })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const tooMany = client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "x" }], max_tokens: 65 });
    await expect(tooMany).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(tooMany).rejects.toMatchObject({ param: "max_tokens" });
    await expect(client.chat.completions.create({ model: "tiny", messages: [] })).rejects.toMatchObject({ status: 400, param: "messages" });
    const wrongKey = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "sk-wrong", maxRetries: 0 });
    await expect(wrongKey.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    const big = await fetch(`${gateway.url}/v1/completions`, {
      method: "POST", headers: { "content-type": "application/json", authorization: "Bearer sk-test-1" }, body: JSON.stringify({ model: "tiny", prompt: "x".repeat(5000) }),
    });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
    const health = await fetch(`${gateway.url}/health`);
    expect(health.status).toBe(200);
  });

  it("stops a generation that outlives the request timeout", async () => {
    const before = slow.aborted;
    await expect(client.chat.completions.create({ model: "slow", messages: [{ role: "user", content: "x" }], max_tokens: 64 })).rejects.toMatchObject({ status: 504 });
    // The backend was told to stop, and did (its generator's cleanup ran).
    await vi.waitFor(() => expect(slow.aborted).toBe(before + 1));
  });

  it("cancels generation when the client disconnects mid-stream", async () => {
    const before = slow.aborted;
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: "slow", messages: [{ role: "user", content: "x" }], max_tokens: 64, stream: true },
      { signal: controller.signal },
    );
    let chunks = 0;
    try {
      for await (const _chunk of stream) if (++chunks === 3) controller.abort();
    } catch {
      // The client reports its own abort; what matters is the server's side.
    }
    expect(chunks).toBeGreaterThanOrEqual(3);
    await new Promise((r) => setTimeout(r, 100));
    expect(slow.aborted).toBe(before + 1);
  });

  it("exports Prometheus metrics, counting each request once", async () => {
    const count = async () => {
      const text = await (await fetch(`${gateway.url}/metrics`, { headers: { authorization: "Bearer sk-test-1" } })).text();
      return Number(/cogen_http_requests_total\{route="\/v1\/chat\/completions",status="200"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const before = await count();
    const stream = await client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "x" }], max_tokens: 2, stream: true });
    for await (const _chunk of stream) void _chunk;
    await client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "x" }], max_tokens: 2 });
    expect(await count()).toBe(before + 2);
    const text = await (await fetch(`${gateway.url}/metrics`, { headers: { authorization: "Bearer sk-test-1" } })).text();
    expect(text).toMatch(/cogen_http_requests_total\{route="\/v1\/chat\/completions",status="200"\} [1-9]/);
    expect(text).toMatch(/cogen_generated_tokens_total\{model="tiny"\} [1-9]/);
    expect(text).toMatch(/cogen_generations_cancelled_total\{reason="disconnect"\} 1/);
    expect(text).toMatch(/cogen_generations_cancelled_total\{reason="timeout"\} [1-9]/);
  });

  it("answers alike over its node:http hot path and through fastify, and puts hooks added later in front of every route", async () => {
    const app = await createGateway({ models: new Map<string, LanguageModel>([["slow", slow]]), apiKeys: ["k"], bodyLimitBytes: 512 });
    try {
      await app.listen({ host: "127.0.0.1", port: 0 });
      const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      const same = (text: string) => text.replace(/"(chat)?cmpl-[0-9a-f-]+"/g, '"ID"').replace(/"created":\d+/g, '"created":0');
      const bodies = [
        JSON.stringify({ model: "slow", prompt: "x", max_tokens: 1, seed: 3 }),
        JSON.stringify({ model: "slow", messages: [{ role: "user", content: "x" }], max_tokens: 1, seed: 3 }),
        JSON.stringify({ model: "slow", prompt: "x", max_tokens: 1, seed: 3, stream: true }),
        "{not json", "", '{"model":"slow","prompt":"x","__proto__":{"polluted":1}}', JSON.stringify({ prompt: "x" }), JSON.stringify({ model: "nope", prompt: "x" }),
        JSON.stringify({ model: "slow", prompt: "x".repeat(600) }),
      ];
      for (const [i, body] of bodies.entries()) {
        for (const authorization of ["Bearer k", "Bearer wrong"]) {
          const path = i === 1 ? "/v1/chat/completions" : "/v1/completions";
          const headers = { "content-type": "application/json", authorization };
          const hot = await fetch(url + path, { method: "POST", headers, body });
          const viaFastify = await app.inject({ method: "POST", url: path, headers, payload: body });
          const text = await hot.text();
          expect([hot.status, same(text)]).toEqual([viaFastify.statusCode, same(viaFastify.body)]);
          expect(hot.headers.get("x-cogen-seed")).toBe(viaFastify.headers["x-cogen-seed"] ?? null);
          if (hot.status !== 200) expect(JSON.parse(text)).toMatchObject({ error: { type: expect.any(String), message: expect.any(String) } });
        }
      }
    } finally {
      await app.close();
    }
    const hooked = await createGateway({ models: new Map<string, LanguageModel>([["slow", slow]]) });
    const seen: string[] = [];
    hooked.addHook("onRequest", (request, _reply, done) => {
      seen.push(request.url);
      done();
    });
    try {
      await hooked.listen({ host: "127.0.0.1", port: 0 });
      const url = `http://127.0.0.1:${(hooked.server.address() as { port: number }).port}`;
      const answered = await fetch(`${url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "slow", prompt: "x", max_tokens: 1 }) });
      expect(answered.status).toBe(200);
      expect(seen).toEqual(["/v1/completions"]);
    } finally {
      await hooked.close();
    }
  });

  it("refuses to bind beyond loopback without API keys", async () => {
    await expect(startGateway({ models: new Map(), host: "0.0.0.0", port: 0 })).rejects.toThrow(/API keys/);
  });
});
