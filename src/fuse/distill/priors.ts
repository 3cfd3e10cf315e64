/**
 * Per-text source priors from the router: its utility of each source for the text (the
 * neighbours' standardised scores shrunk toward the per-domain prior of a `cogen rank` ranking, at
 * the text's domain posterior), turned into weights by a softmax. A text about law then listens
 * to the law experts before any of them has scored it.
 */
import { ConfigError } from "../../core/errors.js";
import type { Router } from "../router/router.js";

/** A source one standardised unit of utility below another counts e⁻¹ as much. */
export const DEFAULT_PRIOR_TEMPERATURE = 1;

export function routerPriors(router: Router, sources: readonly string[], temperature = DEFAULT_PRIOR_TEMPERATURE): (index: number, text: string) => Float64Array {
  const known = new Set(router.options.experts);
  const missing = sources.filter((s) => !known.has(s));
  if (missing.length > 0) throw new ConfigError([`the router knows no expert ${missing.map((s) => `'${s}'`).join(", ")} (its experts: ${[...known].join(", ")})`]);
  if (!(temperature > 0)) throw new ConfigError([`the prior temperature must be positive, got ${temperature}`]);
  return (_index, text) => {
    const utility = new Map(router.route(text).ranked.map((r) => [r.expert, r.utility]));
    const logits = sources.map((s) => utility.get(s)! / temperature);
    const top = Math.max(...logits);
    const raw = logits.map((l) => Math.exp(l - top));
    const total = raw.reduce((a, b) => a + b, 0);
    return Float64Array.from(raw, (r) => r / total);
  };
}
