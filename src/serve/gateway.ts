import { randomUUID, timingSafeEqual } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer } from "node:net";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import type { GenerateChunk, LanguageModel } from "../core/language-model.js";
import { chatInput, generateFrom, type ChatInput } from "../core/chat.js";
import { BackendError, CogenError, ConfigError } from "../core/errors.js";
import { Limiter } from "../models/limiter.js";
import { GatewayMetrics } from "./metrics.js";
import { GatewayError, invalidRequest } from "./openai-errors.js";
import { completionLogprobs } from "./logprobs.js";
import { fitToContext } from "./context-fit.js";
import { fixedModels, type ServedModels } from "./served-models.js";
import { asBody, parseMessages, parsePrompt, parseSampling, type Limits, type SamplingRequest } from "./requests.js";

/**
 * The OpenAI-compatible gateway: any LanguageModel — one expert, a merge, a router, an ensemble —
 * behind /v1/models, /v1/chat/completions, /v1/completions, /health and /metrics. Stateless, so
 * it can be replicated behind a load balancer.
 */
export interface GatewayOptions {
  /**
   * The models served, by the id clients pass as `model`: a fixed map, or a source whose models
   * change at run time (src/serve/live.ts), held by each request until its response ends.
   */
  models: ReadonlyMap<string, LanguageModel> | ServedModels;
  /** Bearer keys; when set, every route but /health requires one. */
  apiKeys?: string[];
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimitBytes?: number;
  /** Largest (and default) max_tokens (default 512). */
  maxTokensCap?: number;
  /**
   * A request whose model work (generation and log-probabilities) runs longer than this is
   * answered with a 504 error (default 120 s), even when the backend hangs and ignores the
   * abort signal.
   */
  requestTimeoutMs?: number;
  /** Generations running at once; more wait for a slot, within their timeout (default 64). */
  maxConcurrent?: number;
  logger?: boolean;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost|\[::1\])$/;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

export async function createGateway(options: GatewayOptions): Promise<FastifyInstance> {
  const limits: Limits = { maxTokensCap: options.maxTokensCap ?? 512 };
  const timeoutMs = options.requestTimeoutMs ?? 120_000;
  const keys = (options.apiKeys ?? []).filter((k) => k.length > 0).map((k) => Buffer.from(k));
  const metrics = new GatewayMetrics();
  const slots = new Limiter(options.maxConcurrent ?? 64);
  const bodyLimit = options.bodyLimitBytes ?? 1024 * 1024;
  /**
   * The generation routes' hot path: plain POSTs to them are answered from node:http directly,
   * skipping fastify's per-request machinery (about as costly as the rest of the gateway). It
   * runs the same handlers, key check, body parser and metrics; anything unusual (no
   * content-length, another content type, a query string) goes through fastify. It is off when
   * fastify logs requests, and turns off for good when anyone adds a hook after creation (the
   * hub's key check on /v1/): hooks must see every request.
   */
  let hotPath = !options.logger;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit,
    serverFactory: (handler) => {
      const server = createHttpServer((request, response) => {
        if (!hotPath || !serveHot(request, response)) handler(request, response);
      });
      // What fastify sets on the servers it creates itself.
      server.keepAliveTimeout = 72_000;
      server.requestTimeout = 0;
      server.setTimeout(0);
      return server;
    },
  });
  // fastify's own JSON body parser (prototype poisoning refused, its error messages), for the hot
  // path; it never looks at the request it is handed.
  const parseJson = app.getDefaultJsonParser("error", "error") as unknown as (request: unknown, body: string, done: (error: Error | null, body?: unknown) => void) => void;

  // The hooks every request passes take callbacks: an async hook costs promises per request.
  const startedAt = new WeakMap<FastifyRequest, number>();
  app.addHook("onRequest", (request, _reply, done) => {
    startedAt.set(request, performance.now());
    if (request.url === "/health") return done();
    done(refusedKey(request.headers.authorization));
  });
  // Generation answers count themselves (answer()), not here.
  const selfCounted = new WeakSet<ServerResponse>();
  app.addHook("onResponse", (request, reply, done) => {
    const started = startedAt.get(request);
    if (!selfCounted.has(reply.raw) && started !== undefined) metrics.answered(request.routeOptions.url ?? "unknown", reply.statusCode, (performance.now() - started) / 1000);
    done();
  });
  app.setErrorHandler((error: Error, _request, reply) => {
    const failure = gatewayFailure(error);
    return reply.status(failure.status).send(failure.body());
  });
  const addHook = app.addHook;
  app.addHook = function (this: FastifyInstance, ...args: Parameters<typeof addHook>) {
    hotPath = false;
    return addHook.apply(this, args);
  } as typeof addHook;

  /** The GatewayError that answers a bearer key, or undefined when it may pass. */
  function refusedKey(authorization: string | undefined): GatewayError | undefined {
    if (keys.length === 0) return undefined;
    const header = authorization ?? "";
    const presented = Buffer.from(header.startsWith("Bearer ") ? header.slice(7) : "");
    if (keys.some((k) => k.length === presented.length && timingSafeEqual(k, presented))) return undefined;
    return new GatewayError(401, "authentication_error", "Incorrect or missing API key: send 'Authorization: Bearer <key>'.", null, "invalid_api_key");
  }

  /** Any failure as the OpenAI-shaped error that answers it. */
  function gatewayFailure(error: Error & { statusCode?: number; code?: string }): GatewayError {
    if (error instanceof GatewayError) return error;
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") return new GatewayError(413, "invalid_request_error", "the request body is too large", null, "body_too_large");
    if (error.statusCode && error.statusCode < 500) return new GatewayError(error.statusCode, "invalid_request_error", error.message);
    if (!CogenError.isInstance(error)) app.log.error(error);
    return new GatewayError(502, "server_error", CogenError.isInstance(error) ? error.message : "internal error");
  }

  /** Whether the hot path took the request (it answers it then); false leaves it to fastify. */
  function serveHot(request: IncomingMessage, response: ServerResponse): boolean {
    if (request.method !== "POST") return false;
    const route = request.url === CHAT_ROUTE || request.url === COMPLETIONS_ROUTE ? request.url : undefined;
    const length = Number(request.headers["content-length"]);
    if (!route || !JSON_TYPE.test(request.headers["content-type"] ?? "") || !(length <= bodyLimit) || request.headers["transfer-encoding"] !== undefined) return false;
    const started = performance.now();
    const refused = refusedKey(request.headers.authorization);
    if (refused) {
      selfCounted.add(response);
      sendJson(response, refused.status, {}, refused.body());
      metrics.answered(route, refused.status, (performance.now() - started) / 1000);
      return true;
    }
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.once("end", () => {
      parseJson(request, Buffer.concat(chunks).toString("utf8"), (error: Error | null, body: unknown) => {
        // A body that is not JSON closes the connection, as fastify does: the client may send more.
        if (error) void answer(route, Promise.reject(error), response, started, { connection: "close" });
        else void answer(route, body, response, started);
      });
    });
    return true;
  }
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(new GatewayError(404, "not_found_error", `no route ${request.method} ${request.url}`).body());
  });

  const source = "checkout" in options.models ? options.models : fixedModels(options.models);
  /** The request's model, held until its response has ended (or its client has gone). */
  const modelFor = (id: string, response?: ServerResponse): LanguageModel => {
    if (response?.destroyed) throw new GatewayError(499, "invalid_request_error", "the client closed the connection");
    const held = source.checkout(id);
    if (!held) throw new GatewayError(404, "not_found_error", `the model '${id}' does not exist (served: ${source.ids().join(", ")})`, "model", "model_not_found");
    if (response) response.once("close", held.release);
    else held.release();
    return held.model;
  };

  app.get("/health", async () => ({ status: "ok", models: source.ids() }));
  app.get("/metrics", async (_request, reply) => {
    reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get("/v1/models", async () => ({
    object: "list",
    data: source.ids().map((id) => ({ id, object: "model", created: 0, owned_by: "cogen" })),
  }));
  app.get("/v1/models/:id", async (request) => {
    const { id } = request.params as { id: string };
    modelFor(id);
    return { id, object: "model", created: 0, owned_by: "cogen" };
  });

  for (const route of [CHAT_ROUTE, COMPLETIONS_ROUTE] as const) {
    app.post(route, (request, reply) => {
      reply.hijack();
      return answer(route, request.body, reply.raw, startedAt.get(request) ?? performance.now());
    });
  }

  /**
   * Answer a generation request on `response` (either path), errors included, and count it.
   * Never rejects. `body` is the parsed body, or a promise of the parse's failure.
   */
  async function answer(route: GenerationRoute, body: unknown, response: ServerResponse, started: number, errorHeaders: Record<string, string> = {}): Promise<void> {
    selfCounted.add(response);
    let status: number;
    try {
      status = route === CHAT_ROUTE ? await chatCompletion(asBody(await body), response) : await completion(asBody(await body), response);
    } catch (error) {
      const failure = gatewayFailure(error as Error);
      status = failure.status;
      if (!response.destroyed) sendJson(response, failure.status, errorHeaders, failure.body());
    }
    metrics.answered(route, status, (performance.now() - started) / 1000);
  }

  async function chatCompletion(body: Record<string, unknown>, response: ServerResponse): Promise<number> {
    const sampling = parseSampling(body, limits);
    const messages = parseMessages(body);
    const model = modelFor(sampling.model, response);
    // The model's own chat template, its server's, or the plain layout (core/chat.ts).
    const input = chatInput(model, messages);
    sampling.maxTokens = await fitToContext(model, input.prompt, sampling.maxTokens, "messages", input.promptTokens);
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const head = { id, created, model: sampling.model, system_fingerprint: "cogen" };
    if (sampling.stream) {
      const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
      return streamSse(response, model, input, sampling, {
        first: () => ({ ...head, object: "chat.completion.chunk", choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }] }),
        text: (text) => ({ ...head, object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }] }),
        finish: (reason, usage) => [
          { ...head, object: "chat.completion.chunk", choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: reason }] },
          ...(includeUsage ? [{ ...head, object: "chat.completion.chunk", choices: [], usage }] : []),
        ],
      });
    }
    const result = await runToCompletion(response, model, input, sampling);
    return sendJson(response, 200, answerHeaders(sampling, result.experts), {
      ...head,
      object: "chat.completion",
      choices: [{ index: 0, message: { role: "assistant", content: result.text, refusal: null }, logprobs: null, finish_reason: result.reason }],
      usage: result.usage,
    });
  }

  async function completion(body: Record<string, unknown>, response: ServerResponse): Promise<number> {
    const sampling = parseSampling(body, limits);
    const prompt = parsePrompt(body);
    const model = modelFor(sampling.model, response);
    sampling.maxTokens = await fitToContext(model, prompt, sampling.maxTokens, "prompt");
    const logprobs = body.logprobs;
    if (logprobs !== undefined && logprobs !== null && (typeof logprobs !== "number" || !Number.isInteger(logprobs) || logprobs < 0 || logprobs > 20)) {
      throw invalidRequest("'logprobs' must be an integer in [0, 20]", "logprobs");
    }
    const echo = body.echo === true;
    const id = `cmpl-${randomUUID()}`;
    const head = { id, object: "text_completion", created: Math.floor(Date.now() / 1000), model: sampling.model, system_fingerprint: "cogen" };
    if (sampling.stream) {
      if (typeof logprobs === "number" || echo) throw invalidRequest("logprobs and echo are not available with stream", "stream");
      return streamSse(response, model, { prompt, stop: [] }, sampling, {
        text: (text) => ({ ...head, choices: [{ index: 0, text, logprobs: null, finish_reason: null }] }),
        finish: (reason) => [{ ...head, choices: [{ index: 0, text: "", logprobs: null, finish_reason: reason }] }],
      });
    }
    const result = sampling.maxTokens === 0
      ? { text: "", reason: "length" as const, usage: await usageFor(model, prompt, 0), experts: undefined }
      : await runToCompletion(response, model, { prompt, stop: [] }, sampling);
    const lp = typeof logprobs === "number" ? await withDeadline(response, () => completionLogprobs(model, prompt, result.text, logprobs, echo)) : null;
    return sendJson(response, 200, answerHeaders(sampling, result.experts), { ...head, choices: [{ index: 0, text: (echo ? prompt : "") + result.text, logprobs: lp, finish_reason: result.reason }], usage: result.usage });
  }

  interface Usage { prompt_tokens: number; completion_tokens: number; total_tokens: number }

  /**
   * Tokens of `text` for the usage counts when the backend did not report them. A backend that
   * cannot tokenize (a hosted API without /tokenize: BackendError) counts 0, as usage is then
   * unknown; any other failure is a bug and propagates.
   */
  async function countTokens(model: LanguageModel, text: string): Promise<number> {
    if (!text) return 0;
    try {
      return (await model.tokenize(text)).length;
    } catch (error) {
      if (BackendError.isInstance(error)) return 0;
      throw error;
    }
  }

  async function usageFor(model: LanguageModel, prompt: string, completion: number, known?: number): Promise<Usage> {
    // Backends usually report the prompt's length; otherwise count it.
    const promptTokens = known ?? (await countTokens(model, prompt));
    return { prompt_tokens: promptTokens, completion_tokens: completion, total_tokens: promptTokens + completion };
  }

  /**
   * The request's deadline (one per request, from its first model work) and the client's
   * connection as an abort signal. `race` rejects when either fires, so work can be raced
   * against it even if the backend never looks at the signal (a hung backend cannot hold the
   * client past its timeout). Its timer ends with the response.
   */
  const deadlines = new WeakMap<ServerResponse, Deadline>();
  function deadline(response: ServerResponse): Deadline {
    let guard = deadlines.get(response);
    if (!guard) {
      guard = new Deadline(response, timeoutMs);
      deadlines.set(response, guard);
    }
    return guard;
  }

  /** Model work other than generation (log-probabilities) under the request's deadline. */
  function withDeadline<T>(response: ServerResponse, work: () => Promise<T>): Promise<T> {
    return deadline(response).race(work());
  }

  /**
   * Run a generation in a slot, with the request's timeout and the client's connection as abort
   * signals, handing each text and experts chunk to `onChunk` as it comes. The slot is given back
   * however the generation ends — finished, failed, timed out or abandoned by the client — and a
   * backend that ignores the signal is left behind, not waited for.
   */
  async function guardedRun(response: ServerResponse, model: LanguageModel, input: ChatInput, sampling: SamplingRequest, whole: boolean, onChunk: (chunk: GenerateChunk) => void): Promise<{ reason: string; tokens: number; promptTokens?: number }> {
    let experts: string[] | undefined;
    const guard = deadline(response);
    const slot = slots.acquire();
    let release: (() => void) | undefined;
    let iterator: AsyncIterator<GenerateChunk> | undefined;
    metrics.generating++;
    let tokens = 0;
    let promptTokens: number | undefined;
    let reason = "stop";
    try {
      release = await guard.race(slot);
      const options = { ...sampling.options, maxTokens: sampling.maxTokens, signal: guard.signal, whole };
      iterator = generateFrom(model, input, options)[Symbol.asyncIterator]();
      for (;;) {
        const step = await guard.race(iterator.next());
        if (step.done) {
          iterator = undefined; // finished: nothing to stop
          break;
        }
        const chunk = step.value;
        if (chunk.type === "finish") {
          reason = chunk.reason;
          if (chunk.tokens !== undefined) tokens = chunk.tokens;
          promptTokens = chunk.promptTokens;
        } else {
          if (chunk.type === "experts") experts ??= chunk.ids;
          onChunk(chunk);
        }
      }
      // The backend may finish on its own just as the deadline or the client's disconnect arrives.
      if (guard.error) throw guard.error;
      metrics.generated(model.id, tokens, experts ?? [model.id]);
      return { reason, tokens, promptTokens };
    } catch (error) {
      if (guard.why === "disconnect") {
        metrics.cancelled.inc({ reason: "disconnect" });
        return { reason: "abort", tokens, promptTokens };
      }
      if (guard.why === "timeout") metrics.cancelled.inc({ reason: "timeout" });
      throw error;
    } finally {
      metrics.generating--;
      if (release) release();
      else void slot.then((r) => r()); // the slot came after the deadline: give it straight back
      // Ask the backend to stop; a hung one is not waited for.
      if (iterator?.return) void iterator.return(undefined).catch(() => {});
    }
  }

  /** Which models answered (x-cogen-expert) and the sampling seed (x-cogen-seed, to reproduce the answer). */
  function answerHeaders(sampling: SamplingRequest, experts: string[] | undefined): Record<string, string> {
    const headers: Record<string, string> = {};
    if (experts) headers["x-cogen-expert"] = experts.join(",");
    if (sampling.options.seed !== undefined) headers["x-cogen-seed"] = String(sampling.options.seed);
    return headers;
  }

  async function runToCompletion(response: ServerResponse, model: LanguageModel, input: ChatInput, sampling: SamplingRequest) {
    let text = "";
    let experts: string[] | undefined;
    // The answer is sent whole, so the backend may give it whole (one non-streaming upstream request).
    const { reason, tokens, promptTokens } = await guardedRun(response, model, input, sampling, true, (chunk) => {
      if (chunk.type === "text") text += chunk.text;
      else if (chunk.type === "experts") experts ??= chunk.ids;
    });
    const completionTokens = tokens || (await countTokens(model, text));
    return { text, reason: finishReason(reason), usage: await usageFor(model, input.prompt, completionTokens, promptTokens), experts: experts ?? [model.id] };
  }

  interface SseShapes {
    first?: () => object;
    text: (text: string) => object;
    finish: (reason: "stop" | "length", usage: Usage) => object[];
  }

  /** Server-sent events as OpenAI streams them: `data: {json}` lines, then `data: [DONE]`. */
  async function streamSse(raw: ServerResponse, model: LanguageModel, input: ChatInput, sampling: SamplingRequest, shapes: SseShapes): Promise<number> {
    const send = (value: object | string) => raw.write(`data: ${typeof value === "string" ? value : JSON.stringify(value)}\n\n`);
    // Headers wait for the model's first chunk, which names the experts answering (x-cogen-expert).
    let experts: string[] | undefined;
    const open = () => {
      if (raw.headersSent) return;
      raw.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", ...answerHeaders(sampling, experts ?? [model.id]) });
      if (shapes.first) send(shapes.first());
    };
    let status = 200;
    try {
      let count = 0;
      const end = await guardedRun(raw, model, input, sampling, false, (chunk) => {
        if (chunk.type === "experts") experts ??= chunk.ids;
        else if (chunk.type === "text" && chunk.text) {
          // Corked: the events written at once (headers, the first event, this text) leave in one write.
          raw.cork();
          open();
          send(shapes.text(chunk.text));
          raw.uncork();
          count++;
        }
      });
      if (!raw.destroyed) {
        open();
        const usage = await usageFor(model, input.prompt, end.tokens || count, end.promptTokens);
        raw.cork();
        for (const chunk of shapes.finish(finishReason(end.reason), usage)) send(chunk);
        send("[DONE]");
        raw.uncork();
      }
    } catch (error) {
      const failure = gatewayFailure(error as Error);
      status = failure.status;
      if (!raw.destroyed && !raw.headersSent) {
        // Nothing streamed yet: an ordinary HTTP error.
        raw.writeHead(failure.status, { "content-type": "application/json; charset=utf-8" });
        raw.write(JSON.stringify(failure.body()));
      } else if (!raw.destroyed) {
        // Headers are gone: report the error in the stream, as OpenAI does.
        send(failure.body());
      }
    }
    raw.end();
    return status;
  }

  /** A JSON answer; returns its status. */
  function sendJson(response: ServerResponse, status: number, headers: Record<string, string>, value: unknown): number {
    const text = JSON.stringify(value);
    response.writeHead(status, { ...headers, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
    response.end(text);
    return status;
  }

  return app;
}

/**
 * A request's deadline and its client's connection: `signal` aborts the backend's work when either
 * comes first, and every `race` in progress (or started after) rejects with the GatewayError that
 * answers it (504 timeout, 499 disconnect).
 */
class Deadline {
  private readonly controller = new AbortController();
  private reason: "timeout" | "disconnect" | undefined;
  private failure: GatewayError | undefined;
  /** The rejections of the races in progress. */
  private readonly interrupts = new Set<(error: Error) => void>();

  constructor(response: ServerResponse, timeoutMs: number) {
    const timer = setTimeout(() => this.stop("timeout", new GatewayError(504, "timeout_error", `the request took longer than ${timeoutMs} ms and was stopped`, null, "timeout")), timeoutMs);
    response.once("close", () => {
      clearTimeout(timer);
      if (!response.writableFinished && !this.reason) this.stop("disconnect", new GatewayError(499, "invalid_request_error", "the client closed the connection"));
    });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Why the request was stopped, if it was. */
  get why(): "timeout" | "disconnect" | undefined {
    return this.reason;
  }

  /** The error that answers a stopped request. */
  get error(): GatewayError | undefined {
    return this.failure;
  }

  /** `work`'s outcome, unless the request is stopped first (a lighter Promise.race against the stop). */
  race<T>(work: Promise<T>): Promise<T> {
    if (this.failure) {
      work.catch(() => {}); // abandoned: its failure is no one's
      return Promise.reject(this.failure);
    }
    return new Promise<T>((resolve, reject) => {
      this.interrupts.add(reject);
      work.then(
        (value) => {
          this.interrupts.delete(reject);
          resolve(value);
        },
        (error: unknown) => {
          this.interrupts.delete(reject);
          reject(error);
        },
      );
    });
  }

  private stop(reason: "timeout" | "disconnect", failure: GatewayError): void {
    this.reason = reason;
    this.failure = failure;
    this.controller.abort();
    for (const interrupt of this.interrupts) interrupt(failure);
    this.interrupts.clear();
  }
}

const CHAT_ROUTE = "/v1/chat/completions";
const COMPLETIONS_ROUTE = "/v1/completions";
type GenerationRoute = typeof CHAT_ROUTE | typeof COMPLETIONS_ROUTE;
/** The content types fastify's JSON parser takes (`application/json`, with parameters or not). */
const JSON_TYPE = /^application\/json\s*(;|$)/i;

function finishReason(reason: string): "stop" | "length" {
  return reason === "length" ? "length" : "stop";
}

export interface StartedGateway {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Listen on host:port; refuses to bind beyond loopback without API keys. */
export async function startGateway(options: GatewayOptions & { host?: string; port?: number }): Promise<StartedGateway> {
  const { host, port } = checkBind(options);
  const app = await createGateway(options);
  try {
    await app.listen({ host, port });
  } catch (error) {
    await app.close();
    throw listenError(error as NodeJS.ErrnoException, host, port);
  }
  const address = app.server.address();
  const bound = typeof address === "object" && address ? address.port : port;
  return { url: `http://${host.includes(":") ? `[${host}]` : host}:${bound}`, app, close: () => app.close() };
}

/** Where the gateway may bind, in `startGateway`'s words. */
export interface BindOptions {
  host?: string;
  port?: number;
  apiKeys?: readonly string[];
}

/**
 * Fails as `startGateway` would when it could not bind host:port (no API keys beyond loopback; a
 * port that is invalid, busy, forbidden or not this machine's), for callers that check before
 * minutes of model loading; the real listen is still checked after.
 */
export async function assertCanListen(options: BindOptions): Promise<void> {
  const { host, port } = checkBind(options);
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", (error: NodeJS.ErrnoException) => reject(listenError(error, host, port)));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** The bind's host and port with their defaults, or a ConfigError for one the gateway refuses. */
function checkBind(options: BindOptions): { host: string; port: number } {
  const host = options.host ?? "127.0.0.1";
  if (!isLoopback(host) && !(options.apiKeys ?? []).some((k) => k.length > 0)) {
    throw new ConfigError([`binding ${host} exposes the gateway beyond this machine: set API keys (COGEN_API_KEYS or --api-key-env)`]);
  }
  const port = options.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError([`port ${port} is not a valid TCP port (0 to 65535; 0 picks a free one)`]);
  return { host, port };
}

/** The socket errors a user can fix, as one line that says how; anything else is passed on. */
function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  switch (error.code) {
    case "EADDRINUSE":
      return new ConfigError([`port ${port} is already in use on ${host} (another server, perhaps another cogen serve): stop it or choose another with --port`]);
    case "EACCES":
      return new ConfigError([`no permission to listen on port ${port} of ${host} (ports below 1024 need privileges): choose another with --port`]);
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new ConfigError([`cannot listen on host '${host}': it is not an address of this machine (${error.code}); use --host 127.0.0.1 or one of its addresses`]);
    default:
      return error;
  }
}
