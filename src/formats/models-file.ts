/**
 * The models file (YAML): the experts an evaluation or a gateway uses.
 *
 *   experts:
 *     - id: med-small                # required, unique
 *       backend: llamacpp            # llamacpp | openai
 *       path: ./med.gguf             # llamacpp: a local GGUF file (relative to this file)
 *       lora: ./med-adapter.gguf     # optional runtime LoRA adapter ...
 *       scale: 0.8                   # ... and its scale (default 1)
 *       threads: 1                   # optional
 *       context_size: 2048           # optional (default and maximum: the trained context)
 *       domains: [medicine]          # domains it claims
 *       tags: [small]
 *       base: base-small             # optional: id of the model in this file it was fine-tuned
 *                                    # from (experts naming the same base can be merged)
 *       weights: ./med-hf            # optional: its Hugging Face folder, for weight-space
 *                                    # merges (default: the GGUF itself)
 *     - id: remote-7b
 *       backend: openai
 *       url: http://127.0.0.1:8000/v1  # base URL including /v1
 *       model: meta-llama/Llama-3.1-8B # the server's model name (default: id)
 *       api_key_env: MY_KEY          # the key is read from this environment variable, never stored
 *       concurrency: 8               # optional; also timeout_ms, max_retries, chat: true,
 *                                    # context_size (the server's, for distill targets)
 *
 * A bare list of experts (without `experts:`) is accepted too. Every problem is reported with
 * the file, line and field.
 */
import * as path from "node:path";
import { isMap, isSeq } from "yaml";
import { ConfigError } from "../core/errors.js";
import { readTextFile } from "../core/files.js";
import { didYouMean, unknownKeys } from "../core/suggest.js";
import { parseYamlFile } from "./yaml.js";

export type BackendKind = "llamacpp" | "openai";

/** One expert, as plain JSON (it travels inside distributed jobs). */
export interface ExpertSpec {
  id: string;
  backend: BackendKind;
  /** llamacpp: absolute path of the GGUF file. */
  path?: string;
  /** openai: base URL. */
  url?: string;
  /** openai: the server's model name. */
  model?: string;
  lora?: { path: string; scale: number };
  domains: string[];
  tags: string[];
  threads?: number;
  contextSize?: number;
  /** openai: name of the environment variable holding the API key. */
  apiKeyEnv?: string;
  concurrency?: number;
  timeoutMs?: number;
  maxRetries?: number;
  chat?: boolean;
  /** Id of the model in the same file this one was fine-tuned from (merges take experts of one base). */
  base?: string;
  /** llamacpp: absolute path of its Hugging Face folder, for weight-space merges. */
  weights?: string;
}

const KNOWN = [
  "id", "backend", "path", "url", "model", "lora", "scale", "domains", "tags", "threads", "context_size",
  "api_key_env", "concurrency", "timeout_ms", "max_retries", "chat", "base", "weights",
];
const BACKENDS: readonly BackendKind[] = ["llamacpp", "openai"];

export async function readModelsFile(file: string): Promise<ExpertSpec[]> {
  const text = await readTextFile(file);
  return parseModelsFile(text, file);
}

/**
 * Parse and validate a models file; relative paths resolve against the file's directory.
 * `sections` names the other top-level keys a file that embeds a models list may have (the
 * unified serve config's `serve`); any other top-level key is an error.
 */
export function parseModelsFile(text: string, file: string, sections: readonly string[] = []): ExpertSpec[] {
  const { doc, locate: where } = parseYamlFile(text, file, "a models file");
  const listPath: (string | number)[] = isMap(doc.contents) ? ["experts"] : [];
  const topProblems = isMap(doc.contents) ? unknownKeys(doc.toJS() as Record<string, unknown>, ["experts", ...sections], "section", (key) => where([key])) : [];
  if (topProblems.length) throw new ConfigError(topProblems, file);
  const list = listPath.length > 0 ? (doc.contents as { get(k: string): unknown }).get("experts") : doc.contents;
  if (!isSeq(list)) throw new ConfigError(["expected a list of experts (a top-level list, or a list under 'experts:')"], file);
  const value = doc.toJS() as unknown;
  const raw = (listPath.length > 0 ? (value as { experts: unknown[] }).experts : value) as unknown[];
  const base = path.dirname(path.resolve(file));
  const problems: string[] = [];
  const specs: ExpertSpec[] = [];
  const seen = new Map<string, number>();

  raw.forEach((entry, index) => {
    const at = (field?: string) => where(field === undefined ? [...listPath, index] : [...listPath, index, field]);
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      problems.push(`${at()}: an expert must be a mapping with at least 'id' and 'backend'`);
      return;
    }
    const e = entry as Record<string, unknown>;
    problems.push(...unknownKeys(e, KNOWN, "field", at));
    const str = (field: string, required: boolean): string | undefined => {
      const v = e[field];
      if (v === undefined || v === null) {
        if (required) problems.push(`${at()}: '${field}' is required`);
        return undefined;
      }
      if (typeof v !== "string" || v.trim() === "") {
        problems.push(`${at(field)}: must be a non-empty string`);
        return undefined;
      }
      return v;
    };
    const int = (field: string, min: number): number | undefined => {
      const v = e[field];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
        problems.push(`${at(field)}: must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
        return undefined;
      }
      return v;
    };
    const list = (field: string): string[] => {
      const v = e[field];
      if (v === undefined || v === null) return [];
      if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
        problems.push(`${at(field)}: must be a list of strings`);
        return [];
      }
      return v as string[];
    };

    const id = str("id", true);
    if (id !== undefined) {
      if (seen.has(id)) problems.push(`${at("id")}: duplicate id '${id}' (also experts[${seen.get(id)}])`);
      seen.set(id, index);
    }
    const backend = str("backend", true);
    if (backend !== undefined && !(BACKENDS as readonly string[]).includes(backend)) {
      problems.push(`${at("backend")}: must be 'llamacpp' or 'openai', got '${backend}'${didYouMean(backend, BACKENDS)}`);
    }
    const spec: ExpertSpec = { id: id ?? "", backend: backend as BackendKind, domains: list("domains"), tags: list("tags") };
    spec.base = str("base", false);
    if (spec.base !== undefined && spec.base === id) problems.push(`${at("base")}: an expert cannot be its own base`);
    if (backend === "llamacpp") {
      const p = str("path", true);
      if (p !== undefined) spec.path = path.resolve(base, p);
      if (e.url !== undefined) problems.push(`${at("url")}: only for backend 'openai' (llamacpp loads a local 'path')`);
      const lora = str("lora", false);
      const scale = e.scale;
      if (scale !== undefined && (typeof scale !== "number" || !Number.isFinite(scale))) problems.push(`${at("scale")}: must be a number`);
      if (scale !== undefined && lora === undefined) problems.push(`${at("scale")}: 'scale' needs a 'lora' adapter`);
      if (lora !== undefined) spec.lora = { path: path.resolve(base, lora), scale: typeof scale === "number" ? scale : 1 };
      const weights = str("weights", false);
      if (weights !== undefined) spec.weights = path.resolve(base, weights);
      spec.threads = int("threads", 1);
      spec.contextSize = int("context_size", 16);
    } else if (backend === "openai") {
      const url = str("url", true);
      if (url !== undefined) {
        if (!/^https?:\/\/[^/\s]+/.test(url)) problems.push(`${at("url")}: must be an http(s) URL such as http://127.0.0.1:8000/v1`);
        spec.url = url;
      }
      for (const field of ["path", "lora", "scale", "threads", "weights"]) {
        if (e[field] !== undefined) problems.push(`${at(field)}: only for backend 'llamacpp'`);
      }
      // The server's context, when known: distillation counts longer texts as skipped instead of failing on them.
      spec.contextSize = int("context_size", 16);
      spec.model = str("model", false) ?? id;
      spec.apiKeyEnv = str("api_key_env", false);
      spec.concurrency = int("concurrency", 1);
      spec.timeoutMs = int("timeout_ms", 1);
      spec.maxRetries = int("max_retries", 0);
      if (e.chat !== undefined && typeof e.chat !== "boolean") problems.push(`${at("chat")}: must be true or false`);
      if (e.chat !== undefined) spec.chat = e.chat === true;
    }
    for (const key of Object.keys(spec) as (keyof ExpertSpec)[]) if (spec[key] === undefined) delete spec[key];
    specs.push(spec);
  });
  raw.forEach((entry, index) => {
    const b = (entry as Record<string, unknown> | null)?.base;
    if (typeof b === "string" && b !== (entry as Record<string, unknown>).id && !seen.has(b)) {
      problems.push(`${where([...listPath, index, "base"])}: no model '${b}' in this file${didYouMean(b, [...seen.keys()])}`);
    }
  });
  if (specs.length === 0 && problems.length === 0) problems.push("the list of experts is empty");
  if (problems.length > 0) throw new ConfigError(problems, file);
  return specs;
}

/**
 * One expert as a models-file entry (the inverse of parsing it): what a written config (e.g.
 * `cogen unify`'s unified.yml) lists. Paths stay absolute unless `relativeTo` is given and the
 * path lies under it.
 */
export function modelsFileEntry(spec: ExpertSpec, relativeTo?: string): Record<string, unknown> {
  const local = (p: string) => {
    if (relativeTo === undefined) return p;
    const rel = path.relative(relativeTo, p);
    return rel.startsWith("..") || path.isAbsolute(rel) ? p : rel;
  };
  const entry: Record<string, unknown> = { id: spec.id, backend: spec.backend };
  if (spec.path !== undefined) entry.path = local(spec.path);
  if (spec.lora) Object.assign(entry, { lora: local(spec.lora.path), scale: spec.lora.scale });
  if (spec.url !== undefined) entry.url = spec.url;
  if (spec.model !== undefined && spec.model !== spec.id) entry.model = spec.model;
  const optional: [string, unknown][] = [
    ["threads", spec.threads], ["context_size", spec.contextSize], ["api_key_env", spec.apiKeyEnv], ["concurrency", spec.concurrency],
    ["timeout_ms", spec.timeoutMs], ["max_retries", spec.maxRetries], ["chat", spec.chat], ["base", spec.base],
    ["weights", spec.weights === undefined ? undefined : local(spec.weights)],
  ];
  for (const [key, value] of optional) if (value !== undefined) entry[key] = value;
  if (spec.domains.length) entry.domains = spec.domains;
  if (spec.tags.length) entry.tags = spec.tags;
  return entry;
}
