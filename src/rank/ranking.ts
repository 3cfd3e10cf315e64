/**
 * The Ranking: what `cogen rank` writes and `cogen select` / a router reads. One shape for both
 * kinds of evidence — per-item results (abilities on the logit scale) and pairwise votes (ratings on
 * the Arena scale).
 */
import type { RankedModel } from "../core/evidence.js";

/** A model's ability in one domain, with its 95% interval. */
export interface DomainAbility {
  ability: number;
  ci: [number, number];
}

export interface ModelRanking extends RankedModel {
  /** Per-domain abilities (standardised within each domain for per-item results). */
  domains: Record<string, DomainAbility>;
}

export type ItemFlag = "uninformative" | "negative_discrimination" | "low_discrimination";

/** What the ranking learned about one evaluation item. */
export interface ItemReport {
  item: string;
  domain: string;
  /** b in P = σ(a(θ − b)); null for items left out of the fit (uninformative). */
  difficulty: number | null;
  /** a; null for items left out of the fit. */
  discrimination: number | null;
  /** Mean Fisher information a²P(1 − P) over the models' abilities in the item's domain. */
  information: number;
  /** Fraction of the item's responses that were correct (mean score). */
  meanScore: number;
  responses: number;
  flags: ItemFlag[];
}

/** Anchor items that stand in for the whole benchmark (tinyBenchmarks-style). */
export interface AnchorReport {
  anchors: { item: string; domain: string; weight: number }[];
  /** Mean absolute error of the predicted full-benchmark score on held-out models. */
  heldOutMae: number;
  folds: number;
}

/** Votes only: the fewest votes whose removal would change who is first. */
export interface VoteRobustness {
  leader: string;
  challenger: string;
  /** Rating gap leader − challenger, in rating points. */
  gap: number;
  /** How many votes (of all) removed flip the leader; `confirmed` when a refit shows it. */
  votesToFlip: number;
  fractionOfVotes: number;
  confirmed: boolean;
}

export interface Ranking {
  kind: "per-item" | "pairwise";
  /** "logit" (per-item IRT abilities) or "arena" (400·r + 1000). */
  scale: "logit" | "arena";
  method: string;
  /** Models best first. */
  models: ModelRanking[];
  domains: string[];
  items: ItemReport[];
  warnings: string[];
  anchors?: AnchorReport;
  robustness?: VoteRobustness;
}

/** z for a two-sided 95% normal interval. */
export const Z95 = 1.959963984540054;
