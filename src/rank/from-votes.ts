/**
 * A Ranking from pairwise votes: the pairwise estimator (rank/pairwise) on all votes for the
 * overall ratings, and once per domain when the votes carry domains, for per-domain ratings.
 */
import { DEFAULT_DOMAIN, type Comparison } from "../core/evidence.js";
import { findFragileVotes, rankComparisons, type RankComparisonsOptions } from "./pairwise/index.js";
import type { DomainAbility, ModelRanking, Ranking } from "./ranking.js";

export interface RankVotesOptions extends RankComparisonsOptions {
  /** Also find the fewest votes whose removal changes the leader (refits a few times). */
  robustness?: boolean;
}

export function rankVotes(comparisons: readonly Comparison[], options: RankVotesOptions = {}): Ranking {
  const overall = rankComparisons(comparisons, options);
  const byDomain = new Map<string, Comparison[]>();
  for (const c of comparisons) {
    const d = c.domain ?? DEFAULT_DOMAIN;
    const list = byDomain.get(d);
    if (list) list.push(c);
    else byDomain.set(d, [c]);
  }
  const domains = [...byDomain.keys()].filter((d) => d !== DEFAULT_DOMAIN || byDomain.size === 1).sort();
  const perDomain = new Map<string, Map<string, DomainAbility>>();
  const warnings = [...overall.warnings];
  if (byDomain.size > 1) {
    for (const d of domains) {
      const fit = rankComparisons(byDomain.get(d)!, { ...options, progress: undefined });
      warnings.push(...fit.warnings.map((w) => `domain "${d}": ${w}`));
      for (const m of fit.models) {
        if (!perDomain.has(m.model)) perDomain.set(m.model, new Map());
        perDomain.get(m.model)!.set(d, { ability: m.rating, ci: m.ci });
      }
    }
  }
  const models: ModelRanking[] = overall.models.map((m) => ({
    ...m,
    domains: byDomain.size > 1
      ? Object.fromEntries(perDomain.get(m.model) ?? new Map())
      : { [domains[0] ?? DEFAULT_DOMAIN]: { ability: m.rating, ci: m.ci } },
  }));
  const bootstrap = options.bootstrap ?? 100;
  const ranking: Ranking = {
    kind: "pairwise",
    scale: "arena",
    method: `Bradley–Terry${options.ties === "davidson" ? " with Davidson ties" : " (ties as half a win)"} on ${comparisons.length} votes; 95% intervals from ${bootstrap} bootstrap resamples`,
    models,
    domains,
    items: [],
    warnings,
  };
  if (options.robustness && overall.models.length > 1) {
    const fragile = findFragileVotes(comparisons);
    ranking.robustness = {
      leader: fragile.leader,
      challenger: fragile.challenger,
      gap: fragile.gap,
      votesToFlip: fragile.votes.length,
      fractionOfVotes: fragile.votes.length / comparisons.length,
      confirmed: fragile.confirmed,
    };
  }
  return ranking;
}
