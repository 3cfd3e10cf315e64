/**
 * Composition policies: how a maintainer turns the hub's ranking and registered experts into the
 * served UnifiedConfig. Pure functions — the hub's loop calls `composeByPolicy` after each
 * re-ranking and publishes the result (src/serve/live.ts).
 *
 * - `router`: a kNN router over the top-k experts of every domain (serve policy `router`);
 * - `ensemble`: a token-level ensemble of the top-n experts overall (serve policy `ensemble`);
 * - `prefer-derived`: a MoE or distilled model built from the experts, when one is registered and
 *   ranked and is not clearly worse than the best expert; otherwise the `otherwise` policy.
 *
 * Intervals decide, not point estimates alone: an expert whose 95% interval lies wholly below the
 * leader's (of its domain, or overall) is "clearly worse" and left out unless the maintainer keeps
 * it (`keep_clearly_worse`).
 */
import { ConfigError } from "../core/errors.js";
import { unknownKeys } from "../core/suggest.js";
import type { ExpertSpec } from "../formats/models-file.js";
import type { Ranking } from "../rank/ranking.js";
import { OVERALL, standings, type Standing } from "../rank/select.js";
import { formatUnifiedConfig, parseUnifiedConfig, type ServedSpec, type UnifiedConfig } from "../serve/unified-config.js";

export type DerivedKind = "moe" | "distilled";

export type CompositionPolicy =
  | { kind: "router"; topK: number; keepClearlyWorse?: boolean }
  | { kind: "ensemble"; topN: number; maxAbilityGap?: number; keepClearlyWorse?: boolean }
  | { kind: "prefer-derived"; derived: DerivedKind[]; otherwise: CompositionPolicy };

export interface CompositionInput {
  ranking: Ranking;
  /** The registered experts; ids match the ranking's models. Derived models carry the tag `moe` or `distilled`. */
  experts: readonly ExpertSpec[];
  /**
   * The evidence files the served composites read (items, per-item results of the experts, the
   * ranking as JSON), absolute or relative to `file`.
   */
  evidence: { tasks: string; results: string; ranking: string };
  /** Where the config is (or will be) stored: relative paths resolve against its folder. */
  file: string;
  /** The id the unified model is served under (default "unified"). */
  servedId?: string;
}

export interface Composition {
  config: UnifiedConfig;
  /** The config as YAML (what the hub stores as a composition version). */
  yaml: string;
  /** Domain → the experts serving it, best first (a derived or single model serves every domain). */
  routing: Record<string, string[]>;
  /** One line per decision, for the page and the audit log. */
  reasons: string[];
}

const DERIVED_KINDS: readonly DerivedKind[] = ["moe", "distilled"];

/** Read a policy from its YAML/JSON form (snake_case), reporting every problem at once. */
export function parseCompositionPolicy(value: unknown, source = "policy"): CompositionPolicy {
  const problems: string[] = [];
  const policy = parsePolicy(value, source, problems);
  if (problems.length) throw new ConfigError(problems);
  return policy;
}

function parsePolicy(value: unknown, at: string, problems: string[]): CompositionPolicy {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    problems.push(`${at}: must be a mapping such as { kind: router, top_k: 3 }`);
    return { kind: "router", topK: 1 };
  }
  const v = value as Record<string, unknown>;
  const count = (key: string, fallback: number) => {
    const n = v[key] ?? fallback;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1) problems.push(`${at}.${key}: must be a whole number ≥ 1, got ${JSON.stringify(n)}`);
    return typeof n === "number" ? n : fallback;
  };
  const flag = (key: string) => {
    if (v[key] !== undefined && typeof v[key] !== "boolean") problems.push(`${at}.${key}: must be true or false`);
    return v[key] === true;
  };
  const known = (keys: string[]) => problems.push(...unknownKeys(v, ["kind", ...keys], "field", (key) => `${at}.${key}`));
  switch (v.kind) {
    case "router":
      known(["top_k", "keep_clearly_worse"]);
      return { kind: "router", topK: count("top_k", 3), keepClearlyWorse: flag("keep_clearly_worse") };
    case "ensemble": {
      known(["top_n", "max_ability_gap", "keep_clearly_worse"]);
      const gap = v.max_ability_gap;
      if (gap !== undefined && (typeof gap !== "number" || !(gap > 0))) problems.push(`${at}.max_ability_gap: must be a positive number`);
      return { kind: "ensemble", topN: count("top_n", 3), maxAbilityGap: typeof gap === "number" ? gap : undefined, keepClearlyWorse: flag("keep_clearly_worse") };
    }
    case "prefer-derived": {
      known(["derived", "otherwise"]);
      const derived = v.derived ?? DERIVED_KINDS;
      if (!Array.isArray(derived) || derived.length === 0 || !derived.every((d) => (DERIVED_KINDS as readonly unknown[]).includes(d))) {
        problems.push(`${at}.derived: must be a non-empty list of ${DERIVED_KINDS.join(", ")}`);
      }
      if (v.otherwise === undefined) problems.push(`${at}.otherwise: required (the policy used when no derived model qualifies)`);
      const otherwise = v.otherwise === undefined ? ({ kind: "router", topK: 3 } as const) : parsePolicy(v.otherwise, `${at}.otherwise`, problems);
      return { kind: "prefer-derived", derived: (Array.isArray(derived) ? derived : []) as DerivedKind[], otherwise };
    }
    default:
      problems.push(`${at}.kind: must be router, ensemble or prefer-derived, got ${JSON.stringify(v.kind)}`);
      return { kind: "router", topK: 1 };
  }
}

/** The served composition a policy gives for this ranking and these experts. */
export function composeByPolicy(policy: CompositionPolicy, input: CompositionInput): Composition {
  const registered = new Map(input.experts.map((e) => [e.id, e]));
  const ranked = new Set(input.ranking.models.map((m) => m.model));
  const reasons: string[] = [];
  const unranked = input.experts.filter((e) => !ranked.has(e.id) && !isDerived(e)).map((e) => e.id);
  if (unranked.length) reasons.push(`not ranked yet, so not served: ${unranked.join(", ")}`);
  const plan = planFor(policy, input, registered, reasons);
  const unifiedId = input.servedId ?? "unified";
  const served: ServedSpec[] = [];
  const evidence = { ...input.evidence };
  if (plan.members.length === 1) served.push({ id: unifiedId, policy: "single", members: plan.members, options: {} });
  else if (plan.policy === "router") served.push({ id: unifiedId, policy: "router", members: plan.members, options: { ...evidence } });
  else {
    const options: Record<string, unknown> = { ...evidence };
    if (plan.maxAbilityGap !== undefined) options.max_ability_gap = plan.maxAbilityGap;
    served.push({ id: unifiedId, policy: "ensemble", members: plan.members, options });
  }
  // Every member is also served as itself: the page's playground and the expert cards can call it.
  for (const id of plan.members) served.push({ id, policy: "single", members: [id], options: {} });
  const experts = plan.members.map((id) => registered.get(id)!);
  const yaml = formatUnifiedConfig({ experts, served });
  return { config: parseUnifiedConfig(yaml, input.file), yaml, routing: plan.routing, reasons };
}

interface Plan {
  policy: "router" | "ensemble";
  members: string[];
  routing: Record<string, string[]>;
  maxAbilityGap?: number;
}

function planFor(policy: CompositionPolicy, input: CompositionInput, registered: Map<string, ExpertSpec>, reasons: string[]): Plan {
  const { ranking } = input;
  const candidate = (e: Standing) => registered.has(e.model) && !isDerived(registered.get(e.model)!);
  switch (policy.kind) {
    case "router": {
      checkCount(policy.topK, "top_k");
      const routing: Record<string, string[]> = {};
      for (const domain of ranking.domains) {
        const chosen = topWithin(standings(ranking, domain).filter(candidate), policy.topK, policy.keepClearlyWorse, `${domain}`, reasons);
        if (chosen.length) routing[domain] = chosen;
      }
      const members = byRating(ranking, new Set(Object.values(routing).flat()));
      if (members.length === 0) throw noCandidates(input);
      reasons.unshift(`router over the top ${policy.topK} of each domain: ${members.length} experts`);
      return { policy: "router", members, routing };
    }
    case "ensemble": {
      checkCount(policy.topN, "top_n");
      const members = topWithin(standings(ranking, OVERALL).filter(candidate), policy.topN, policy.keepClearlyWorse, "overall", reasons);
      if (members.length === 0) throw noCandidates(input);
      reasons.unshift(`ensemble of the top ${policy.topN} overall: ${members.join(", ")}`);
      return { policy: "ensemble", members, routing: Object.fromEntries(ranking.domains.map((d) => [d, members])), maxAbilityGap: policy.maxAbilityGap };
    }
    case "prefer-derived": {
      const derived = input.experts.filter((e) => policy.derived.some((kind) => e.tags.includes(kind)));
      const rated = new Map(ranking.models.map((m) => [m.model, m]));
      const best = standings(ranking, OVERALL).filter(candidate)[0];
      const eligible = derived
        .map((e) => ({ e, m: rated.get(e.id) }))
        .filter(({ e, m }) => {
          if (!m) reasons.push(`${e.id}: derived, but not ranked yet`);
          else if (best && m.ci[1] < best.ci[0]) reasons.push(`${e.id}: derived, but clearly worse than ${best.model} overall (interval [${fmt(m.ci)}] below [${fmt(best.ci)}])`);
          return m !== undefined && !(best && m.ci[1] < best.ci[0]);
        })
        .sort((x, y) => y.m!.rating - x.m!.rating || x.e.id.localeCompare(y.e.id));
      if (eligible.length === 0) {
        if (derived.length === 0) reasons.push(`no ${policy.derived.join(" or ")} model registered`);
        return planFor(policy.otherwise, input, registered, reasons);
      }
      const chosen = eligible[0].e.id;
      reasons.unshift(`${chosen}: a ${eligible[0].e.tags.find((t) => (policy.derived as string[]).includes(t))} model, served for every domain`);
      return { policy: "router", members: [chosen], routing: Object.fromEntries(ranking.domains.map((d) => [d, [chosen]])) };
    }
  }
}

/** The first `n` of `ranked` (best first), without those clearly worse than the leader. */
function topWithin(ranked: Standing[], n: number, keepClearlyWorse: boolean | undefined, scope: string, reasons: string[]): string[] {
  const leader = ranked[0];
  const chosen: string[] = [];
  for (const e of ranked.slice(0, n)) {
    if (!keepClearlyWorse && e !== leader && e.ci[1] < leader.ci[0]) {
      reasons.push(`${scope}: ${e.model} left out, clearly worse than ${leader.model} (interval [${fmt(e.ci)}] below [${fmt(leader.ci)}])`);
      continue;
    }
    chosen.push(e.model);
  }
  return chosen;
}

function byRating(ranking: Ranking, ids: Set<string>): string[] {
  return ranking.models.filter((m) => ids.has(m.model)).sort((a, b) => b.rating - a.rating || a.model.localeCompare(b.model)).map((m) => m.model);
}

function isDerived(e: ExpertSpec): boolean {
  return e.tags.some((t) => (DERIVED_KINDS as readonly string[]).includes(t));
}

function checkCount(n: number, field: string): void {
  if (!Number.isInteger(n) || n < 1) throw new ConfigError([`policy ${field}: must be a whole number ≥ 1, got ${n}`]);
}

function noCandidates(input: CompositionInput): ConfigError {
  return new ConfigError([
    `no registered expert is ranked: the ranking has ${input.ranking.models.map((m) => m.model).join(", ") || "no models"}; registered: ${input.experts.map((e) => e.id).join(", ") || "none"}`,
  ]);
}

const fmt = (ci: [number, number]) => `${ci[0].toFixed(2)}, ${ci[1].toFixed(2)}`;
