import { ConfigError } from "../core/errors.js";
import { unknownKeys } from "../core/suggest.js";
import { readTasksFile } from "../formats/tasks.js";
import { readResultsFile } from "../formats/results.js";
import { createEnsembleModel } from "../fuse/ensemble/ensemble.js";
import { domainExample, labelledItems } from "../fuse/router/evidence.js";
import { itemWeightsFromRanking, Router } from "../fuse/router/router.js";
import { createRouterModel } from "../fuse/router/router-model.js";
import { readRanking } from "../rank/ranking-file.js";
import type { Ranking } from "../rank/ranking.js";
import { configPath, type PolicyBuilder, type ServedSpec, type UnifiedConfig } from "./unified-config.js";

/**
 * The policies a served model can use:
 * - `single`: one member as it is (a merged checkpoint is served this way: it is one GGUF);
 * - `router`: options `tasks` (items JSONL) and `results` (per-item results of the members),
 *   optional `ranking` (cogen rank --json-out FILE), `domain_items` (items JSONL, unscored: examples of
 *   each domain's text), `k`, `prior_weight`, `fallbacks`;
 * - `ensemble`: options `ranking` (per-domain abilities), optional `tasks` + `results` (+
 *   `domain_items`) to recognise a request's domain, `gate`, `top_k`, `max_ability_gap`,
 *   `weight_temperature`.
 * An option a policy does not know is an error (with the closest known name), never ignored.
 */
export const POLICY_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  single: [],
  router: ["tasks", "results", "ranking", "domain_items", "k", "prior_weight", "fallbacks"],
  ensemble: ["ranking", "tasks", "results", "domain_items", "gate", "top_k", "max_ability_gap", "weight_temperature"],
};

export const POLICIES: Record<string, PolicyBuilder> = {
  single: async (spec, members, config) => {
    checkOptions(spec, config);
    if (members.length !== 1) throw new ConfigError([`serve '${spec.id}': policy 'single' takes exactly one member`]);
    return members[0];
  },

  router: async (spec, members, config) => {
    checkOptions(spec, config);
    const router = await buildRouter(spec, config, members.map((m) => m.id));
    return createRouterModel(router, new Map(members.map((m) => [m.id, m])), {
      id: spec.id,
      fallbacks: optionalNumber(spec, "fallbacks"),
    });
  },

  ensemble: async (spec, members, config) => {
    checkOptions(spec, config);
    const ranking = await readRanking(configPath(config, spec.options.ranking, `serve '${spec.id}' options.ranking`));
    const router = spec.options.tasks !== undefined ? await buildRouter(spec, config, members.map((m) => m.id), ranking) : undefined;
    return createEnsembleModel({
      id: spec.id,
      members: members.map((model) => ({ model, abilities: abilitiesOf(ranking, model.id) })),
      domainOf: router ? (text) => router.route(text).domain : undefined,
      gate: optionalNumber(spec, "gate"),
      topK: optionalNumber(spec, "top_k"),
      maxAbilityGap: optionalNumber(spec, "max_ability_gap"),
      weightTemperature: optionalNumber(spec, "weight_temperature"),
    });
  },
};

async function buildRouter(spec: ServedSpec, config: UnifiedConfig, experts: string[], ranking?: Ranking): Promise<Router> {
  const tasks = await readTasksFile(configPath(config, spec.options.tasks, `serve '${spec.id}' options.tasks`));
  const results = await readResultsFile(configPath(config, spec.options.results, `serve '${spec.id}' options.results`));
  const rankingFile = spec.options.ranking;
  const rank = ranking ?? (rankingFile !== undefined ? await readRanking(configPath(config, rankingFile, `serve '${spec.id}' options.ranking`)) : undefined);
  const domainItemsFile = spec.options.domain_items;
  const domainItems = domainItemsFile === undefined ? undefined
    : (await readTasksFile(configPath(config, domainItemsFile, `serve '${spec.id}' options.domain_items`))).map(domainExample);
  return new Router(labelledItems(tasks, results), {
    experts,
    ...(domainItems ? { domainItems } : {}),
    k: optionalNumber(spec, "k"),
    priorWeight: optionalNumber(spec, "prior_weight"),
    ranking: rank,
    itemWeight: rank ? itemWeightsFromRanking(rank) : undefined,
  });
}

/** A member's per-domain abilities, with its overall rating under "default". */
export function abilitiesOf(ranking: Ranking, model: string): Record<string, number> {
  const entry = ranking.models.find((m) => m.model === model);
  if (!entry) throw new ConfigError([`the ranking has no model '${model}' (it ranks ${ranking.models.map((m) => m.model).join(", ")})`]);
  return { default: entry.rating, ...Object.fromEntries(Object.entries(entry.domains).map(([d, a]) => [d, a.ability])) };
}

/** Every option the spec's policy does not know, reported at once. */
function checkOptions(spec: ServedSpec, config: UnifiedConfig): void {
  const problems = unknownKeys(spec.options, POLICY_OPTIONS[spec.policy], "option", (key) => `serve '${spec.id}' (policy ${spec.policy}) options.${key}`);
  if (problems.length) throw new ConfigError(problems, config.file);
}

function optionalNumber(spec: ServedSpec, key: string): number | undefined {
  const value = spec.options[key];
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) throw new ConfigError([`serve '${spec.id}' options.${key}: must be a number`]);
  return value;
}
