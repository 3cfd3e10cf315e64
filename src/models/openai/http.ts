import * as http from "node:http";
import * as https from "node:https";
import { BackendError } from "../../core/errors.js";
import { Limiter } from "../limiter.js";
import { sseData } from "./sse.js";

export interface HttpSettings {
  /** Base URL including the API prefix, as the OpenAI SDK takes it: `http://127.0.0.1:8000/v1`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer ...`; never logged or put in an error message. */
  apiKey?: string;
  /** Injectable fetch (tests, proxies); by default requests go through node:http with kept-alive connections. */
  fetch?: typeof globalThis.fetch;
  /** Per-request timeout in milliseconds (default 120 000). */
  timeoutMs?: number;
  /** Retries after a 429, a 5xx or a network error (default 4). */
  maxRetries?: number;
  /** First backoff delay in milliseconds; doubles each retry, with jitter (default 500). */
  backoffMs?: number;
  /** Most requests in flight at once (default 8). */
  concurrency?: number;
}

const MAX_BACKOFF_MS = 30_000;
const MAX_ERROR_BODY = 300;

/**
 * JSON and SSE requests to an OpenAI-compatible server with a concurrency limit, a timeout per
 * request and retries with exponential backoff (honouring Retry-After) on 429 and 5xx.
 */
export class OpenAIHttp {
  readonly limiter: Limiter;
  private readonly transport: Transport;
  private readonly baseUrl: string;

  constructor(
    private readonly settings: HttpSettings,
    private readonly backend: string,
  ) {
    this.limiter = new Limiter(settings.concurrency ?? 8);
    this.baseUrl = settings.baseUrl.replace(/\/+$/, "");
    // A gateway in front of a backend pays this client's cost on every request: node:http with a
    // kept-alive pool is several times cheaper per request than fetch's web streams.
    this.transport = settings.fetch ? fetchTransport(settings.fetch) : nodeTransport(this.baseUrl, settings.concurrency ?? 8);
  }

  async postJson(path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    return this.limiter.run(async () => {
      const response = await this.send(path, body, signal);
      try {
        return await response.json();
      } catch (error) {
        throw new BackendError(this.backend, `${path}: response is not JSON (${(error as Error).message})`);
      }
    });
  }

  /** POST with `stream: true` and yield each SSE `data` payload until `[DONE]`. */
  async *postStream(path: string, body: unknown, signal?: AbortSignal): AsyncGenerator<string> {
    const release = await this.limiter.acquire();
    try {
      const response = await this.send(path, body, signal);
      // After [DONE] the body is read to its end (usually nothing is left), so the connection
      // goes back to the pool instead of being closed.
      let finished = false;
      for await (const data of sseData(response.body)) {
        if (finished) continue;
        if (data.trim() === "[DONE]") finished = true;
        else yield data;
      }
    } finally {
      release();
    }
  }

  /** One request with retries; returns an OK response or throws a BackendError. */
  private async send(path: string, body: unknown, signal?: AbortSignal): Promise<Reply> {
    const maxRetries = this.settings.maxRetries ?? 4;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.settings.apiKey) headers.authorization = `Bearer ${this.settings.apiKey}`;
    const url = this.baseUrl + path;
    const payload = JSON.stringify(body);
    const timeoutMs = this.settings.timeoutMs ?? 120_000;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      let response: Reply;
      const timedOut = () => new BackendError(this.backend, `${path}: no response within ${timeoutMs} ms`, true);
      try {
        response = await this.transport(url, headers, payload, timeoutMs, timedOut, signal);
      } catch (error) {
        if (signal?.aborted) throw error;
        if (error instanceof BackendError) throw error;
        if (attempt < maxRetries) {
          await sleep(this.backoff(attempt, null), signal);
          continue;
        }
        throw new BackendError(this.backend, `${path}: request failed: ${(error as Error).message}`, true);
      }
      if (response.ok) return response;
      const retryable = response.status === 429 || response.status >= 500;
      // The status is the error; a body that cannot be read only shortens its message.
      const text = (await response.text().catch(() => "")).slice(0, MAX_ERROR_BODY);
      if (retryable && attempt < maxRetries) {
        await sleep(this.backoff(attempt, response.header("retry-after")), signal);
        continue;
      }
      const tries = attempt + 1;
      throw new BackendError(
        this.backend,
        `${path}: HTTP ${response.status}${retryable ? ` after ${tries} attempt${tries > 1 ? "s" : ""}` : ""}: ${text}`,
        retryable,
      );
    }
  }

  private backoff(attempt: number, retryAfter: string | null): number {
    const seconds = retryAfter === null ? NaN : Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, MAX_BACKOFF_MS);
    const base = (this.settings.backoffMs ?? 500) * 2 ** attempt;
    return Math.min(base * (0.5 + Math.random() / 2), MAX_BACKOFF_MS);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** What `send` needs of a response, from either transport. */
interface Reply {
  ok: boolean;
  status: number;
  header(name: string): string | null;
  text(): Promise<string>;
  json(): Promise<unknown>;
  body: AsyncIterable<Uint8Array>;
}

/**
 * POST `payload`; the timeout covers the whole exchange, body included (`timedOut` is the error
 * it raises), and `signal` aborts it with the signal's reason.
 */
type Transport = (url: string, headers: Record<string, string>, payload: string, timeoutMs: number, timedOut: () => Error, signal?: AbortSignal) => Promise<Reply>;

function fetchTransport(fetchFn: typeof globalThis.fetch): Transport {
  return async (url, headers, payload, timeoutMs, timedOut, signal) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let response: Response;
    try {
      response = await fetchFn(url, { method: "POST", headers, body: payload, signal: combined });
    } catch (error) {
      if (timeout.aborted && !signal?.aborted) throw timedOut();
      throw error;
    }
    const body = response.body;
    return {
      ok: response.ok,
      status: response.status,
      header: (name) => response.headers.get(name),
      text: () => response.text(),
      json: () => response.json(),
      body: body ? (body as unknown as AsyncIterable<Uint8Array>) : (async function* () {})(),
    };
  };
}

function nodeTransport(baseUrl: string, sockets: number): Transport {
  const base = new URL(baseUrl);
  const secure = base.protocol === "https:";
  const agent = secure ? new https.Agent({ keepAlive: true, maxSockets: sockets }) : new http.Agent({ keepAlive: true, maxSockets: sockets });
  const request = secure ? https.request : http.request;
  // Parsed once: each request names only its path (a URL string would be parsed again every time).
  const target = { protocol: base.protocol, hostname: base.hostname.replace(/^\[|\]$/g, ""), port: base.port, auth: base.username ? `${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}` : undefined };
  const basePath = base.pathname.replace(/\/+$/, "");
  return (url, headers, payload, timeoutMs, timedOut, signal) =>
    new Promise<Reply>((resolve, reject) => {
      const req = request({ ...target, path: basePath + url.slice(baseUrl.length), method: "POST", agent, headers: { ...headers, "content-length": Buffer.byteLength(payload) } });
      // Before the response the request carries an error, after it the response (its body's reader sees it).
      let current: { destroy(error: Error): unknown } = req;
      const timer = setTimeout(() => current.destroy(timedOut()), timeoutMs);
      const onAbort = () => current.destroy(signal!.reason instanceof Error ? signal!.reason : new Error(String(signal!.reason)));
      signal?.addEventListener("abort", onAbort, { once: true });
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      req.once("error", (error) => {
        done();
        reject(error);
      });
      req.once("response", (res) => {
        current = res;
        res.once("close", done);
        const status = res.statusCode ?? 0;
        resolve({
          ok: status >= 200 && status < 300,
          status,
          header: (name) => {
            const value = res.headers[name.toLowerCase()];
            return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
          },
          text: () => readAll(res),
          json: async () => JSON.parse(await readAll(res)) as unknown,
          body: res,
        });
      });
      req.end(payload);
    });
}

/** A response's whole body as text (events, not an async iterator: this runs on every request). */
function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.once("error", reject);
    res.once("close", () => {
      if (!res.complete) reject(new Error("the connection closed before the response's end"));
    });
  });
}
