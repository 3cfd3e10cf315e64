import { ConfigError } from "../core/errors.js";
import { didYouMean } from "../core/suggest.js";

/**
 * The unified models `cogen unify` can build. `router` and `ensemble` are built on any experts;
 * `merge` (TIES in weight space) and `moe` (a Mixtral-style mixture) need local experts that
 * share a base; `distill` trains a pivot on the experts' fused predictions (it needs an expert
 * with a Hugging Face folder). Each one asked for is either built or listed as skipped with its
 * reason.
 */
export const UNIFY_POLICIES = ["router", "ensemble", "merge", "moe", "distill"] as const;
export type UnifyPolicy = (typeof UNIFY_POLICIES)[number];

/** Built when `--policies` is not given. */
export const DEFAULT_UNIFY_POLICIES: readonly UnifyPolicy[] = ["router", "ensemble", "merge"];

/** A policy that was not built, and why. */
export interface SkippedPolicy {
  policy: UnifyPolicy;
  reason: string;
}

/** Parse `router,ensemble,merge`: every unknown name is reported at once. */
export function parsePolicies(text: string, field = "--policies"): UnifyPolicy[] {
  const names = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const problems = names
    .filter((n) => !(UNIFY_POLICIES as readonly string[]).includes(n))
    .map((n) => `${field}: unknown policy '${n}'${didYouMean(n, UNIFY_POLICIES)}; known: ${UNIFY_POLICIES.join(", ")}`);
  if (names.length === 0) problems.push(`${field}: name at least one policy (${UNIFY_POLICIES.join(", ")})`);
  if (problems.length) throw new ConfigError(problems);
  return [...new Set(names as UnifyPolicy[])];
}
