/** The contributor API's security and bad-input behaviour, on SQLite and PostgreSQL. */
import { createHash } from "node:crypto";
import { copyFileSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStub, type StubServer } from "../models/openai-stub.js";
import { ITEMS_JSONL } from "../eval/helpers.js";
import { postgresBackend, sqliteBackend, type Backend } from "./backends.js";
import { endpointExpert, hubFixture, type HubFixture } from "./hub-fixture.js";

const ZOO_GGUF = path.resolve(import.meta.dirname, "../../zoo/a/base/model.gguf");
const INJECTIONS = ["' OR '1'='1", "x'; DROP TABLE experts; --", "%", "\\", "geo\" OR 1=1 --", "1; DELETE FROM audit", "' UNION SELECT * FROM api_keys --"];
const sha = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");

async function snapshot(f: HubFixture): Promise<string> {
  await f.hub.loop.idle(); // the loop's own writes are not the request's
  const experts = await f.hub.store.allExperts();
  const audit = await f.hub.store.listAudit({ limit: 1000, offset: 0 });
  return JSON.stringify({ experts, audit: audit.total, suites: await f.hub.store.listSuites() });
}

for (const backend of [sqliteBackend(), postgresBackend()] as Backend[]) {
  describe.skipIf(!backend.available)(`hub API on ${backend.name}`, () => {
    let stub: StubServer;
    let f: HubFixture;
    beforeAll(async () => {
      stub = await startStub();
      f = await hubFixture(backend);
    });
    afterAll(async () => {
      await f?.close();
      await stub?.close();
      await backend.teardown();
    });

    it("answers 401 without a key or with a wrong one, and 403 for a role too low — changing nothing", async () => {
      const before = await snapshot(f);
      const expert = endpointExpert("e1", stub.url);
      expect((await f.call("POST", "/api/experts", undefined, expert)).status).toBe(401);
      const wrong = f.keys.alice.slice(0, -4) + "AAAA";
      expect((await f.call("POST", "/api/experts", wrong, expert)).status).toBe(401);
      expect((await f.call("POST", "/api/experts", "not-a-key", expert)).status).toBe(401);
      const reader = await f.call<{ error: { code: string } }>("POST", "/api/experts", f.keys.rita, expert);
      expect(reader.status).toBe(403);
      expect(reader.body.error.code).toBe("forbidden");
      expect((await f.call("POST", "/api/suites", f.keys.alice, { id: "s", provenance: "p", licence: "l", tasks: ITEMS_JSONL })).status).toBe(403);
      expect((await f.call("POST", "/api/contributors", f.keys.alice, { id: "mallory", name: "m", role: "maintainer" })).status).toBe(403);
      expect((await f.call("PUT", "/api/policy", f.keys.bob, { k: 1 })).status).toBe(403);
      expect((await f.call("GET", "/api/audit", f.keys.alice)).status).toBe(403);
      expect(await snapshot(f)).toBe(before);
    });

    it("refuses a contributor editing another's expert or submitting its evidence", async () => {
      expect((await f.call("POST", "/api/experts", f.keys.alice, endpointExpert("alice-geo", stub.url))).status).toBe(201);
      const before = await snapshot(f);
      const edit = await f.call<{ error: { message: string } }>("PUT", "/api/experts/alice-geo", f.keys.bob, { ...endpointExpert("alice-geo", stub.url), card: { description: "hijacked" } });
      expect(edit.status).toBe(403);
      expect(edit.body.error.message).toContain("belongs to 'alice'");
      expect((await f.call("POST", "/api/experts/alice-geo/evidence", f.keys.bob, { suite: "s", results: [{ item: "x", score: 1 }] })).status).toBe(403);
      expect(await snapshot(f)).toBe(before);
      const own = await f.call<{ revision: number }>("PUT", "/api/experts/alice-geo", f.keys.alice, { ...endpointExpert("alice-geo", stub.url), card: { description: "v2" } });
      expect(own.status).toBe(200);
      expect(own.body.revision).toBe(2);
    });

    it("lists every problem of a bad registration at once, and refuses a duplicate id", async () => {
      const bad = await f.call<{ error: { problems: string[] } }>("POST", "/api/experts", f.keys.alice, { id: "../x", domains: [], artefact: { kind: "tarball" }, extra: 1 });
      expect(bad.status).toBe(400);
      expect(bad.body.error.problems.join("\n")).toMatch(/extra: unknown field[\s\S]*id:[\s\S]*family: required[\s\S]*domains:[\s\S]*card:[\s\S]*artefact.kind/);
      expect((await f.call("POST", "/api/experts", f.keys.bob, endpointExpert("alice-geo", stub.url))).status).toBe(409);
    });

    it("confines references to the artefact root: traversal, absolute paths and symlinks out are refused", async () => {
      const before = await snapshot(f);
      symlinkSync("/etc", path.join(f.root, "escape"));
      for (const ref of ["../../../etc/passwd", "/etc/passwd", "escape/passwd", "a/../../outside.gguf", "nul\u0000.gguf"]) {
        const response = await f.call<{ error: { message: string } }>("POST", "/api/experts", f.keys.alice, { ...endpointExpert("ref", stub.url), artefact: { kind: "gguf", path: ref } });
        expect(response.status, ref).toBe(400);
        expect(response.body.error.message).toMatch(/artefact root|relative/);
      }
      expect(await snapshot(f)).toBe(before);
    });

    it("registers a GGUF by reference with its hash, and refuses a wrong declared hash", async () => {
      copyFileSync(ZOO_GGUF, path.join(f.root, "base.gguf"));
      const digest = sha(readFileSync(ZOO_GGUF));
      const wrong = await f.call<{ error: { code: string } }>("POST", "/api/experts", f.keys.alice, { ...endpointExpert("ref-a", stub.url), artefact: { kind: "gguf", path: "base.gguf", sha256: "0".repeat(64) } });
      expect(wrong.status).toBe(400);
      expect(wrong.body.error.code).toBe("hash_mismatch");
      expect(await f.hub.store.getExpert("ref-a")).toBeUndefined();
      // No suite exists yet, so registration evaluates nothing (no llama.cpp here).
      const ok = await f.call<{ artefact: { sha256: string; origin: string } }>("POST", "/api/experts", f.keys.alice, { ...endpointExpert("ref-a", stub.url), artefact: { kind: "gguf", path: "base.gguf", sha256: digest } });
      expect(ok.status).toBe(201);
      expect(ok.body.artefact).toMatchObject({ sha256: digest, origin: "reference" });
    });

    it("uploads: hash mismatch, oversized and malformed GGUFs are refused and nothing is kept", async () => {
      const uploads = path.join(f.dir, "data", "artefacts");
      const files = () => { try { return readdirSync(uploads); } catch { return []; } };
      const gguf = readFileSync(ZOO_GGUF);
      const headers = (digest: string) => ({ "content-type": "application/octet-stream", "x-cogen-sha256": digest });
      const mismatch = await f.call<{ error: { code: string } }>("POST", "/api/artefacts", f.keys.alice, gguf, headers("f".repeat(64)));
      expect(mismatch.status).toBe(400);
      expect(mismatch.body.error.code).toBe("hash_mismatch");
      const big = Buffer.alloc(3 * 1024 * 1024, 1);
      const oversized = await f.call<{ error: { code: string } }>("POST", "/api/artefacts", f.keys.alice, big, headers(sha(big)));
      expect(oversized.status).toBe(413);
      expect(oversized.body.error.code).toBe("too_large");
      // A GGUF header that claims 2^40 tensors: the reader refuses it before anything allocates or loads it.
      const hostile = Buffer.concat([Buffer.from("GGUF"), Buffer.from([3, 0, 0, 0]), Buffer.from([0, 0, 0, 0, 0, 1, 0, 0]), Buffer.alloc(8)]);
      const malformed = await f.call<{ error: { message: string } }>("POST", "/api/artefacts", f.keys.alice, hostile, headers(sha(hostile)));
      expect(malformed.status).toBe(400);
      expect(malformed.body.error.message).toContain("not a valid GGUF");
      const garbage = Buffer.from("this is not a model at all");
      expect((await f.call("POST", "/api/artefacts", f.keys.alice, garbage, headers(sha(garbage)))).status).toBe(400);
      expect(files()).toEqual([]);
      expect((await f.call("POST", "/api/artefacts", undefined, gguf, headers(sha(gguf)))).status).toBe(401);
      const ok = await f.call<{ sha256: string }>("POST", "/api/artefacts", f.keys.alice, gguf, headers(sha(gguf)));
      expect(ok.status).toBe(201);
      expect(files()).toEqual([`${sha(gguf)}.gguf`]);
      const registered = await f.call<{ artefact: { origin: string; bytes: number } }>("POST", "/api/experts", f.keys.alice, { ...endpointExpert("up-a", stub.url), artefact: { kind: "gguf", upload: ok.body.sha256 } });
      expect(registered.status).toBe(201);
      expect(registered.body.artefact).toMatchObject({ origin: "upload", bytes: gguf.length });
    });

    it("treats injection attempts in every filter parameter as plain values", async () => {
      const before = await snapshot(f);
      for (const bad of INJECTIONS) {
        const q = encodeURIComponent(bad);
        for (const key of ["domain", "owner", "family", "q"]) {
          const r = await f.call<{ total: number }>("GET", `/api/experts?${key}=${q}`);
          expect(r.status, `${key}=${bad}`).toBe(200);
          expect(r.body.total).toBe(0);
        }
        for (const key of ["domain", "suite", "flag"]) expect((await f.call<{ total: number }>("GET", `/api/items?${key}=${q}`)).body.total).toBe(0);
        for (const key of ["actor", "action", "target"]) expect((await f.call<{ total: number }>("GET", `/api/audit?${key}=${q}`, f.keys.admin)).body.total).toBe(0);
        expect((await f.call("GET", `/api/experts/${q}`)).status).toBe(404);
        expect((await f.call("GET", `/api/leaderboards/${q}`)).status).toBe(404);
        expect((await f.call("GET", `/api/compositions/${q}`)).status).toBe(404);
        expect((await f.call("GET", `/api/experts?limit=${q}`)).status).toBe(400);
      }
      expect((await f.call("GET", "/api/experts?domain=a&domain=b")).status).toBe(400);
      expect((await f.call("GET", "/api/experts?sort=id;DROP")).status).toBe(400);
      expect(await snapshot(f)).toBe(before);
    });

    it("answers unknown routes and malformed JSON with JSON errors, and serves its OpenAPI description", async () => {
      expect((await f.call<{ error: { code: string } }>("GET", "/api/nope")).body.error.code).toBe("not_found");
      const response = await f.hub.app.inject({ method: "POST", url: "/api/experts", headers: { authorization: `Bearer ${f.keys.alice}`, "content-type": "application/json" }, payload: "{not json" });
      expect(response.statusCode).toBe(400);
      expect(JSON.parse(response.body).error.code).toBe("invalid");
      const openapi = await f.call<{ openapi: string; paths: Record<string, unknown> }>("GET", "/api/openapi.json");
      expect(openapi.body.openapi).toBe("3.1.0");
      for (const route of ["/api/experts", "/api/experts/{id}", "/api/leaderboards/{domain}", "/api/artefacts", "/api/audit"]) expect(openapi.body.paths).toHaveProperty([route]);
    });

    it("records every accepted write in the audit log, readable by maintainers only", async () => {
      const audit = await f.call<{ entries: { actor: string; action: string; target: string }[] }>("GET", "/api/audit?limit=500", f.keys.admin);
      const actions = audit.body.entries.map((e) => `${e.actor} ${e.action} ${e.target}`);
      expect(actions).toContain("admin contributor.create contributor:alice");
      expect(actions).toContain("alice expert.register expert:alice-geo");
      expect(actions).toContain("alice expert.update expert:alice-geo");
      expect(actions).toContain(`alice artefact.upload artefact:${sha(readFileSync(ZOO_GGUF))}`);
      expect(actions.some((a) => a.startsWith("bob"))).toBe(false);
    });
  });
}
