/**
 * Faults at serve time: a backend that dies mid-stream, crashes or hangs (ignoring the abort
 * signal) gets the client an OpenAI-shaped error within the timeout, gives its slot back and
 * leaves other requests unharmed; a bounded loopback soak with failing backends leaves memory
 * and open handles flat.
 */
import { fileURLToPath } from "node:url";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackendError } from "../../src/core/errors.js";
import { generateText, type GenerateChunk, type LanguageModel } from "../../src/core/language-model.js";
import { createLlamaCppModel } from "../../src/models/llamacpp/model.js";
import { startGateway, type StartedGateway } from "../../src/serve/gateway.js";

/** An edge stub of a failing backend: a few text chunks, then `fail` (which may never return). */
function failing(id: string, fail: () => Promise<never>, ballastBytes = 0): LanguageModel {
  return {
    id,
    tokenize: async (text) => [...text].map((c) => c.codePointAt(0)!),
    detokenize: async (tokens) => String.fromCodePoint(...tokens),
    nextTokenLogprobs: async () => [],
    logLikelihood: async () => ({ logprob: 0, tokens: 0, bytes: 0, greedy: true }),
    async *generate(): AsyncGenerator<GenerateChunk> {
      // Memory the generation holds while it runs: kept alive if the gateway kept the generation.
      const ballast = new Uint8Array(ballastBytes).fill(1);
      yield { type: "text", text: "partial " };
      yield { type: "text", text: "answer " };
      await fail();
      yield { type: "text", text: String(ballast.length) }; // never reached; keeps the ballast alive meanwhile
    },
    close: async () => {},
  };
}
const dies = () => Promise.reject(new BackendError("dying", "the backend process exited"));
const crashes = () => Promise.reject(new TypeError("cannot read properties of undefined"));
const hangs = () => new Promise<never>(() => {}); // ignores every abort signal

const zoo = (file: string) => fileURLToPath(new URL(`../../zoo/${file}`, import.meta.url));

let healthy: LanguageModel;
let gateway: StartedGateway;
const TIMEOUT_MS = 400;

beforeAll(async () => {
  healthy = await createLlamaCppModel({ id: "healthy", path: zoo("a/base/model.gguf"), contextSize: 64, threads: 1 });
  gateway = await startGateway({
    models: new Map([["healthy", healthy], ["dying", failing("dying", dies)], ["crashing", failing("crashing", crashes)], ["hanging", failing("hanging", hangs)]]),
    host: "127.0.0.1", port: 0, requestTimeoutMs: TIMEOUT_MS, maxConcurrent: 1,
  });
});
afterAll(async () => {
  await gateway?.close();
  await healthy?.close();
});

async function post(url: string, body: Record<string, unknown>): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ messages: [{ role: "user", content: "The heart" }], max_tokens: 4, temperature: 0, ...body }) });
  return { status: response.status, text: await response.text() };
}

/** The `data:` events of a server-sent event stream, parsed. */
const events = (text: string) => text.split("\n\n").filter((e) => e.startsWith("data: ") && e !== "data: [DONE]").map((e) => JSON.parse(e.slice(6)) as Record<string, unknown>);

describe("gateway faults", () => {
  it("answers a backend that dies mid-answer with an OpenAI-shaped error, streamed or not", async () => {
    const plain = await post(gateway.url, { model: "dying" });
    expect(plain.status).toBe(502);
    expect(JSON.parse(plain.text)).toEqual({ error: { message: expect.stringContaining("the backend process exited"), type: "server_error", param: null, code: null } });
    const streamed = await post(gateway.url, { model: "dying", stream: true });
    expect(streamed.status).toBe(200);
    const received = events(streamed.text);
    // The text already sent, then the error as the stream's last event, and no [DONE].
    expect(received.filter((e) => e.choices).map((e) => (e.choices as { delta: { content?: string } }[])[0].delta.content ?? "").join("")).toBe("partial answer ");
    expect(received.at(-1)).toEqual({ error: { message: expect.stringContaining("the backend process exited"), type: "server_error", param: null, code: null } });
    expect(streamed.text).not.toContain("[DONE]");
    // A bug in a backend is reported without its internals.
    const crash = await post(gateway.url, { model: "crashing" });
    expect(crash.status).toBe(502);
    expect(JSON.parse(crash.text).error).toMatchObject({ type: "server_error", message: "internal error" });
  });

  it("answers a hung backend with a timeout error and gives its slot back", async () => {
    for (const stream of [false, true]) {
      const hung = await post(gateway.url, { model: "hanging", stream });
      if (stream) {
        expect(hung.status).toBe(200);
        expect(events(hung.text).at(-1)).toEqual({ error: { message: expect.stringContaining(`${TIMEOUT_MS} ms`), type: "timeout_error", param: null, code: "timeout" } });
      } else {
        expect(hung.status).toBe(504);
        expect(JSON.parse(hung.text).error).toMatchObject({ type: "timeout_error", code: "timeout" });
      }
      // One slot only: had the hung generation kept it, this would wait out its own timeout (504).
      const after = await post(gateway.url, { model: "healthy" });
      expect(after.status).toBe(200);
    }
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/cogen_requests_in_flight 0\b/);
  });

  it("leaves other requests unharmed while a backend hangs", async () => {
    const wide = await startGateway({ models: new Map([["healthy", healthy], ["hanging", failing("hanging", hangs)]]), host: "127.0.0.1", port: 0, requestTimeoutMs: TIMEOUT_MS, maxConcurrent: 4 });
    try {
      const expected = (await generateText(healthy, "user: The heart\nassistant:", { maxTokens: 4, temperature: 0 })).text;
      const [hung, ok] = await Promise.all([post(wide.url, { model: "hanging" }), post(wide.url, { model: "healthy" })]);
      expect(hung.status).toBe(504);
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.text).choices[0].message.content).toBe(expected);
    } finally {
      await wide.close();
    }
  });

  it("keeps memory and open handles flat through a bounded loopback soak of failing requests", async () => {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    const MB = 1024 * 1024;
    // Each failing generation holds 1 MiB while it runs: the 80 hung ones alone, leaked, would be 80 MiB.
    const soak = await startGateway({
      models: new Map([["dying", failing("dying", dies, MB)], ["crashing", failing("crashing", crashes, MB)], ["hanging", failing("hanging", hangs, MB)]]),
      host: "127.0.0.1", port: 0, requestTimeoutMs: 30, maxConcurrent: 8,
    });
    const round = async (count: number) => {
      const kinds = ["dying", "crashing", "hanging"];
      for (let i = 0; i < count; i += 8) {
        const batch = Array.from({ length: Math.min(8, count - i) }, (_, j) => post(soak.url, { model: kinds[(i + j) % 3], stream: (i + j) % 2 === 0 }));
        for (const r of await Promise.all(batch)) expect([200, 502, 504]).toContain(r.status);
      }
    };
    const measure = async () => {
      await new Promise((r) => setTimeout(r, 50));
      gc();
      gc();
      const memory = process.memoryUsage();
      const resources = process.getActiveResourcesInfo();
      const sockets = resources.filter((r) => r === "TCPSocketWrap").length;
      return { heap: memory.heapUsed + memory.external, sockets, others: resources.length - sockets };
    };
    try {
      await round(24); // warm up: connection pools, JIT, metrics label sets
      const before = await measure();
      await round(240);
      const after = await measure();
      expect(after.heap - before.heap).toBeLessThan(48 * MB);
      // Timers, servers, pipes: as before. Sockets: at most the keep-alive pools of 8 concurrent
      // requests, both ends (a socket or timer per request would be hundreds).
      expect(after.others - before.others).toBeLessThanOrEqual(2);
      expect(after.sockets - before.sockets).toBeLessThanOrEqual(16);
      expect(await (await fetch(`${soak.url}/metrics`)).text()).toMatch(/cogen_requests_in_flight 0\b/);
    } finally {
      await soak.close();
    }
  });
});
