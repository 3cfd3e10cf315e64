/**
 * A test edge standing in for hub-core's contributor API: the GET endpoints of src/hub/api-types.ts
 * answered from a real ranking of the zoo (test/fixtures/hub) and from the LiveComposition the
 * gateway serves, so the page can be tested before and apart from the registry.
 */
import { promises as fs } from "node:fs";
import type { FastifyInstance } from "fastify";
import type { ExpertSpec } from "../../../src/formats/models-file.js";
import type { Composition, CompositionHistory, ExpertCard, HubStatus, ItemQualityList, Leaderboard, LeaderboardIndex } from "../../../src/hub/api-types.js";
import type { Ranking } from "../../../src/rank/ranking.js";
import type { LiveComposition } from "../../../src/serve/live.js";
import type { UnifiedConfig } from "../../../src/serve/unified-config.js";

export interface PublishedRecord {
  version: number;
  policy: { name: string; params: Record<string, unknown> };
  config: UnifiedConfig;
  yaml: string;
  routing: Record<string, string[]>;
  publishedAt: string;
}

const OWNERS = ["ana", "bo", "chen"];
const FITTED = "2026-12-07T06:00:00.000Z";

export async function registerHubApiStub(
  app: FastifyInstance,
  data: {
    experts: ExpertSpec[]; resultsFile: string; live: LiveComposition; published: PublishedRecord[]; gateway: () => string;
    /** The latest fit and its version (default 1): a test refits by replacing them. */
    ranking: () => { ranking: Ranking; version: number };
    /** When it gives a key, reads and /v1 need it (as hub-core's server does when its reads are not public). */
    readerKey?: () => string | undefined;
  },
): Promise<void> {
  const { experts, live, published } = data;
  const fit = data.ranking;
  app.addHook("onRequest", async (request, reply) => {
    const key = data.readerKey?.();
    if (!key || !(request.url.startsWith("/api/") || request.url.startsWith("/v1/"))) return;
    const sent = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
    if (sent === undefined) return reply.status(401).send({ error: { code: "unauthorized", message: "an API key is required (Authorization: Bearer <key>)" } });
    if (sent !== key) return reply.status(401).send({ error: { code: "unauthorized", message: "unknown or revoked API key" } });
  });
  const owner = (id: string) => OWNERS[experts.findIndex((e) => e.id === id) % OWNERS.length];
  const scores = new Map<string, number[]>();
  for (const line of (await fs.readFile(data.resultsFile, "utf8")).split("\n").filter(Boolean)) {
    const r = JSON.parse(line) as { model: string; domain: string; score: number };
    const key = `${r.model}\t${r.domain}`;
    scores.set(key, [...(scores.get(key) ?? []), r.score]);
  }
  const meanOf = (model: string, domain: string) => {
    const s = scores.get(`${model}\t${domain}`) ?? [];
    return { mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length), n: s.length };
  };

  const leaderboard = (domain: string): Leaderboard => {
    const rows = fit().ranking.models.filter((m) => m.domains[domain]).map((m) => ({ model: m.model, ...m.domains[domain] }));
    rows.sort((a, b) => b.ability - a.ability);
    return {
      domain,
      version: fit().version,
      scale: fit().ranking.scale,
      method: fit().ranking.method,
      fittedAt: FITTED,
      reason: "evidence for the zoo's family A",
      entries: rows.map((r, i) => {
        const above = rows.filter((o) => o.ci[0] > r.ci[1]).length;
        const below = rows.filter((o) => o.ci[1] < r.ci[0]).length;
        const { mean, n } = meanOf(r.model, domain);
        return {
          expert: r.model, owner: owner(r.model), rank: i + 1, rankRange: [above + 1, rows.length - below], rating: r.ability, ci: r.ci,
          meanScore: mean, items: n, evidence: { "hub-run": n, submitted: 0 }, flagged: false,
        };
      }),
      restsOn: { suites: [{ id: "zoo-cloze", sha256: "0".repeat(64) }], results: { "hub-run": scores.size, submitted: 0 } },
      warnings: fit().ranking.warnings.filter((w) => w.includes(`"${domain}"`)),
    };
  };

  const current = () => published.find((p) => String(p.version) === live.version) ?? null;
  const composition = (p: PublishedRecord): Composition => ({
    version: p.version,
    policy: p.policy,
    builtFrom: Object.fromEntries(fit().ranking.domains.map((d) => [d, 1])),
    experts: p.config.experts.map((e) => e.id),
    served: p.config.served,
    config: p.yaml,
    state: String(p.version) === live.version ? "published" : "rolled-back",
    createdAt: p.publishedAt,
    publishedAt: p.publishedAt,
    publishedBy: "ana",
    endpoint: { url: data.gateway(), model: "unified" },
  });

  app.get("/api/status", async (): Promise<HubStatus> => ({
    version: "test", store: "sqlite", experts: experts.length, contributors: OWNERS.length,
    queue: { waiting: 0, running: 0, failed: 0, kind: "in-process" },
    currentComposition: current()?.version ?? null, gateway: data.gateway(),
  }));
  app.get("/api/leaderboards", async (): Promise<LeaderboardIndex> => ({
    leaderboards: fit().ranking.domains.map((d) => {
      const board = leaderboard(d);
      return { domain: d, version: fit().version, fittedAt: FITTED, experts: board.entries.length, leader: board.entries[0]?.expert ?? null };
    }),
  }));
  app.get("/api/leaderboards/:domain", async (request, reply) => {
    const { domain } = request.params as { domain: string };
    if (!fit().ranking.domains.includes(domain)) return reply.status(404).send({ error: { code: "not_found", message: `no leaderboard for '${domain}'` } });
    return leaderboard(domain);
  });
  app.get("/api/items", async (request): Promise<ItemQualityList> => {
    const { domain } = request.query as { domain?: string };
    const items = fit().ranking.items.filter((i) => !domain || i.domain === domain).map((i) => ({ ...i, suite: "zoo-cloze" }));
    return { total: items.length, limit: 200, offset: 0, items: items.slice(0, 200) };
  });
  app.get("/api/experts/:id", async (request, reply) => {
    const { id } = request.params as { id: string };
    const spec = experts.find((e) => e.id === id);
    if (!spec) return reply.status(404).send({ error: { code: "not_found", message: `no expert '${id}'` } });
    const card: ExpertCard = {
      id, owner: owner(id), family: "family-a", base: id === "a-base" ? null : "a-base", domains: spec.domains, licence: "Apache-2.0",
      artefact: { kind: "gguf", sha256: "f".repeat(64), bytes: 755264, origin: "reference" }, revision: 1, state: "evaluated", flagged: false,
      createdAt: FITTED, updatedAt: FITTED,
      card: { description: `<b>${id}</b>: a tiny llama of the zoo`, training: "LoRA on the zoo's corpus, merged", limitations: "d64 × 2 layers" },
      standings: fit().ranking.domains.map((d) => {
        const entry = leaderboard(d).entries.find((e) => e.expert === id)!;
        return { domain: d, rank: entry.rank, rating: entry.rating, ci: entry.ci, leaderboardVersion: 1 };
      }),
      evidence: fit().ranking.domains.map((d) => {
        const { mean, n } = meanOf(id, d);
        return { suite: "zoo-cloze", domain: d, source: "hub-run", producer: "hub", items: n, mean, stderr: Math.sqrt((mean * (1 - mean)) / Math.max(1, n)), updatedAt: FITTED };
      }),
      checks: [],
      routedIn: published.filter((p) => p.config.experts.some((e) => e.id === id)).map((p) => ({
        compositionVersion: p.version, servedId: "unified", policy: p.config.served[0].policy,
        domains: Object.entries(p.routing).filter(([, members]) => members.includes(id)).map(([d]) => d),
      })),
    };
    return card;
  });
  app.get("/api/compositions", async (): Promise<CompositionHistory> => ({
    current: current()?.version ?? null,
    versions: [...published].reverse().map((p) => {
      const { version, policy, experts: ids, state, createdAt, publishedAt, publishedBy } = composition(p);
      return { version, policy, experts: ids, state, createdAt, publishedAt, publishedBy };
    }),
  }));
  app.get("/api/compositions/current", async (_request, reply) => {
    const p = current();
    return p ? composition(p) : reply.status(404).send({ error: { code: "not_found", message: "nothing published" } });
  });
}
