/**
 * Usage counts when a backend does not report token counts: the gateway tokenizes; a backend
 * that cannot tokenize (BackendError, e.g. a hosted API without /tokenize) counts 0, and any
 * other tokenizer failure is reported, never turned into a silent 0.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackendError } from "../../src/core/errors.js";
import type { GenerateChunk, LanguageModel } from "../../src/core/language-model.js";
import { startGateway, type StartedGateway } from "../../src/serve/gateway.js";

/** An edge stub: answers "ok!" without token counts; `tokenize` as given. */
function answering(id: string, tokenize: (text: string) => Promise<number[]>): LanguageModel {
  return {
    id,
    tokenize,
    detokenize: async (tokens) => String.fromCodePoint(...tokens),
    nextTokenLogprobs: async () => [],
    logLikelihood: async () => ({ logprob: 0, tokens: 0, bytes: 0, greedy: true }),
    async *generate(): AsyncGenerator<GenerateChunk> {
      yield { type: "text", text: "ok!" };
      yield { type: "finish", reason: "stop" };
    },
    close: async () => {},
  };
}

let gateway: StartedGateway;
beforeAll(async () => {
  gateway = await startGateway({
    models: new Map([
      ["counting", answering("counting", async (text) => [...text].map((c) => c.codePointAt(0)!))],
      ["remote", answering("remote", () => Promise.reject(new BackendError("remote", "the server has no /tokenize")))],
      ["broken", answering("broken", () => Promise.reject(new TypeError("cannot read properties of undefined")))],
    ]),
    host: "127.0.0.1", port: 0,
  });
});
afterAll(async () => {
  await gateway?.close();
});

async function complete(model: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${gateway.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model, prompt: "Hello", max_tokens: 4 }) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("gateway usage counts", () => {
  it("tokenizes prompt and completion when the backend reports no counts", async () => {
    const { status, body } = await complete("counting");
    expect(status).toBe(200);
    expect(body.usage).toEqual({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
  });

  it("counts 0 for a backend that cannot tokenize", async () => {
    const { status, body } = await complete("remote");
    expect(status).toBe(200);
    expect(body.usage).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
  });

  it("reports a tokenizer bug instead of counting 0", async () => {
    const { status, body } = await complete("broken");
    expect(status).toBeGreaterThanOrEqual(500);
    expect(body).toMatchObject({ error: { type: "server_error" } });
  });
});
