/** GET endpoints: the JSON of api-types.ts. Open to anyone when the hub's reads are public, else to readers. */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type {
  AuditList, Composition, CompositionHistory, ContributorList, ExpertCard, ExpertList, HubStatus, ItemQualityList, Leaderboard,
  LeaderboardIndex, SuiteList,
} from "../api-types.js";
import type { HubLoop } from "../loop.js";
import type { HubStore } from "../store/store.js";
import { requireRole } from "./auth.js";
import { invalid, notFound } from "./errors.js";
import { filters, page } from "./validate.js";
import { expertCard, expertSummary } from "./views.js";

export interface ReadContext {
  store: HubStore;
  loop: HubLoop;
  publicReads: boolean;
  version: string;
  queueKind: HubStatus["queue"]["kind"];
  gateway: () => string | null;
}

type Query = Record<string, unknown>;

export function registerReadRoutes(app: FastifyInstance, ctx: ReadContext): void {
  const { store } = ctx;
  const gate = async (request: FastifyRequest) => {
    if (!ctx.publicReads) await requireRole(store, request, "reader");
  };

  app.get("/api/status", async (request): Promise<HubStatus> => {
    await gate(request);
    const counts = await store.queueCounts();
    return {
      version: ctx.version,
      store: store.dialect,
      experts: await store.countExperts(),
      contributors: (await store.listContributors(1, 0)).total,
      queue: { waiting: counts.waiting, running: ctx.loop.active, failed: counts.failed, kind: ctx.queueKind },
      currentComposition: (await store.currentComposition())?.version ?? null,
      gateway: ctx.gateway(),
    };
  });

  app.get("/api/experts", async (request): Promise<ExpertList> => {
    await gate(request);
    const query = request.query as Query;
    const f = filters(query, ["domain", "owner", "family", "q"] as const);
    const p = page(query);
    const { total, rows } = await store.listExperts({ ...f, ...p });
    return { total, ...p, experts: rows.map(expertSummary) };
  });

  app.get("/api/experts/:id", async (request): Promise<ExpertCard> => {
    await gate(request);
    const { id } = request.params as { id: string };
    const expert = await store.getExpert(id);
    if (!expert) throw notFound(`no expert '${id}'`);
    return expertCard(store, expert);
  });

  app.get("/api/contributors", async (request): Promise<ContributorList> => {
    await gate(request);
    const p = page(request.query as Query);
    filters(request.query as Query, [] as const);
    const { total, rows } = await store.listContributors(p.limit, p.offset);
    return { total, ...p, contributors: rows.map((r) => ({ id: r.id, name: r.name, role: r.role, experts: r.experts, createdAt: r.createdAt })) };
  });

  app.get("/api/suites", async (request): Promise<SuiteList> => {
    await gate(request);
    const p = page(request.query as Query);
    filters(request.query as Query, [] as const);
    const suites = await store.listSuites();
    return { total: suites.length, ...p, suites: suites.slice(p.offset, p.offset + p.limit) };
  });

  app.get("/api/leaderboards", async (request): Promise<LeaderboardIndex> => {
    await gate(request);
    const boards = await store.latestLeaderboards();
    return { leaderboards: boards.map((b) => ({ domain: b.domain, version: b.version, fittedAt: b.fittedAt, experts: b.entries.length, leader: b.entries.find((e) => e.rank === 1)?.expert ?? null })) };
  });

  app.get("/api/leaderboards/:domain", async (request): Promise<Leaderboard> => {
    await gate(request);
    const { domain } = request.params as { domain: string };
    const { version } = filters(request.query as Query, ["version"] as const);
    if (version !== undefined && !/^\d{1,9}$/.test(version)) throw invalid(["version: a positive integer"]);
    const board = await store.getLeaderboard(domain, version === undefined ? undefined : Number(version));
    if (!board) throw notFound(`no leaderboard for domain '${domain}'${version ? ` version ${version}` : ""}`);
    const { items: _items, ...rest } = board;
    return rest;
  });

  app.get("/api/items", async (request): Promise<ItemQualityList> => {
    await gate(request);
    const query = request.query as Query;
    const f = filters(query, ["domain", "suite", "flag"] as const);
    const p = page(query);
    const items = (await store.latestLeaderboards())
      .flatMap((b) => b.items)
      .filter((i) => (f.domain === undefined || i.domain === f.domain) && (f.suite === undefined || i.suite === f.suite) && (f.flag === undefined || (i.flags as string[]).includes(f.flag)));
    return { total: items.length, ...p, items: items.slice(p.offset, p.offset + p.limit) };
  });

  app.get("/api/compositions", async (request): Promise<CompositionHistory> => {
    await gate(request);
    const all = await store.listCompositions();
    return {
      current: (await store.currentComposition())?.version ?? null,
      versions: all.map((c) => ({ version: c.version, policy: c.policy, experts: c.experts, state: c.state, createdAt: c.createdAt, publishedAt: c.publishedAt, publishedBy: c.publishedBy })),
    };
  });

  app.get("/api/compositions/:version", async (request): Promise<Composition> => {
    await gate(request);
    const { version } = request.params as { version: string };
    const composition = version === "current" ? await store.currentComposition() : /^\d{1,9}$/.test(version) ? await store.getComposition(Number(version)) : undefined;
    if (!composition) throw notFound(`no composition '${version}'`);
    return composition;
  });

  app.get("/api/audit", async (request): Promise<AuditList> => {
    await requireRole(store, request, "maintainer");
    const query = request.query as Query;
    const f = filters(query, ["actor", "action", "target"] as const);
    const p = page(query);
    const { total, rows } = await store.listAudit({ ...f, ...p });
    return { total, ...p, entries: rows };
  });
}
