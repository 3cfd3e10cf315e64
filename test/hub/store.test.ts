/** One conformance suite for the hub store, run against SQLite and PostgreSQL. */
import { afterAll, describe, expect, it } from "vitest";
import { openHubStore } from "../../src/hub/store/open.js";
import { migrate, MIGRATIONS } from "../../src/hub/store/migrations.js";
import { StoreUnavailableError } from "../../src/hub/store/db.js";
import type { HubStore, NewExpert } from "../../src/hub/store/store.js";
import { NO_POSTGRES_REASON } from "./postgres.js";
import { postgresBackend, sqliteBackend, type Backend } from "./backends.js";

const INJECTIONS = ["' OR '1'='1", "x'; DROP TABLE experts; --", "%", "\\", "law\" OR 1=1 --", "'; SELECT pg_sleep(1); --"];

function expert(id: string, owner: string, domains: string[], family = "family-a"): NewExpert {
  return {
    id, owner, family, base: "base-a", domains, licence: "apache-2.0",
    artefact: { kind: "endpoint", origin: "reference", path: null, sha256: null, bytes: null, baseExpert: null, url: "http://127.0.0.1:1/v1", model: id },
    card: { description: `${id} card` },
    evaluation: "hub",
  };
}

async function seeded(store: HubStore): Promise<void> {
  await store.createContributor({ id: "alice", name: "Alice", role: "contributor" });
  await store.createContributor({ id: "bob", name: "Bob", role: "contributor" });
  await store.createExpert(expert("law-1", "alice", ["law"]));
  await store.createExpert(expert("med-1", "bob", ["medicine", "law"], "family-b"));
  await store.createExpert(expert("law_2", "alice", ["law"]));
}

for (const backend of [sqliteBackend(), postgresBackend()] as Backend[]) {
  describe.skipIf(!backend.available)(`hub store on ${backend.name}`, () => {
    afterAll(() => backend.teardown());

    it("applies the migrations once, and a second run applies none", async () => {
      const store = await openHubStore(await backend.fresh());
      try {
        expect(await migrate(store.db)).toEqual([]);
        const rows = await store.db.query<{ version: number }>(`SELECT version FROM schema_migrations ORDER BY version`);
        expect(rows.map((r) => Number(r.version))).toEqual(MIGRATIONS.map((m) => m.version));
      } finally {
        await store.close();
      }
    });

    it("stores experts with domains, bumps revisions on update, and filters by every field", async () => {
      const store = await openHubStore(await backend.fresh());
      try {
        await seeded(store);
        const law = await store.listExperts({ domain: "law", limit: 10, offset: 0 });
        expect(law.total).toBe(3);
        expect((await store.listExperts({ owner: "alice", limit: 10, offset: 0 })).rows.map((e) => e.id)).toEqual(["law-1", "law_2"]);
        expect((await store.listExperts({ family: "family-b", limit: 10, offset: 0 })).rows.map((e) => e.id)).toEqual(["med-1"]);
        // LIKE wildcards in q match themselves.
        expect((await store.listExperts({ q: "_", limit: 10, offset: 0 })).rows.map((e) => e.id)).toEqual(["law_2"]);
        expect((await store.listExperts({ limit: 1, offset: 1 })).rows.map((e) => e.id)).toEqual(["law_2"]);
        const updated = await store.updateExpert({ ...expert("med-1", "bob", ["medicine"], "family-b"), card: { description: "v2" } });
        expect(updated.revision).toBe(2);
        expect(updated.domains).toEqual(["medicine"]);
        expect(updated.card.description).toBe("v2");
      } finally {
        await store.close();
      }
    });

    it("treats injection attempts in every filter as plain values: nothing matches, nothing changes", async () => {
      const store = await openHubStore(await backend.fresh());
      try {
        await seeded(store);
        for (const bad of INJECTIONS) {
          for (const key of ["domain", "owner", "family"] as const) {
            expect((await store.listExperts({ [key]: bad, limit: 10, offset: 0 })).total).toBe(0);
          }
          expect((await store.listExperts({ q: bad, limit: 10, offset: 0 })).total).toBe(0);
          for (const key of ["actor", "action", "target"] as const) {
            expect((await store.listAudit({ [key]: bad, limit: 10, offset: 0 })).total).toBe(0);
          }
          expect(await store.getExpert(bad)).toBeUndefined();
          expect(await store.getLeaderboard(bad)).toBeUndefined();
        }
        expect(await store.countExperts()).toBe(3);
      } finally {
        await store.close();
      }
    });

    it("counts each piece of evidence once, however often it is written", async () => {
      const store = await openHubStore(await backend.fresh());
      try {
        await seeded(store);
        const rows = ["i1", "i2", "i3"].map((item) => ({
          expertId: "law-1", revision: 1, suiteId: "s", itemId: item, source: "hub-run" as const, producer: "hub", domain: "law", score: 1, record: { item },
        }));
        expect(await store.addEvidence(rows)).toBe(3);
        expect(await store.addEvidence(rows)).toBe(0);
        expect(await store.addEvidence([{ ...rows[0], source: "submitted", producer: "alice", score: 0.5 }])).toBe(1);
        expect((await store.evidenceOf("law-1", 1)).length).toBe(4);
        expect((await store.evidenceInDomain("law")).length).toBe(4);
        // A new revision leaves the old evidence out of the domain.
        await store.updateExpert(expert("law-1", "alice", ["law"]));
        expect((await store.evidenceInDomain("law")).length).toBe(0);
      } finally {
        await store.close();
      }
    });

    it("versions leaderboards and compositions, and rolls back a failed transaction with its audit entry", async () => {
      const store = await openHubStore(await backend.fresh());
      try {
        await seeded(store);
        const body = { scale: "logit" as const, method: "m", entries: [], restsOn: { suites: [], results: { "hub-run": 0, submitted: 0 } }, warnings: [], items: [] };
        expect((await store.addLeaderboard("law", "first", body)).version).toBe(1);
        expect((await store.addLeaderboard("law", "second", body)).version).toBe(2);
        expect((await store.addLeaderboard("medicine", "first", body)).version).toBe(1);
        expect((await store.getLeaderboard("law"))!.reason).toBe("second");
        expect((await store.getLeaderboard("law", 1))!.reason).toBe("first");
        expect((await store.latestLeaderboards()).map((l) => [l.domain, l.version])).toEqual([["law", 2], ["medicine", 1]]);
        const c1 = await store.addComposition({ policy: { name: "p", params: {} }, builtFrom: { law: 2 }, experts: ["law-1"], served: [], config: "experts: []" });
        await store.markPublished(c1.version, "alice", { url: "http://x/v1", model: "unified" });
        expect((await store.currentComposition())!.version).toBe(1);
        await expect(store.transaction(async (tx) => {
          await tx.audit("alice", "expert.register", "expert:x");
          await tx.createExpert(expert("x", "alice", ["law"]));
          throw new Error("boom");
        })).rejects.toThrow("boom");
        expect(await store.getExpert("x")).toBeUndefined();
        expect((await store.listAudit({ limit: 10, offset: 0 })).total).toBe(0);
        await store.audit("alice", "expert.register", "expert:law-1", { revision: 1 });
        const audit = await store.listAudit({ actor: "alice", limit: 10, offset: 0 });
        expect(audit.rows[0]).toMatchObject({ actor: "alice", action: "expert.register", detail: { revision: 1 } });
      } finally {
        await store.close();
      }
    });

    it("hands out distinct counter values to concurrent writers", async () => {
      const store = await openHubStore(await backend.fresh());
      try {
        const values = await Promise.all(Array.from({ length: 20 }, () => store.transaction((tx) => tx.next("c"))));
        expect(new Set(values).size).toBe(20);
        expect(Math.max(...values)).toBe(20);
      } finally {
        await store.close();
      }
    });

    it.skipIf(backend.name !== "postgres")("reconnects after the database server restarts", async () => {
      const store = await openHubStore(await backend.fresh());
      try {
        await seeded(store);
        await backend.stopServer!();
        await expect(store.countExperts()).rejects.toBeInstanceOf(StoreUnavailableError);
        await backend.startServer!();
        expect(await store.countExperts()).toBe(3);
      } finally {
        await store.close();
      }
    });
  });
}

describe.skipIf(postgresBackend().available)("hub store on postgres", () => {
  it.skip(NO_POSTGRES_REASON, () => {});
});
