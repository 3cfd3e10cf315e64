/**
 * The hub's JSON contract: the body of every GET endpoint of the contributor API (src/hub/api),
 * which the hub web page (src/hub/web) renders. Types only — no runtime code — so the page and
 * any client can depend on it without pulling in the server. Additive changes only: a field once
 * published keeps its name and meaning; new fields are optional.
 *
 *   GET /api/experts                          → ExpertList        (filters: domain, owner, family, q, limit, offset)
 *   GET /api/experts/:id                      → ExpertCard
 *   GET /api/contributors                     → ContributorList
 *   GET /api/suites                           → SuiteList
 *   GET /api/leaderboards                     → LeaderboardIndex
 *   GET /api/leaderboards/:domain             → Leaderboard       (?version=N for an earlier fit)
 *   GET /api/items                            → ItemQualityList   (filters: domain, suite, flag, limit, offset)
 *   GET /api/compositions                     → CompositionHistory
 *   GET /api/compositions/current             → Composition
 *   GET /api/compositions/:version            → Composition
 *   GET /api/audit                            → AuditList         (maintainer; filters: actor, action, target, limit, offset)
 *   GET /api/status                           → HubStatus
 * Every error is an ApiError with an HTTP status of 4xx or 5xx.
 */

/** ISO-8601 UTC timestamp, e.g. "2026-12-07T06:40:00.000Z". */
export type Timestamp = string;

export type Role = "reader" | "contributor" | "maintainer";

/** How an expert's weights reach the hub. */
export type ArtefactKind = "gguf" | "hf" | "lora" | "endpoint";

/** Who produced a piece of evidence: the hub's own evaluation, or the contributor's machine. */
export type EvidenceSource = "hub-run" | "submitted";

/** Who evaluates an expert: the hub on every suite, or its contributor (the hub re-runs a sample). */
export type EvaluationMode = "hub" | "submitted";

/** A model built from other experts: a mixture of experts, or a distilled model. */
export type DerivedKind = "moe" | "distilled";

/** An expert's evaluation state in the continuous loop. */
export type EvaluationState = "queued" | "running" | "evaluated" | "failed";

export interface ApiError {
  error: {
    /** Stable machine-readable code: "unauthorized", "forbidden", "not_found", "invalid", "conflict", "too_large", "hash_mismatch", "internal". */
    code: string;
    message: string;
    /** Every problem found, when there were several (field → problem). */
    problems?: string[];
  };
}

/** One page of a list. */
export interface Page {
  total: number;
  limit: number;
  offset: number;
}

export interface ContributorSummary {
  id: string;
  name: string;
  role: Role;
  experts: number;
  createdAt: Timestamp;
}

export interface ContributorList extends Page {
  contributors: ContributorSummary[];
}

export interface Artefact {
  kind: ArtefactKind;
  /** sha256 hex of the artefact's bytes (GGUF, LoRA file, or the HF folder's sorted file hashes); null for endpoints. */
  sha256: string | null;
  bytes: number | null;
  /** lora: the registered expert id of the base model it adapts. */
  baseExpert?: string;
  /** endpoint: base URL including /v1, and the server's model name. */
  url?: string;
  model?: string;
  /** "upload" (stored by the hub) or "reference" (a path under the hub's artefact root, or an endpoint). */
  origin: "upload" | "reference";
}

/** One row of the experts list. */
export interface ExpertSummary {
  id: string;
  owner: string;
  /** Architecture family (e.g. "family-a"); experts of one family share a tokenizer and can be merged. */
  family: string;
  /** The base model it was trained from, if known (free text or a registered expert id). */
  base: string | null;
  domains: string[];
  licence: string;
  artefact: Artefact;
  /** Increases on every update of the artefact or card. */
  revision: number;
  /** Optional for clients of the first version of this contract; the hub always sends it. */
  evaluation?: EvaluationMode;
  /** Built from other experts (what a prefer-derived policy serves); null or absent: its own. Optional: added after the first version. */
  derived?: DerivedKind | null;
  state: EvaluationState;
  /** True when submitted and hub re-run scores disagree beyond their standard errors. */
  flagged: boolean;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export interface ExpertList extends Page {
  experts: ExpertSummary[];
}

/** Free-form model card, with the fields the hub shows first. */
export interface ModelCard {
  description: string;
  /** Training data and procedure, as the contributor states it. */
  training?: string;
  intendedUse?: string;
  limitations?: string;
  /** Anything else the contributor supplied (string → string). */
  extra?: Record<string, string>;
}

/** The evidence behind an expert in one suite/domain, split by who produced it. */
export interface EvidenceSummary {
  suite: string;
  domain: string;
  source: EvidenceSource;
  /** Who produced it: "hub" for hub-run, else the contributor id. */
  producer: string;
  items: number;
  /** Mean score in [0, 1] and its standard error. */
  mean: number;
  stderr: number;
  updatedAt: Timestamp;
}

/** The hub's check of submitted evidence: a seeded random sample re-run by the hub. */
export interface SubmittedCheck {
  suite: string;
  domain: string;
  sampled: number;
  submittedMean: number;
  submittedStderr: number;
  rerunMean: number;
  rerunStderr: number;
  /** |submitted − rerun| > z·sqrt(se_s² + se_r²). */
  disagrees: boolean;
  seed: number;
  checkedAt: Timestamp;
}

/** Where a published composition routes to an expert. */
export interface RoutedIn {
  compositionVersion: number;
  servedId: string;
  policy: string;
  /** Domains for which it is a member. */
  domains: string[];
}

export interface ExpertCard extends ExpertSummary {
  card: ModelCard;
  /** Per-domain place in the latest leaderboards. */
  standings: { domain: string; rank: number; rating: number; ci: [number, number]; leaderboardVersion: number }[];
  evidence: EvidenceSummary[];
  checks: SubmittedCheck[];
  routedIn: RoutedIn[];
}

export interface Suite {
  id: string;
  /** Domains its items cover. */
  domains: string[];
  items: number;
  /** sha256 hex of the task file's bytes. */
  sha256: string;
  /** Where the tasks came from (free text: URL, paper, author). */
  provenance: string;
  licence: string;
  createdBy: string;
  createdAt: Timestamp;
}

export interface SuiteList extends Page {
  suites: Suite[];
}

export interface LeaderboardEntry {
  expert: string;
  owner: string;
  rank: number;
  /** Best and worst rank consistent with the intervals. */
  rankRange: [number, number];
  /** Ability on the ranking's scale, with its 95% interval. */
  rating: number;
  ci: [number, number];
  /** Mean score on the domain's items, and how many items it rests on. */
  meanScore: number;
  items: number;
  /** Which evidence this entry rests on: counts by source. */
  evidence: Record<EvidenceSource, number>;
  flagged: boolean;
}

export interface Leaderboard {
  domain: string;
  /** Increases with every refit of this domain. */
  version: number;
  scale: "logit" | "arena";
  method: string;
  fittedAt: Timestamp;
  /** Why it was refitted (e.g. "evidence for a-expert-law rev 2"). */
  reason: string;
  entries: LeaderboardEntry[];
  /** The evidence the fit rests on: suites with their hashes, and result counts by source. */
  restsOn: { suites: { id: string; sha256: string }[]; results: Record<EvidenceSource, number> };
  warnings: string[];
}

export interface LeaderboardIndex {
  leaderboards: { domain: string; version: number; fittedAt: Timestamp; experts: number; leader: string | null }[];
}

export interface ItemQuality {
  item: string;
  suite: string;
  domain: string;
  difficulty: number | null;
  discrimination: number | null;
  information: number;
  meanScore: number;
  responses: number;
  flags: ("uninformative" | "negative_discrimination" | "low_discrimination")[];
}

export interface ItemQualityList extends Page {
  items: ItemQuality[];
}

/** A served model inside a composition (mirrors the unified config's `serve` entries). */
export interface CompositionServed {
  id: string;
  policy: string;
  members: string[];
  options: Record<string, unknown>;
}

export interface Composition {
  version: number;
  /** The policy that built it (e.g. "router-top-k") and its parameters. */
  policy: { name: string; params: Record<string, unknown> };
  /** Leaderboard versions it was built from (domain → version). */
  builtFrom: Record<string, number>;
  experts: string[];
  served: CompositionServed[];
  /** The unified config (YAML) as published. */
  config: string;
  /**
   * built: never served; published: served now (the current one) — or, for versions stored before
   * "superseded" existed, once; superseded: replaced by a newer version; rolled-back: replaced by
   * an earlier version served again; failed: its publish failed.
   */
  state: "built" | "published" | "superseded" | "rolled-back" | "failed";
  createdAt: Timestamp;
  publishedAt: Timestamp | null;
  publishedBy: string | null;
  /** Where it is served: the gateway's base URL (…/v1) and served id. */
  endpoint: { url: string; model: string } | null;
  /** Domain → the experts serving it, best first, as the policy decided. Optional: added after the first version. */
  routing?: Record<string, string[]>;
}

export interface CompositionHistory {
  current: number | null;
  versions: Pick<Composition, "version" | "policy" | "experts" | "state" | "createdAt" | "publishedAt" | "publishedBy">[];
}

export interface AuditEntry {
  id: number;
  at: Timestamp;
  /** Contributor id, or "hub" for the loop's own actions. */
  actor: string;
  /** e.g. "expert.register", "expert.update", "evidence.submit", "suite.create", "composition.publish", "key.create". */
  action: string;
  /** The object acted on (e.g. "expert:a-expert-law"). */
  target: string;
  detail: Record<string, unknown>;
}

export interface AuditList extends Page {
  entries: AuditEntry[];
}

export interface HubStatus {
  version: string;
  store: "sqlite" | "postgres";
  experts: number;
  contributors: number;
  queue: { waiting: number; running: number; failed: number; kind: "in-process" | "bullmq" };
  currentComposition: number | null;
  /** The gateway's OpenAI-compatible base URL, when one is served. */
  gateway: string | null;
}
