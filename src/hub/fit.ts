/**
 * Refit one domain's leaderboard from the registry's evidence. Per expert and item the hub's own
 * result is used when there is one, else the contributor's submitted one — except for a flagged
 * expert, whose submitted results are left out. The leaderboard records which evidence it rests
 * on (suites with their hashes, results by source).
 */
import type { ItemResult } from "../core/evidence.js";
import { rankResults } from "../rank/per-item.js";
import { Z95 } from "../rank/ranking.js";
import type { EvidenceSource, LeaderboardEntry } from "./api-types.js";
import { hubItemId, splitHubItemId } from "./evidence-key.js";
import type { HubStore, LeaderboardBody } from "./store/store.js";

export interface FitOptions {
  seed?: number;
}

function meanAndCount(scores: readonly number[]): { mean: number; n: number } {
  const n = scores.length;
  return { mean: n ? scores.reduce((s, x) => s + x, 0) / n : 0, n };
}

/** The evidence a leaderboard uses, per expert: one result per item, hub-run first. */
export async function chosenEvidence(store: HubStore, domain: string): Promise<Map<string, Map<string, { score: number; source: EvidenceSource; suite: string }>>> {
  const flagged = new Set((await store.allExperts()).filter((e) => e.flagged).map((e) => e.id));
  const chosen = new Map<string, Map<string, { score: number; source: EvidenceSource; suite: string }>>();
  for (const row of await store.evidenceInDomain(domain)) {
    if (row.source === "submitted" && flagged.has(row.expertId)) continue;
    const items = chosen.get(row.expertId) ?? new Map();
    chosen.set(row.expertId, items);
    const key = hubItemId(row.suiteId, row.itemId);
    const existing = items.get(key);
    if (!existing || (existing.source === "submitted" && row.source === "hub-run")) items.set(key, { score: row.score, source: row.source, suite: row.suiteId });
  }
  return chosen;
}

/** Fit the domain and store it as its next version; undefined when the domain has no evidence. */
export async function refitDomain(store: HubStore, domain: string, reason: string, options: FitOptions = {}) {
  const chosen = await chosenEvidence(store, domain);
  if (chosen.size === 0) return undefined;
  const experts = new Map((await store.allExperts()).map((e) => [e.id, e]));
  const suites = new Map((await store.listSuites()).map((s) => [s.id, s]));
  const results: ItemResult[] = [];
  const bySource: Record<EvidenceSource, number> = { "hub-run": 0, submitted: 0 };
  const usedSuites = new Set<string>();
  const perExpert = new Map<string, { scores: number[]; sources: Record<EvidenceSource, number> }>();
  for (const [expert, items] of chosen) {
    const stats = { scores: [] as number[], sources: { "hub-run": 0, submitted: 0 } as Record<EvidenceSource, number> };
    perExpert.set(expert, stats);
    for (const [item, r] of items) {
      results.push({ model: expert, item, score: r.score, domain });
      stats.scores.push(r.score);
      stats.sources[r.source]++;
      bySource[r.source]++;
      usedSuites.add(r.suite);
    }
  }
  const warnings: string[] = [];
  let entries: LeaderboardEntry[];
  let items: LeaderboardBody["items"] = [];
  let method: string;
  const entryBase = (expert: string) => {
    const stats = perExpert.get(expert)!;
    const { mean, n } = meanAndCount(stats.scores);
    return { expert, owner: experts.get(expert)?.owner ?? "", meanScore: mean, items: n, evidence: stats.sources, flagged: experts.get(expert)?.flagged ?? false };
  };
  if (chosen.size < 2) {
    // One expert has nothing to be compared with: it is first, with no interval to speak of.
    const [only] = chosen.keys();
    method = "single expert (no fit)";
    warnings.push(`only '${only}' has evidence in '${domain}': no comparison yet`);
    entries = [{ ...entryBase(only), rank: 1, rankRange: [1, 1], rating: 0, ci: [0, 0] }];
  } else {
    const fit = rankResults(results, { seed: options.seed ?? 1 });
    method = fit.ranking.method;
    warnings.push(...fit.ranking.warnings);
    entries = fit.ranking.models.map((m) => {
      const ability = m.domains[domain] ?? { ability: m.rating, ci: m.ci };
      return { ...entryBase(m.model), rank: m.rank, rankRange: m.rankRange, rating: ability.ability, ci: ability.ci };
    });
    // Experts the fit left out (nothing they answered tells models apart) are tied, with the
    // widest interval the standardised scale gives: all that is known is that they are here.
    const fitted = new Set(entries.map((e) => e.expert));
    for (const expert of [...chosen.keys()].sort()) {
      if (fitted.has(expert)) continue;
      entries.push({ ...entryBase(expert), rank: 1, rankRange: [1, chosen.size], rating: 0, ci: [-Z95, Z95] });
    }
    items = fit.ranking.items.map((report) => {
      const { suite, item } = splitHubItemId(report.item);
      return { item, suite, domain, difficulty: report.difficulty, discrimination: report.discrimination, information: report.information, meanScore: report.meanScore, responses: report.responses, flags: report.flags };
    });
  }
  const body: LeaderboardBody = {
    scale: "logit",
    method,
    entries,
    restsOn: { suites: [...usedSuites].sort().map((id) => ({ id, sha256: suites.get(id)?.sha256 ?? "" })), results: bySource },
    warnings,
    items,
  };
  return store.addLeaderboard(domain, reason, body);
}
