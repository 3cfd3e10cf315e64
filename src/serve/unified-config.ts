import * as path from "node:path";
import { ConfigError } from "../core/errors.js";
import { didYouMean, unknownKeys } from "../core/suggest.js";
import type { LanguageModel } from "../core/language-model.js";
import { parseModelsFile, type ExpertSpec } from "../formats/models-file.js";
import { stringify as stringifyYaml } from "yaml";
import { parseYamlFile } from "../formats/yaml.js";
import { readTextFile } from "../core/files.js";

/**
 * The unified model's config: the experts (a models file) and the models served, each a policy
 * over members that are experts or other served models (composites nest).
 *
 *   experts:
 *     - { id: med, backend: llamacpp, path: med.gguf }
 *     - { id: law, backend: llamacpp, path: law.gguf }
 *   serve:
 *     - id: unified
 *       policy: router            # single | router | ensemble | ... (see POLICIES)
 *       members: [med, law]
 *       options: { ... }          # policy-specific (evidence files, thresholds)
 *     - { id: med-only, policy: single, members: [med] }
 */
export interface ServedSpec {
  id: string;
  policy: string;
  members: string[];
  options: Record<string, unknown>;
}

export interface UnifiedConfig {
  file: string;
  experts: ExpertSpec[];
  served: ServedSpec[];
}

/** Builds one composite from its already-built members. */
export type PolicyBuilder = (spec: ServedSpec, members: LanguageModel[], config: UnifiedConfig) => Promise<LanguageModel>;

export async function readUnifiedConfig(file: string): Promise<UnifiedConfig> {
  const text = await readTextFile(file);
  return parseUnifiedConfig(text, file);
}

export function parseUnifiedConfig(text: string, file: string): UnifiedConfig {
  const experts = parseModelsFile(text, file, ["serve"]);
  const doc = parseYamlFile(text, file, "a serve config").doc.toJS() as Record<string, unknown>;
  const problems: string[] = [];
  const list = doc.serve;
  const served: ServedSpec[] = [];
  if (list === undefined) {
    // Without a serve section every expert is served as itself.
    for (const e of experts) served.push({ id: e.id, policy: "single", members: [e.id], options: {} });
  } else if (!Array.isArray(list)) {
    problems.push("serve: must be a list of served models");
  } else {
    list.forEach((entry, i) => {
      const e = entry as Record<string, unknown>;
      if (typeof e !== "object" || e === null) return problems.push(`serve[${i}]: must be a mapping`);
      const id = typeof e.id === "string" && e.id ? e.id : (problems.push(`serve[${i}].id: required`), `#${i}`);
      const policy = typeof e.policy === "string" ? e.policy : (problems.push(`serve[${i}].policy: required`), "single");
      const members = Array.isArray(e.members) && e.members.every((m) => typeof m === "string") ? (e.members as string[]) : [];
      if (members.length === 0) problems.push(`serve[${i}].members: a non-empty list of expert or served ids`);
      const options = e.options === undefined || e.options === null ? {} : (e.options as Record<string, unknown>);
      if (typeof options !== "object" || Array.isArray(options)) problems.push(`serve[${i}].options: must be a mapping of option → value`);
      problems.push(...unknownKeys(e, ["id", "policy", "members", "options"], "field", (key) => `serve[${i}].${key}`));
      served.push({ id, policy, members, options });
    });
  }
  const ids = new Set(experts.map((e) => e.id));
  for (const s of served) {
    if (ids.has(s.id) && !(s.policy === "single" && s.members[0] === s.id)) problems.push(`serve: id '${s.id}' is also an expert's id`);
    ids.add(s.id);
  }
  for (const s of served) for (const m of s.members) if (!ids.has(m)) problems.push(`serve '${s.id}': unknown member '${m}' (experts and served ids: ${[...ids].join(", ")})`);
  if (problems.length) throw new ConfigError(problems, file);
  return { file, experts, served };
}

/**
 * Build every served model. Members are built once and shared; cycles (a composite that
 * contains itself) are refused. `openExpert` opens one expert (llama.cpp or remote).
 */
export async function buildServedModels(
  config: UnifiedConfig,
  policies: Readonly<Record<string, PolicyBuilder>>,
  openExpert: (spec: ExpertSpec) => Promise<LanguageModel>,
): Promise<{ served: Map<string, LanguageModel>; all: LanguageModel[] }> {
  const built = new Map<string, Promise<LanguageModel>>();
  const experts = new Map(config.experts.map((e) => [e.id, e]));
  const servedSpecs = new Map(config.served.map((s) => [s.id, s]));

  const build = (id: string, trail: string[]): Promise<LanguageModel> => {
    if (trail.includes(id)) throw new ConfigError([`serve: '${[...trail, id].join("' → '")}' is a cycle`], config.file);
    const existing = built.get(id);
    if (existing) return existing;
    const spec = servedSpecs.get(id);
    let promise: Promise<LanguageModel>;
    if (spec && !(spec.policy === "single" && spec.members[0] === id)) {
      const builder = policies[spec.policy];
      if (!builder) throw new ConfigError([`serve '${id}': unknown policy '${spec.policy}'${didYouMean(spec.policy, Object.keys(policies))}; known: ${Object.keys(policies).join(", ")}`], config.file);
      promise = Promise.all(spec.members.map((m) => build(m, [...trail, id]))).then((members) => builder(spec, members, config));
    } else {
      promise = openExpert(experts.get(id)!);
    }
    built.set(id, promise);
    return promise;
  };

  const served = new Map<string, LanguageModel>();
  for (const spec of config.served) served.set(spec.id, await build(spec.id, []));
  return { served, all: await Promise.all(built.values()) };
}

/** Resolve a path option of a served model against the config file's folder. */
export function configPath(config: UnifiedConfig, value: unknown, field: string): string {
  if (typeof value !== "string" || value === "") throw new ConfigError([`${field}: must be a file path`], config.file);
  return path.resolve(path.dirname(path.resolve(config.file)), value);
}

/**
 * The config as YAML that `parseUnifiedConfig` reads back to the same config (paths written
 * absolute), so a composition built in code can be stored, published and served by `cogen serve`.
 */
export function formatUnifiedConfig(config: Pick<UnifiedConfig, "experts" | "served">): string {
  const experts = config.experts.map((e) => {
    const entry: Record<string, unknown> = { id: e.id, backend: e.backend };
    if (e.path !== undefined) entry.path = e.path;
    if (e.lora) Object.assign(entry, { lora: e.lora.path, scale: e.lora.scale });
    if (e.url !== undefined) entry.url = e.url;
    if (e.model !== undefined) entry.model = e.model;
    const optional: [string, unknown][] = [
      ["threads", e.threads], ["context_size", e.contextSize], ["api_key_env", e.apiKeyEnv], ["concurrency", e.concurrency],
      ["timeout_ms", e.timeoutMs], ["max_retries", e.maxRetries], ["chat", e.chat],
    ];
    for (const [key, value] of optional) if (value !== undefined) entry[key] = value;
    return { ...entry, domains: e.domains, tags: e.tags };
  });
  const serve = config.served.map((s) => ({ id: s.id, policy: s.policy, members: s.members, ...(Object.keys(s.options).length ? { options: s.options } : {}) }));
  return stringifyYaml({ experts, serve }, { flowCollectionPadding: false, lineWidth: 0 });
}
