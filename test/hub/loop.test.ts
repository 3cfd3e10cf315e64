/**
 * The continuous loop end to end on SQLite and PostgreSQL, with experts served by a stub
 * OpenAI-compatible server: evaluation, leaderboards with intervals, a published router
 * composition, submitted-evidence checks, a crash mid-evaluation, a database restart.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CompositionHistory, ExpertCard, Leaderboard, LeaderboardIndex } from "../../src/hub/api-types.js";
import { createHub } from "../../src/hub/api/server.js";
import { executeEvalJob } from "../../src/eval/jobs/execute.js";
import { InProcessQueue } from "../../src/eval/jobs/in-process.js";
import type { EvalJob } from "../../src/eval/jobs/job.js";
import { ModelPool } from "../../src/models/pool.js";
import { openModel } from "../../src/models/open.js";
import { POLICIES } from "../../src/serve/policies.js";
import { buildServedModels, readUnifiedConfig } from "../../src/serve/unified-config.js";
import { startStub, type StubServer } from "../models/openai-stub.js";
import { expectedScore, ITEMS } from "../eval/helpers.js";
import { postgresBackend, sqliteBackend, type Backend } from "./backends.js";
import { endpointExpert, STUB_SUITE as SUITE, hubFixture, type HubFixture } from "./hub-fixture.js";


async function evidenceCount(f: HubFixture, expert: string): Promise<{ rows: number; distinct: number }> {
  const e = (await f.hub.store.getExpert(expert))!;
  const rows = (await f.hub.store.evidenceOf(expert, e.revision)).filter((r) => r.source === "hub-run");
  return { rows: rows.length, distinct: new Set(rows.map((r) => r.itemId)).size };
}

for (const backend of [sqliteBackend(), postgresBackend()] as Backend[]) {
  describe.skipIf(!backend.available)(`hub loop on ${backend.name}`, () => {
    let stub: StubServer;
    beforeAll(async () => {
      stub = await startStub();
    });
    afterAll(async () => {
      await stub?.close();
      await backend.teardown();
    });

    it("evaluates registered experts, refits the domains with intervals and publishes a router over the top k", async () => {
      const f = await hubFixture(backend);
      try {
        expect((await f.call("POST", "/api/suites", f.keys.admin, SUITE)).status).toBe(201);
        for (const [owner, id] of [["alice", "a1"], ["alice", "a2"], ["bob", "b1"]] as const) {
          expect((await f.call("POST", "/api/experts", f.keys[owner], endpointExpert(id, stub.url, ["geo", "math"]))).status).toBe(201);
        }
        await f.hub.loop.idle();
        for (const id of ["a1", "a2", "b1"]) expect(await evidenceCount(f, id)).toEqual({ rows: ITEMS.length, distinct: ITEMS.length });
        const index = (await f.call<LeaderboardIndex>("GET", "/api/leaderboards")).body;
        expect(index.leaderboards.map((l) => l.domain)).toEqual(["geo", "math", "text"]);
        const geo = (await f.call<Leaderboard>("GET", "/api/leaderboards/geo")).body;
        expect(geo.entries.map((e) => e.expert).sort()).toEqual(["a1", "a2", "b1"]);
        for (const entry of geo.entries) {
          expect(entry.ci[0]).toBeLessThanOrEqual(entry.rating);
          expect(entry.ci[1]).toBeGreaterThanOrEqual(entry.rating);
          expect(entry.evidence).toEqual({ "hub-run": 2, submitted: 0 });
        }
        expect(geo.restsOn.suites).toEqual([{ id: "stub-suite", sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
        expect(geo.restsOn.results).toEqual({ "hub-run": 6, submitted: 0 });
        expect((await f.call<Leaderboard>("GET", `/api/leaderboards/geo?version=1`)).body.version).toBe(1);

        const history = (await f.call<CompositionHistory>("GET", "/api/compositions")).body;
        expect(history.current).not.toBeNull();
        const current = (await f.call<{ served: { policy: string; members: string[] }[]; state: string; version: number }>("GET", "/api/compositions/current")).body;
        expect(current.state).toBe("published");
        expect(current.served[0].policy).toBe("router");
        expect(current.served[0].members).toEqual(["a1", "a2", "b1"]);
        // The published config is a real unified config: the gateway's policies build it.
        const file = path.join(f.dir, "data", "compositions", String(current.version), "config.yaml");
        expect(existsSync(file)).toBe(true);
        const built = await buildServedModels(await readUnifiedConfig(file), POLICIES, (spec) => openModel(spec));
        // The unified model, and every member as itself (the page and the expert cards call them).
        expect([...built.served.keys()]).toEqual(["unified", "a1", "a2", "b1"]);
        await Promise.all(built.all.map((m) => m.close?.()));

        const card = (await f.call<ExpertCard>("GET", "/api/experts/a1")).body;
        expect(card.state).toBe("evaluated");
        expect(card.evidence.every((e) => e.source === "hub-run" && e.producer === "hub")).toBe(true);
        expect(card.routedIn[0]).toMatchObject({ compositionVersion: current.version, servedId: "unified", policy: "router" });
        expect(card.standings.map((s) => s.domain)).toEqual(["geo", "math", "text"]);

        // Rolling back to an earlier version is a publish of that version.
        const earlier = history.versions.at(-1)!.version;
        expect((await f.call("POST", `/api/compositions/${earlier}/publish`, f.keys.admin)).status).toBe(200);
        expect((await f.call<{ version: number }>("GET", "/api/compositions/current")).body.version).toBe(earlier);
        expect((await f.call("POST", `/api/compositions/${earlier}/publish`, f.keys.alice)).status).toBe(403);
      } finally {
        await f.close();
      }
    });

    it("marks submitted evidence, re-runs a seeded sample and flags an expert whose scores disagree", async () => {
      const f = await hubFixture(backend, { recheckSample: 4 });
      try {
        expect((await f.call("POST", "/api/suites", f.keys.admin, SUITE)).status).toBe(201);
        // Both evaluate themselves: the hub runs nothing until their results arrive.
        for (const id of ["honest", "inflated"]) expect((await f.call("POST", "/api/experts", f.keys.bob, { ...endpointExpert(id, stub.url), evaluation: "submitted" })).status).toBe(201);
        await f.hub.loop.idle();
        expect(await evidenceCount(f, "honest")).toEqual({ rows: 0, distinct: 0 });
        const honest = ITEMS.map((item) => ({ item: item.id, score: expectedScore(item) }));
        const inflated = ITEMS.map((item) => ({ item: item.id, score: 1 }));
        const before = await f.hub.store.listAudit({ limit: 1, offset: 0 });
        expect((await f.call("POST", "/api/experts/honest/evidence", f.keys.alice, { suite: SUITE.id, results: honest })).status).toBe(403);
        expect((await f.hub.store.listAudit({ limit: 1, offset: 0 })).total).toBe(before.total);
        expect((await f.call("POST", "/api/experts/honest/evidence", f.keys.bob, { suite: SUITE.id, results: [{ item: "no-such-item", score: 1 }] })).status).toBe(400);
        expect((await f.call("POST", "/api/experts/honest/evidence", f.keys.bob, { suite: SUITE.id, results: [{ item: "mc1", score: 2 }] })).status).toBe(400);
        await f.hub.loop.idle();
        expect((await f.call<{ added: number }>("POST", "/api/experts/honest/evidence", f.keys.bob, { suite: SUITE.id, results: honest })).body.added).toBe(ITEMS.length);
        expect((await f.call<{ added: number }>("POST", "/api/experts/inflated/evidence", f.keys.bob, { suite: SUITE.id, results: inflated })).body.added).toBe(ITEMS.length);
        // Submitting the same results again counts nothing twice.
        expect((await f.call<{ added: number; skipped: number }>("POST", "/api/experts/honest/evidence", f.keys.bob, { suite: SUITE.id, results: honest })).body).toMatchObject({ added: 0, skipped: ITEMS.length });
        await f.hub.loop.idle();

        const honestCard = (await f.call<ExpertCard>("GET", "/api/experts/honest")).body;
        const inflatedCard = (await f.call<ExpertCard>("GET", "/api/experts/inflated")).body;
        expect(honestCard.flagged).toBe(false);
        expect(inflatedCard.flagged).toBe(true);
        expect(honestCard.checks.reduce((n, c) => n + c.sampled, 0)).toBe(4);
        expect(honestCard.checks.every((c) => !c.disagrees)).toBe(true);
        expect(inflatedCard.checks.some((c) => c.disagrees)).toBe(true);
        expect(honestCard.evidence.some((e) => e.source === "submitted" && e.producer === "bob")).toBe(true);
        // The leaderboards say what they rest on: the honest expert's unsampled items are its
        // submitted results; the flagged expert's submitted results are left out.
        const boards = await Promise.all(["geo", "math", "text"].map(async (d) => (await f.call<Leaderboard>("GET", `/api/leaderboards/${d}`)).body));
        const entries = boards.flatMap((b) => b.entries);
        const sum = (id: string, source: "hub-run" | "submitted") => entries.filter((e) => e.expert === id).reduce((n, e) => n + e.evidence[source], 0);
        expect(sum("honest", "hub-run")).toBe(4);
        expect(sum("honest", "submitted")).toBe(ITEMS.length - 4);
        expect(sum("inflated", "submitted")).toBe(0);
        const current = (await f.call<{ experts: string[] }>("GET", "/api/compositions/current")).body;
        expect(current.experts).not.toContain("inflated");
        const audit = await f.call<{ entries: { action: string; target: string }[] }>("GET", "/api/audit?actor=hub&action=expert.flag", f.keys.admin);
        expect(audit.body.entries.map((e) => e.target)).toEqual(["expert:inflated"]);
      } finally {
        await f.close();
      }
    });

    it("loses nothing and counts nothing twice when the evaluating process dies mid-run", async () => {
      let release!: () => void;
      const hung = new Promise<void>((resolve) => (release = resolve));
      const pool = new ModelPool({ open: (spec) => openModel(spec) });
      let jobs = 0;
      // The first hub's evaluator stops answering after its first job: the process "dies" there.
      const dying = new InProcessQueue(async (job: EvalJob) => {
        if (++jobs > 1) await hung;
        return executeEvalJob(job, pool);
      });
      const f = await hubFixture(backend, { queue: dying, batchSize: 2 });
      let second: Awaited<ReturnType<typeof createHub>> | undefined;
      try {
        expect((await f.call("POST", "/api/suites", f.keys.admin, SUITE)).status).toBe(201);
        expect((await f.call("POST", "/api/experts", f.keys.alice, endpointExpert("victim", stub.url))).status).toBe(201);
        while ((await evidenceCount(f, "victim")).rows < 2) await new Promise((r) => setTimeout(r, 20));
        expect((await f.hub.store.getExpert("victim"))!.state).toBe("running");
        // A new hub process on the same database picks the unfinished work up.
        second = await createHub({ store: f.location, dataDir: path.join(f.dir, "data2"), seed: 7, batchSize: 2 });
        await second.loop.idle();
        const after = (await second.store.getExpert("victim"))!;
        expect(after.state).toBe("evaluated");
        expect(await evidenceCount(f, "victim")).toEqual({ rows: ITEMS.length, distinct: ITEMS.length });
        // The dead worker's late results change nothing.
        release();
        await f.hub.loop.idle();
        expect(await evidenceCount(f, "victim")).toEqual({ rows: ITEMS.length, distinct: ITEMS.length });
      } finally {
        release();
        await second?.close();
        await f.close();
        await pool.close();
      }
    });

    it.skipIf(backend.name !== "postgres")("finishes a run across a database restart", async () => {
      const slow = await startStub({ delayMs: 30 });
      const f = await hubFixture(backend);
      try {
        expect((await f.call("POST", "/api/suites", f.keys.admin, SUITE)).status).toBe(201);
        expect((await f.call("POST", "/api/experts", f.keys.alice, endpointExpert("survivor", slow.url))).status).toBe(201);
        await backend.stopServer!();
        expect((await f.call<{ error: { code: string } }>("GET", "/api/experts")).status).toBe(503);
        await new Promise((r) => setTimeout(r, 500));
        await backend.startServer!();
        await f.hub.loop.idle();
        expect((await f.hub.store.getExpert("survivor"))!.state).toBe("evaluated");
        expect(await evidenceCount(f, "survivor")).toEqual({ rows: ITEMS.length, distinct: ITEMS.length });
        expect((await f.call<Leaderboard>("GET", "/api/leaderboards/geo")).body.entries.map((e) => e.expert)).toEqual(["survivor"]);
      } finally {
        await f.close();
        await slow.close();
      }
    });
  });
}
