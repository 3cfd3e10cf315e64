/**
 * Per-text source priors, from the router or from a ranking and each text's known domain.
 *
 * From the router: its utility of each source for the text (the
 * neighbours' standardised scores shrunk toward the per-domain prior of a `cogen rank` ranking, at
 * the text's domain posterior), turned into weights by a softmax. A text about law then listens
 * to the law experts before any of them has scored it.
 */
import { ConfigError } from "../../core/errors.js";
import type { Ranking } from "../../rank/ranking.js";
import type { Router } from "../router/router.js";

/**
 * For a text of `domain`: 1 to each source of that domain (`sourceDomains[i]` is source i's), 0 to
 * the others; 1 to all when none covers it.
 */
export function domainPriors(domain: string, sourceDomains: readonly string[]): number[] {
  const own = sourceDomains.map((d) => (d === domain ? 1 : 0));
  return own.some((p) => p > 0) ? own : sourceDomains.map(() => 1);
}

/** A source one standardised unit of utility below another counts e⁻¹ as much. */
export const DEFAULT_PRIOR_TEMPERATURE = 1;

export function routerPriors(router: Router, sources: readonly string[], temperature = DEFAULT_PRIOR_TEMPERATURE): (index: number, text: string) => Float64Array {
  const known = new Set(router.options.experts);
  const missing = sources.filter((s) => !known.has(s));
  if (missing.length > 0) throw new ConfigError([`the router knows no expert ${missing.map((s) => `'${s}'`).join(", ")} (its experts: ${[...known].join(", ")})`]);
  if (!(temperature > 0)) throw new ConfigError([`the prior temperature must be positive, got ${temperature}`]);
  return (_index, text) => {
    const utility = new Map(router.route(text).ranked.map((r) => [r.expert, r.utility]));
    return softmax(sources.map((s) => utility.get(s)! / temperature));
  };
}

/**
 * From a `cogen rank` ranking alone, for texts whose domain is known (`domainOf`; a JSONL corpus
 * may carry `domain`): a softmax of the sources' abilities in that domain, standardised across the
 * sources so logit and arena scales weigh alike. A text of no ranked domain gets equal priors.
 */
export function rankingPriors(ranking: Ranking, sources: readonly string[], domainOf: (index: number, text: string) => string | undefined, temperature = DEFAULT_PRIOR_TEMPERATURE): (index: number, text: string) => Float64Array {
  const ranked = new Set(ranking.models.map((m) => m.model));
  const missing = sources.filter((s) => !ranked.has(s));
  if (missing.length > 0) throw new ConfigError([`the ranking has no model ${missing.map((s) => `'${s}'`).join(", ")}`]);
  if (!(temperature > 0)) throw new ConfigError([`the prior temperature must be positive, got ${temperature}`]);
  const byDomain = new Map<string, Float64Array>();
  for (const domain of ranking.domains) {
    const abilities = sources.map((s) => ranking.models.find((m) => m.model === s)!.domains[domain]?.ability);
    const known = abilities.filter((a): a is number => a !== undefined);
    const mean = known.reduce((a, b) => a + b, 0) / Math.max(1, known.length);
    const sd = Math.sqrt(known.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, known.length)) || 1;
    byDomain.set(domain, softmax(abilities.map((a) => (a === undefined ? 0 : (a - mean) / sd) / temperature)));
  }
  const equal = Float64Array.from(sources, () => 1 / sources.length);
  return (index, text) => byDomain.get(domainOf(index, text) ?? "") ?? equal;
}

function softmax(logits: readonly number[]): Float64Array {
  const top = Math.max(...logits);
  const raw = logits.map((l) => Math.exp(l - top));
  const total = raw.reduce((a, b) => a + b, 0);
  return Float64Array.from(raw, (r) => r / total);
}
