/**
 * The hub server: the contributor API (fastify) over a registry store, with the continuous loop
 * evaluating through the eval jobs (in-process by default, BullMQ when a queue URL is given).
 * When it serves (`serve`), the same server is the OpenAI-compatible gateway: published
 * compositions go to its live switch, and the web page's playground streams from its /v1.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { CogenError, ConfigError } from "../../core/errors.js";
import { BullMqQueue } from "../../eval/jobs/bullmq.js";
import { executeEvalJob } from "../../eval/jobs/execute.js";
import { InProcessQueue } from "../../eval/jobs/in-process.js";
import type { JobQueue } from "../../eval/jobs/queue.js";
import { ModelPool } from "../../models/pool.js";
import { openModel } from "../../models/open.js";
import { createGateway, isLoopback } from "../../serve/gateway.js";
import { LiveComposition } from "../../serve/live.js";
import { GatewayError } from "../../serve/openai-errors.js";
import { livePublisher } from "../live-publisher.js";
import { HubLoop, type LoopEvent, type Publisher } from "../loop.js";
import { registerHubPage } from "../web/page.js";
import { openHubStore } from "../store/open.js";
import type { HubStore } from "../store/store.js";
import type { Role } from "../api-types.js";
import { issueApiKey, requireRole } from "./auth.js";
import { HubApiError, installErrorHandler } from "./errors.js";
import { openApiDocument } from "./openapi.js";
import { registerReadRoutes } from "./read-routes.js";
import { registerWriteRoutes } from "./write-routes.js";

export const HUB_API_VERSION = "1";
export const DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024 ** 3;

export interface HubOptions {
  /** A SQLite file path (the embedded default) or a postgres:// URL; or an open store. */
  store: string | HubStore;
  /** Uploads and composition files live here. */
  dataDir: string;
  /** Registration by reference is confined to this folder (off when unset). */
  artefactRoot?: string;
  /** Largest upload in bytes (default 2 GiB). */
  maxUploadBytes?: number;
  /** Reads open to anyone (default true); otherwise they need a reader key. */
  publicReads?: boolean;
  /** A redis:// URL: evaluate through BullMQ workers (`cogen worker`); else in-process. */
  queueUrl?: string;
  /** Or any JobQueue (tests, embedders). */
  queue?: JobQueue;
  /**
   * Serve the published composition from this server's /v1 (the OpenAI-compatible gateway with
   * its live switch): true, or the live composition to use (default false: recorded only).
   */
  serve?: boolean | LiveComposition;
  /** Largest max_tokens a /v1 request may ask for (default 512). */
  maxTokensCap?: number;
  /** Or publish elsewhere (embedders, tests); `serve` sets its own. */
  publisher?: Publisher;
  /** The gateway's base URL (…/v1) when another server serves the compositions. */
  gatewayUrl?: string;
  seed?: number;
  /** Submitted items re-run per suite to check them (default 16). */
  recheckSample?: number;
  /** Items per evaluation job (default 32). */
  batchSize?: number;
  /** Bytes of models the in-process evaluator keeps open (default 2 GiB). */
  modelBudgetBytes?: number;
  onEvent?: (event: LoopEvent) => void;
  /** The web page at /hub (default true). */
  page?: boolean;
  logger?: boolean;
}

export interface Hub {
  app: FastifyInstance;
  store: HubStore;
  loop: HubLoop;
  /** The served composition when the hub serves one. */
  live?: LiveComposition;
  /** Tell the hub where its /v1 is reachable (startHub does, once listening). */
  servedAt(gatewayUrl: string): void;
  close(): Promise<void>;
}

export async function createHub(options: HubOptions): Promise<Hub> {
  await fs.mkdir(options.dataDir, { recursive: true });
  if (options.artefactRoot !== undefined && !(await fs.stat(options.artefactRoot).catch(() => undefined))?.isDirectory()) {
    throw new ConfigError([`artefact_root: '${options.artefactRoot}' is not a folder`]);
  }
  const store = typeof options.store === "string" ? await openHubStore(options.store) : options.store;
  let pool: ModelPool | undefined;
  let queue = options.queue;
  let queueKind: "in-process" | "bullmq" = "in-process";
  if (!queue && options.queueUrl) {
    queue = new BullMqQueue(options.queueUrl);
    queueKind = "bullmq";
  } else if (!queue) {
    const opened = new ModelPool({ budgetBytes: options.modelBudgetBytes ?? 2 * 1024 ** 3, open: (spec) => openModel(spec) });
    pool = opened;
    queue = new InProcessQueue((job) => executeEvalJob(job, opened));
  }
  const live = options.serve instanceof LiveComposition ? options.serve : options.serve ? new LiveComposition() : undefined;
  let gatewayUrl = options.gatewayUrl ?? null;
  const publisher = options.publisher ?? (live ? livePublisher(live, () => gatewayUrl) : undefined);
  const loop = new HubLoop({ store, queue, dataDir: options.dataDir, publisher, seed: options.seed, recheckSample: options.recheckSample, batchSize: options.batchSize, onEvent: options.onEvent });
  const app = live
    ? await createGateway({ models: live, maxTokensCap: options.maxTokensCap, logger: options.logger ?? false })
    : Fastify({ logger: options.logger ?? false, bodyLimit: 1024 * 1024 });
  if (live && !(options.publicReads ?? true)) {
    // Where reads need a key, so does the unified model: a hub key of any role, answered the gateway's way.
    app.addHook("onRequest", async (request) => {
      if (!request.url.startsWith("/v1/")) return;
      try {
        await requireRole(store, request, "reader");
      } catch (error) {
        if (!(error instanceof HubApiError)) throw error;
        throw new GatewayError(error.status, error.status === 401 ? "authentication_error" : "invalid_request_error", error.message);
      }
    });
  }
  // The API is its own context: its errors are the hub's JSON, the gateway's stay OpenAI's.
  await app.register(async (api) => {
    installErrorHandler(api);
    api.get("/api/openapi.json", async () => openApiDocument(HUB_API_VERSION));
    registerReadRoutes(api, { store, loop, publicReads: options.publicReads ?? true, version: HUB_API_VERSION, queueKind, gateway: () => gatewayUrl });
    registerWriteRoutes(api, { store, loop, dataDir: path.resolve(options.dataDir), artefactRoot: options.artefactRoot && path.resolve(options.artefactRoot), maxUploadBytes: options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES });
  });
  if (options.page ?? true) await registerHubPage(app);
  await loop.resume();
  if (live) {
    // A restarted hub serves what it last published; a composition that no longer builds is reported, not fatal.
    await loop.serveCurrent().catch((error: unknown) => {
      if (!CogenError.isInstance(error)) throw error;
      options.onEvent?.({ kind: "error", message: `serving the current composition: ${error.message}` });
    });
  }
  return {
    app,
    store,
    loop,
    live,
    servedAt: (url) => {
      gatewayUrl = url;
    },
    close: async () => {
      await app.close();
      await loop.idle();
      await queue.close();
      await pool?.close();
      if (live && !(options.serve instanceof LiveComposition)) await live.close();
      if (typeof options.store === "string") await store.close();
    },
  };
}

/** Create a contributor with a first key (e.g. the hub's first maintainer); the key is shown once. */
export async function createContributor(store: HubStore, contributor: { id: string; name: string; role: Role }, actor = "hub"): Promise<string> {
  return store.transaction(async (tx) => {
    await tx.createContributor(contributor);
    const key = await issueApiKey(tx, contributor.id);
    await tx.audit(actor, "contributor.create", `contributor:${contributor.id}`, { role: contributor.role });
    return key;
  });
}

export interface StartedHub extends Hub {
  url: string;
}

/** Create the hub and listen (loopback by default). */
export async function startHub(options: HubOptions & { host?: string; port?: number }): Promise<StartedHub> {
  const host = options.host ?? "127.0.0.1";
  if (options.serve && (options.publicReads ?? true) && !isLoopback(host)) {
    // As the gateway refuses to: the unified model would answer anyone who can reach this host.
    throw new ConfigError([`host ${host}: serving /v1 beyond this machine needs keys — set public_reads: false (reads and /v1 then need a hub key) or serve: false`]);
  }
  const hub = await createHub(options);
  try {
    await hub.app.listen({ host, port: options.port ?? 8090 });
  } catch (error) {
    await hub.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") throw new ConfigError([`port ${options.port}: already in use (choose another with --port)`]);
    throw error;
  }
  const address = hub.app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  if (hub.live && options.gatewayUrl === undefined) hub.servedAt(`${url}/v1`);
  return { ...hub, url };
}
