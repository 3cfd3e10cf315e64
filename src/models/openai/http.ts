import { BackendError } from "../../core/errors.js";
import { Limiter } from "../limiter.js";
import { sseData } from "./sse.js";

export interface HttpSettings {
  /** Base URL including the API prefix, as the OpenAI SDK takes it: `http://127.0.0.1:8000/v1`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer ...`; never logged or put in an error message. */
  apiKey?: string;
  /** Injectable fetch (tests, proxies); defaults to the global one. */
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
  private readonly fetchFn: typeof globalThis.fetch;
  private readonly baseUrl: string;

  constructor(
    private readonly settings: HttpSettings,
    private readonly backend: string,
  ) {
    this.limiter = new Limiter(settings.concurrency ?? 8);
    this.fetchFn = settings.fetch ?? globalThis.fetch;
    this.baseUrl = settings.baseUrl.replace(/\/+$/, "");
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
      if (!response.body) throw new BackendError(this.backend, `${path}: streaming response has no body`);
      for await (const data of sseData(response.body as AsyncIterable<Uint8Array>)) {
        if (data.trim() === "[DONE]") return;
        yield data;
      }
    } finally {
      release();
    }
  }

  /** One request with retries; returns an OK response or throws a BackendError. */
  private async send(path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    const maxRetries = this.settings.maxRetries ?? 4;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.settings.apiKey) headers.authorization = `Bearer ${this.settings.apiKey}`;
    const url = this.baseUrl + path;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const timeoutMs = this.settings.timeoutMs ?? 120_000;
      const timeout = AbortSignal.timeout(timeoutMs);
      const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
      let response: Response;
      try {
        response = await this.fetchFn(url, { method: "POST", headers, body: JSON.stringify(body), signal: combined });
      } catch (error) {
        if (signal?.aborted) throw error;
        if (timeout.aborted) throw new BackendError(this.backend, `${path}: no response within ${timeoutMs} ms`, true);
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
        await sleep(this.backoff(attempt, response.headers.get("retry-after")), signal);
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
