/** A hub on a fresh store of one backend, with a maintainer, two contributors and a reader, driven through app.inject. */
import { mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createContributor, createHub, type Hub, type HubOptions } from "../../src/hub/api/server.js";
import type { LoopEvent } from "../../src/hub/loop.js";
import type { Backend } from "./backends.js";
import { ITEMS_JSONL } from "../eval/helpers.js";

export interface Response<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export interface HubFixture {
  hub: Hub;
  dir: string;
  root: string;
  location: string;
  keys: { admin: string; alice: string; bob: string; rita: string };
  events: LoopEvent[];
  call<T = Record<string, unknown>>(method: "GET" | "POST" | "PUT", url: string, key?: string, body?: unknown, headers?: Record<string, string>): Promise<Response<T>>;
  close(): Promise<void>;
}

export async function hubFixture(backend: Backend, options: Partial<HubOptions> = {}, location?: string): Promise<HubFixture> {
  const dir = mkdtempSync(path.join(tmpdir(), "cogen-hub-"));
  const root = path.join(dir, "root");
  mkdirSync(root);
  const store = location ?? (await backend.fresh());
  const events: LoopEvent[] = [];
  const hub = await createHub({ store, dataDir: path.join(dir, "data"), artefactRoot: root, maxUploadBytes: 2 * 1024 * 1024, seed: 7, onEvent: (e) => events.push(e), ...options });
  const admin = await createContributor(hub.store, { id: "admin", name: "Admin", role: "maintainer" });
  const keys = { admin, alice: "", bob: "", rita: "" };
  const call: HubFixture["call"] = async (method, url, key, body, headers = {}) => {
    const response = await hub.app.inject({
      method, url,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
      ...(body === undefined ? {} : Buffer.isBuffer(body) ? { payload: body } : { payload: body as object }),
    });
    return { status: response.statusCode, body: response.body ? JSON.parse(response.body) : {} };
  };
  for (const [id, role] of [["alice", "contributor"], ["bob", "contributor"], ["rita", "reader"]] as const) {
    const created = await call<{ key: string }>("POST", "/api/contributors", admin, { id, name: id, role });
    if (created.status !== 201) throw new Error(`fixture: ${JSON.stringify(created.body)}`);
    keys[id] = created.body.key;
  }
  return {
    hub, dir, root, location: store, keys, events, call,
    close: async () => {
      await hub.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function endpointExpert(id: string, url: string, domains = ["geo"]): Record<string, unknown> {
  return { id, family: "stub", licence: "apache-2.0", domains, card: { description: `${id}: the stub model` }, artefact: { kind: "endpoint", url, model: "stub" } };
}

/** A suite of the eval helpers' items, which the OpenAI-compatible stub answers. */
export const STUB_SUITE = { id: "stub-suite", provenance: "test/eval/helpers.ts", licence: "cc0", tasks: ITEMS_JSONL };
