/**
 * A serving hub (SQLite): the composition the loop publishes answers on the same server's /v1,
 * an earlier version is served again on a maintainer's publish, a restarted hub serves what it
 * last published, and the web page is there. Experts are a stub OpenAI-compatible server.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Composition, CompositionHistory, ExpertCard, HubStatus } from "../../src/hub/api-types.js";
import { createHub, startHub } from "../../src/hub/api/server.js";
import { startStub, type StubServer } from "../models/openai-stub.js";
import { sqliteBackend } from "./backends.js";
import { endpointExpert, STUB_SUITE as SUITE, hubFixture } from "./hub-fixture.js";

const CHAT = { model: "unified", messages: [{ role: "user", content: "The capital of France is" }], max_tokens: 4, temperature: 0 };

describe("a hub that serves its compositions", () => {
  const backend = sqliteBackend();
  let stub: StubServer;
  beforeAll(async () => {
    stub = await startStub();
  });
  afterAll(async () => {
    await stub?.close();
    await backend.teardown();
  });

  it("serves each published version on /v1, serves an earlier one again, and serves the last one after a restart", async () => {
    const f = await hubFixture(backend, { serve: true, gatewayUrl: "http://hub.example/v1" });
    let restarted: Awaited<ReturnType<typeof createHub>> | undefined;
    try {
      // Nothing published yet: the gateway serves nothing, the API and page answer.
      expect((await f.hub.app.inject({ method: "POST", url: "/v1/chat/completions", payload: CHAT })).statusCode).toBe(404);
      expect((await f.hub.app.inject({ method: "GET", url: "/hub/" })).statusCode).toBe(200);
      expect((await f.call<{ error: { code: string } }>("GET", "/api/nope")).body.error.code).toBe("not_found");

      expect((await f.call("POST", "/api/suites", f.keys.admin, SUITE)).status).toBe(201);
      expect((await f.call("POST", "/api/experts", f.keys.alice, endpointExpert("a1", stub.url, ["geo", "math"]))).status).toBe(201);
      await f.hub.loop.idle();
      const first = (await f.call<Composition>("GET", "/api/compositions/current")).body;
      expect(first.served[0].policy).toBe("single");
      expect(f.hub.live?.version).toBe(String(first.version));
      expect(first.endpoint).toEqual({ url: "http://hub.example/v1", model: "unified" });

      expect((await f.call("POST", "/api/experts", f.keys.bob, endpointExpert("b1", stub.url, ["geo", "math"]))).status).toBe(201);
      await f.hub.loop.idle();
      const second = (await f.call<Composition>("GET", "/api/compositions/current")).body;
      expect(second.version).toBeGreaterThan(first.version);
      expect(second.served[0]).toMatchObject({ policy: "router", members: ["a1", "b1"] });
      expect(f.hub.live?.version).toBe(String(second.version));
      const answer = await f.hub.app.inject({ method: "POST", url: "/v1/chat/completions", payload: CHAT });
      expect(answer.statusCode).toBe(200);
      expect(JSON.parse(answer.body).choices[0].message.content.length).toBeGreaterThan(0);
      expect((await f.call<HubStatus>("GET", "/api/status")).body.gateway).toBe("http://hub.example/v1");
      expect((await f.call<Composition>("GET", `/api/compositions/${first.version}`)).body.state).toBe("superseded");

      // The maintainer's policy decides the next composition: every problem is named, nothing changes on a bad one.
      const bad = await f.call<{ error: { problems: string[] } }>("PUT", "/api/policy", f.keys.admin, { policy: { kind: "vote", top: 1 }, autoPublish: "yes" });
      expect(bad.status).toBe(400);
      expect(bad.body.error.problems.join("\n")).toMatch(/autoPublish: true or false[\s\S]*policy\.kind: must be router, ensemble or prefer-derived/);
      expect((await f.call("GET", "/api/policy", f.keys.rita)).body).toEqual({ policy: { kind: "router", top_k: 3 }, autoPublish: true });
      expect((await f.call("PUT", "/api/policy", f.keys.admin, { policy: { kind: "router", top_k: 1 } })).status).toBe(200);
      const top1 = await f.call<Composition>("POST", "/api/compositions", f.keys.admin);
      expect(top1.body.policy).toEqual({ name: "router", params: { top_k: 1 } });
      // The stub experts answer alike, so they tie; the tie goes by name.
      expect(top1.body.experts).toEqual(["a1"]);
      // Cards say where the policy routes: a1 for every domain, b1 nowhere.
      expect(top1.body.routing).toEqual({ geo: ["a1"], math: ["a1"], text: ["a1"] });
      expect((await f.call<ExpertCard>("GET", "/api/experts/a1")).body.routedIn[0]).toMatchObject({ servedId: "unified", domains: ["geo", "math", "text"] });
      expect((await f.call<ExpertCard>("GET", "/api/experts/b1")).body.routedIn).toEqual([]);
      expect(f.hub.live?.version).toBe(String(top1.body.version));
      // A mixture of experts, once ranked and not clearly worse, is what prefer-derived serves.
      expect((await f.call("POST", "/api/experts", f.keys.bob, { ...endpointExpert("m1", stub.url, ["geo", "math"]), derived: "mixture" })).status).toBe(400);
      const moe = await f.call<ExpertCard>("POST", "/api/experts", f.keys.bob, { ...endpointExpert("m1", stub.url, ["geo", "math"]), derived: "moe" });
      expect(moe.body.derived).toBe("moe");
      await f.hub.loop.idle();
      expect((await f.call<Composition>("GET", "/api/compositions/current")).body.experts).not.toContain("m1");
      expect((await f.call("PUT", "/api/policy", f.keys.admin, { policy: { kind: "prefer-derived", derived: ["moe"], otherwise: { kind: "router", top_k: 3 } } })).status).toBe(200);
      const derived = await f.call<Composition>("POST", "/api/compositions", f.keys.admin);
      expect(derived.body.experts).toEqual(["m1"]);
      expect(derived.body.served[0]).toMatchObject({ id: "unified", policy: "single", members: ["m1"] });
      expect(f.hub.live?.version).toBe(String(derived.body.version));

      // A maintainer serves an earlier version again; the gateway follows.
      expect((await f.call("POST", `/api/compositions/${first.version}/publish`, f.keys.admin)).status).toBe(200);
      expect(f.hub.live?.version).toBe(String(first.version));
      expect((await f.hub.app.inject({ method: "POST", url: "/v1/chat/completions", payload: CHAT })).statusCode).toBe(200);
      const states = (await f.call<CompositionHistory>("GET", "/api/compositions")).body.versions.map((v) => [v.version, v.state]);
      expect(states.filter(([, state]) => state === "published")).toEqual([[first.version, "published"]]);
      expect(states.find(([v]) => v === derived.body.version)?.[1]).toBe("rolled-back");

      // A restarted hub serves what was last published, without publishing anything new.
      const audit = (await f.hub.store.listAudit({ limit: 1, offset: 0 })).total;
      await f.hub.close();
      f.hub.close = async () => {}; // closed once; the fixture's cleanup only removes its folder
      restarted = await createHub({ store: f.location, dataDir: `${f.dir}/data`, artefactRoot: f.root, serve: true });
      expect(restarted.live?.version).toBe(String(first.version));
      expect((await restarted.store.listAudit({ limit: 1, offset: 0 })).total).toBe(audit);
      const history = JSON.parse((await restarted.app.inject({ method: "GET", url: "/api/compositions" })).body) as CompositionHistory;
      expect(history.current).toBe(first.version);
      expect((await restarted.app.inject({ method: "POST", url: "/v1/chat/completions", payload: CHAT })).statusCode).toBe(200);
    } finally {
      await restarted?.close();
      await f.close();
    }
  });

  it("refuses to serve /v1 beyond loopback without keys", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cogen-hub-host-"));
    try {
      await expect(startHub({ store: path.join(dir, "hub.db"), dataDir: dir, host: "0.0.0.0", port: 0, serve: true })).rejects.toThrow(/public_reads: false/);
      expect(existsSync(path.join(dir, "hub.db"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("asks for a hub key on /v1 where reads need one", async () => {
    const f = await hubFixture(backend, { serve: true, publicReads: false });
    try {
      const without = await f.hub.app.inject({ method: "POST", url: "/v1/chat/completions", payload: CHAT });
      expect(without.statusCode).toBe(401);
      expect(JSON.parse(without.body).error.type).toBe("authentication_error");
      // With a reader's key the request reaches the gateway (nothing is published yet).
      const reader = await f.hub.app.inject({ method: "POST", url: "/v1/chat/completions", payload: CHAT, headers: { authorization: `Bearer ${f.keys.rita}` } });
      expect(reader.statusCode).toBe(404);
      expect(JSON.parse(reader.body).error.code).toBe("model_not_found");
    } finally {
      await f.close();
    }
  });
});
