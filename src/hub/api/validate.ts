/** Request bodies and query strings, validated with every problem reported at once. */
import type { ArtefactKind, DerivedKind, EvaluationMode, ModelCard, Role } from "../api-types.js";
import { invalid } from "./errors.js";

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const KINDS: readonly ArtefactKind[] = ["gguf", "hf", "lora", "endpoint"];
const MAX_TEXT = 20_000;

export interface ArtefactRequest {
  kind: ArtefactKind;
  /** A path under the artefact root (registration by reference). */
  path?: string;
  /** The sha256 of an artefact uploaded earlier (POST /api/artefacts). */
  upload?: string;
  /** The sha256 the contributor expects (checked against the file when given). */
  sha256?: string;
  url?: string;
  model?: string;
  baseExpert?: string;
}

export interface ExpertRequest {
  id: string;
  family: string;
  base: string | null;
  domains: string[];
  licence: string;
  card: ModelCard;
  evaluation: EvaluationMode;
  derived: DerivedKind | null;
  artefact: ArtefactRequest;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function unknownFields(o: Obj, known: readonly string[], where: string, problems: string[]): void {
  for (const key of Object.keys(o)) if (!known.includes(key)) problems.push(`${where}${key}: unknown field (known: ${known.join(", ")})`);
}

function text(o: Obj, key: string, where: string, problems: string[], options: { optional?: boolean; pattern?: RegExp; max?: number } = {}): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (!options.optional) problems.push(`${where}${key}: required`);
    return undefined;
  }
  if (typeof v !== "string" || v.length === 0) return void problems.push(`${where}${key}: must be a non-empty string`);
  if (v.length > (options.max ?? MAX_TEXT)) return void problems.push(`${where}${key}: longer than ${options.max ?? MAX_TEXT} characters`);
  if (options.pattern && !options.pattern.test(v)) return void problems.push(`${where}${key}: '${v.slice(0, 100)}' must match ${options.pattern}`);
  return v;
}

export function parseExpertRequest(body: unknown, idFromPath?: string): ExpertRequest {
  const problems: string[] = [];
  if (!isObj(body)) throw invalid(["body: must be a JSON object"]);
  unknownFields(body, ["id", "family", "base", "domains", "licence", "card", "evaluation", "derived", "artefact"], "", problems);
  const derived = body.derived ?? null;
  if (derived !== null && derived !== "moe" && derived !== "distilled") problems.push("derived: moe or distilled (a model built from other experts), or null");
  const evaluation = body.evaluation ?? "hub";
  if (evaluation !== "hub" && evaluation !== "submitted") problems.push("evaluation: hub (default: the hub runs every suite) or submitted (you submit results; the hub re-runs a sample)");
  const id = idFromPath ?? text(body, "id", "", problems, { pattern: ID_PATTERN });
  if (idFromPath !== undefined && body.id !== undefined && body.id !== idFromPath) problems.push(`id: '${String(body.id)}' differs from the path's '${idFromPath}'`);
  const family = text(body, "family", "", problems, { pattern: ID_PATTERN });
  const base = text(body, "base", "", problems, { optional: true, max: 200 }) ?? null;
  const licence = text(body, "licence", "", problems, { max: 100 });
  const domains = body.domains;
  if (!Array.isArray(domains) || domains.length === 0 || !domains.every((d) => typeof d === "string" && ID_PATTERN.test(d))) {
    problems.push(`domains: a non-empty list of domain names matching ${ID_PATTERN}`);
  }
  const card = parseCard(body.card, problems);
  const artefact = parseArtefact(body.artefact, problems);
  if (problems.length) throw invalid(problems);
  return { id: id!, family: family!, base, domains: [...new Set(domains as string[])], licence: licence!, card, evaluation: evaluation as EvaluationMode, derived: derived as DerivedKind | null, artefact: artefact! };
}

function parseCard(value: unknown, problems: string[]): ModelCard {
  if (!isObj(value)) {
    problems.push("card: required, an object with at least a description");
    return { description: "" };
  }
  unknownFields(value, ["description", "training", "intendedUse", "limitations", "extra"], "card.", problems);
  const card: ModelCard = { description: text(value, "description", "card.", problems) ?? "" };
  for (const key of ["training", "intendedUse", "limitations"] as const) {
    const v = text(value, key, "card.", problems, { optional: true });
    if (v !== undefined) card[key] = v;
  }
  if (value.extra !== undefined) {
    if (!isObj(value.extra) || !Object.values(value.extra).every((v) => typeof v === "string" && v.length <= MAX_TEXT)) problems.push("card.extra: an object of strings");
    else card.extra = value.extra as Record<string, string>;
  }
  return card;
}

function parseArtefact(value: unknown, problems: string[]): ArtefactRequest | undefined {
  if (!isObj(value)) return void problems.push("artefact: required, an object with a kind");
  unknownFields(value, ["kind", "path", "upload", "sha256", "url", "model", "baseExpert"], "artefact.", problems);
  const kind = value.kind as ArtefactKind;
  if (!KINDS.includes(kind)) return void problems.push(`artefact.kind: one of ${KINDS.join(", ")}`);
  const out: ArtefactRequest = { kind };
  const sha = text(value, "sha256", "artefact.", problems, { optional: true, pattern: /^[0-9a-f]{64}$/ });
  if (sha) out.sha256 = sha;
  if (kind === "endpoint") {
    const url = text(value, "url", "artefact.", problems, { max: 2000 });
    if (url) {
      let parsed: URL | undefined;
      try {
        parsed = new URL(url);
      } catch {
        problems.push(`artefact.url: '${url}' is not a URL`);
      }
      if (parsed && parsed.protocol !== "http:" && parsed.protocol !== "https:") problems.push("artefact.url: must be http(s)");
      out.url = url;
    }
    const model = text(value, "model", "artefact.", problems, { optional: true, max: 200 });
    if (model) out.model = model;
    return out;
  }
  const path = text(value, "path", "artefact.", problems, { optional: true, max: 1000 });
  const upload = text(value, "upload", "artefact.", problems, { optional: true, pattern: /^[0-9a-f]{64}$/ });
  if ((path === undefined) === (upload === undefined)) problems.push("artefact: give exactly one of path (under the artefact root) or upload (the sha256 of an uploaded file)");
  if (kind === "hf" && upload) problems.push("artefact.upload: an HF folder is registered by reference only");
  if (path) out.path = path;
  if (upload) out.upload = upload;
  if (kind === "lora") {
    const base = text(value, "baseExpert", "artefact.", problems, { pattern: ID_PATTERN });
    if (base) out.baseExpert = base;
  }
  return out;
}

export interface EvidenceRequest {
  suite: string;
  results: { item: string; score: number; record: Obj }[];
}

export function parseEvidenceRequest(body: unknown): EvidenceRequest {
  const problems: string[] = [];
  if (!isObj(body)) throw invalid(["body: must be a JSON object"]);
  unknownFields(body, ["suite", "results"], "", problems);
  const suite = text(body, "suite", "", problems, { pattern: ID_PATTERN });
  const results: EvidenceRequest["results"] = [];
  if (!Array.isArray(body.results) || body.results.length === 0) problems.push("results: a non-empty list of { item, score }");
  else {
    body.results.forEach((r: unknown, i) => {
      if (!isObj(r)) return void problems.push(`results[${i}]: must be an object`);
      const item = typeof r.item === "string" && r.item.length > 0 ? r.item : (problems.push(`results[${i}].item: required`), "");
      const score = r.score;
      if (typeof score !== "number" || !Number.isFinite(score) || score < 0 || score > 1) problems.push(`results[${i}].score: a number in [0, 1]`);
      results.push({ item, score: score as number, record: r });
    });
  }
  if (problems.length) throw invalid(problems.slice(0, 50));
  return { suite: suite!, results };
}

export function parseRole(value: unknown, problems: string[]): Role {
  if (value === "reader" || value === "contributor" || value === "maintainer") return value;
  problems.push("role: one of reader, contributor, maintainer");
  return "reader";
}

/** limit/offset of a list, within bounds. */
export function page(query: Obj, maxLimit = 500): { limit: number; offset: number } {
  const problems: string[] = [];
  const num = (key: string, fallback: number, max: number): number => {
    const v = query[key];
    if (v === undefined) return fallback;
    if (typeof v !== "string" || !/^\d{1,9}$/.test(v) || Number(v) > max) {
      problems.push(`${key}: an integer from 0 to ${max}`);
      return fallback;
    }
    return Number(v);
  };
  const limit = num("limit", 50, maxLimit);
  const offset = num("offset", 0, 1_000_000_000);
  if (problems.length) throw invalid(problems);
  return { limit, offset };
}

/** The string filters of a list: each a single string value, at most 200 characters. */
export function filters<K extends string>(query: Obj, keys: readonly K[]): Partial<Record<K, string>> {
  const problems: string[] = [];
  const out: Partial<Record<K, string>> = {};
  for (const key of keys) {
    const v = query[key];
    if (v === undefined) continue;
    if (typeof v !== "string" || v.length > 200) problems.push(`${key}: a single string of at most 200 characters`);
    else out[key] = v;
  }
  const unknown = Object.keys(query).filter((k) => !(keys as readonly string[]).includes(k) && k !== "limit" && k !== "offset");
  for (const k of unknown) problems.push(`${k}: unknown filter (known: ${[...keys, "limit", "offset"].join(", ")})`);
  if (problems.length) throw invalid(problems);
  return out;
}
