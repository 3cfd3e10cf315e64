/** Registry records as the JSON of api-types.ts. */
import type { Artefact, Composition, ExpertCard, ExpertSummary, EvidenceSummary, Leaderboard, RoutedIn } from "../api-types.js";
import { meanAndStderr } from "../check.js";
import { SERVED_ID } from "../compose.js";
import type { ExpertRecord, HubStore } from "../store/store.js";

export function artefactView(expert: ExpertRecord): Artefact {
  const a = expert.artefact;
  return {
    kind: a.kind,
    sha256: a.sha256,
    bytes: a.bytes,
    origin: a.origin,
    ...(a.baseExpert ? { baseExpert: a.baseExpert } : {}),
    ...(a.url ? { url: a.url } : {}),
    ...(a.model ? { model: a.model } : {}),
  };
}

export function expertSummary(expert: ExpertRecord): ExpertSummary {
  return {
    id: expert.id, owner: expert.owner, family: expert.family, base: expert.base, domains: expert.domains, licence: expert.licence,
    artefact: artefactView(expert), revision: expert.revision, evaluation: expert.evaluation, derived: expert.derived, state: expert.state, flagged: expert.flagged,
    createdAt: expert.createdAt, updatedAt: expert.updatedAt,
  };
}

export function routedIn(composition: Composition | undefined, expert: string, boards: readonly Leaderboard[]): RoutedIn[] {
  if (!composition) return [];
  return composition.served.filter((s) => s.members.includes(expert)).map((s) => ({
    compositionVersion: composition.version,
    servedId: s.id,
    policy: s.policy,
    // Where the policy routes to it; compositions stored before routing was kept: every domain it is ranked in.
    domains: composition.routing && s.id === SERVED_ID
      ? Object.keys(composition.routing).filter((d) => composition.routing![d].includes(expert)).sort()
      : boards.filter((b) => b.entries.some((e) => e.expert === expert)).map((b) => b.domain),
  }));
}

export async function expertCard(store: HubStore, expert: ExpertRecord): Promise<ExpertCard> {
  const boards = await store.latestLeaderboards();
  const standings = boards.flatMap((b) => b.entries.filter((e) => e.expert === expert.id).map((e) => ({ domain: b.domain, rank: e.rank, rating: e.rating, ci: e.ci, leaderboardVersion: b.version })));
  const groups = new Map<string, { suite: string; domain: string; source: EvidenceSummary["source"]; producer: string; scores: number[]; updatedAt: string }>();
  for (const row of await store.evidenceOf(expert.id, expert.revision)) {
    const key = `${row.suiteId}\u0000${row.domain}\u0000${row.source}`;
    const g = groups.get(key) ?? { suite: row.suiteId, domain: row.domain, source: row.source, producer: row.producer, scores: [], updatedAt: row.createdAt };
    g.scores.push(row.score);
    if (row.createdAt > g.updatedAt) g.updatedAt = row.createdAt;
    groups.set(key, g);
  }
  const evidence: EvidenceSummary[] = [...groups.values()].map((g) => {
    const { mean, stderr } = meanAndStderr(g.scores);
    return { suite: g.suite, domain: g.domain, source: g.source, producer: g.producer, items: g.scores.length, mean, stderr, updatedAt: g.updatedAt };
  });
  return {
    ...expertSummary(expert),
    card: expert.card,
    standings,
    evidence,
    checks: await store.checksOf(expert.id, expert.revision),
    routedIn: routedIn(await store.currentComposition(), expert.id, boards),
  };
}
