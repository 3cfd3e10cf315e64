/**
 * A client of a running hub's API (what `cogen hub contribute` uses): uploads an artefact when
 * given a local GGUF, registers or updates the expert, and submits evidence.
 */
import { createHash } from "node:crypto";
import { createReadStream, promises as fs } from "node:fs";
import { Readable } from "node:stream";
import { BackendError, CogenError, InputFileError } from "../core/errors.js";
import type { ApiError, ExpertCard } from "./api-types.js";

export interface HubClientOptions {
  /** The hub's base URL, e.g. http://127.0.0.1:8090 */
  url: string;
  key: string;
  fetch?: typeof fetch;
}

/** The hub refused a request (or answered something that is not the hub's JSON). */
export class HubRequestError extends CogenError {
  override readonly name = "HubRequestError";
  constructor(
    readonly status: number,
    problem: string,
  ) {
    super(`hub: ${problem}`);
  }
}

export class HubClient {
  private readonly base: string;
  private readonly fetch: typeof fetch;
  constructor(private readonly options: HubClientOptions) {
    this.base = options.url.replace(/\/+$/, "");
    this.fetch = options.fetch ?? fetch;
  }

  private async request<T>(method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    let response: Response;
    try {
      response = await this.fetch(`${this.base}${route}`, {
        method,
        headers: { authorization: `Bearer ${this.options.key}`, ...(body !== undefined && !(body instanceof ReadableStream) ? { "content-type": "application/json" } : {}), ...headers },
        body: body === undefined ? undefined : body instanceof ReadableStream ? body : JSON.stringify(body),
        ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
      } as RequestInit);
    } catch (error) {
      throw new BackendError(this.base, `cannot reach the hub: ${(error as Error).message}`);
    }
    const text = await response.text();
    let parsed: unknown = {};
    try {
      if (text) parsed = JSON.parse(text);
    } catch {
      throw new HubRequestError(response.status, `${method} ${route}: the answer is not JSON (is ${this.base} a cogen hub?)`);
    }
    if (!response.ok) {
      const e = (parsed as Partial<ApiError>).error;
      const problems = e?.problems && e.problems.length > 1 ? `\n  - ${e.problems.join("\n  - ")}` : "";
      throw new HubRequestError(response.status, `${response.status} ${e?.code ?? ""}: ${e?.message ?? text}${problems}`);
    }
    return parsed as T;
  }

  /** Upload a GGUF (a model or a LoRA adapter); resolves to its sha256. */
  async upload(file: string, kind: "gguf" | "lora" = "gguf"): Promise<{ sha256: string; bytes: number }> {
    const stat = await fs.stat(file).catch(() => undefined);
    if (!stat?.isFile()) throw new InputFileError(file, "not a file");
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    const sha256 = hash.digest("hex");
    const stream = Readable.toWeb(createReadStream(file)) as ReadableStream;
    return this.request("POST", `/api/artefacts?kind=${kind}`, stream, { "content-type": "application/octet-stream", "x-cogen-sha256": sha256, "content-length": String(stat.size) });
  }

  async expert(id: string): Promise<ExpertCard | undefined> {
    try {
      return await this.request<ExpertCard>("GET", `/api/experts/${encodeURIComponent(id)}`);
    } catch (error) {
      if (HubRequestError.isInstance(error) && error.status === 404) return undefined;
      throw error;
    }
  }

  /** Register the expert, or update it (a new revision) when it exists and `update` is set. */
  async register(expert: Record<string, unknown> & { id: string }, update = false): Promise<ExpertCard> {
    if (update && (await this.expert(expert.id))) return this.request("PUT", `/api/experts/${encodeURIComponent(expert.id)}`, expert);
    return this.request("POST", "/api/experts", expert);
  }

  /** Submit per-item results for a suite, in one request (the hub checks them as one submission). */
  async submitEvidence(expert: string, suite: string, results: { item: string; score: number }[]): Promise<{ added: number; skipped: number; revision: number }> {
    return this.request("POST", `/api/experts/${encodeURIComponent(expert)}/evidence`, { suite, results });
  }
}
