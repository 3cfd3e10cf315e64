/**
 * Build a composition from the registry by the maintainer's policy (src/hub/policy.ts: a router
 * over the top k of each domain, an ensemble of the top n, or a MoE/distilled model when one
 * qualifies). The policy reads one joint fit over the evidence the leaderboards rest on (hub-run
 * first, a flagged expert's submitted results left out); flagged experts and HF folders are not
 * candidates. The served composites' evidence is written beside the config, by relative paths:
 * tasks.jsonl (the suites' items), results.jsonl (hub-run results) and ranking.json.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../core/atomic.js";
import type { ItemResult } from "../core/evidence.js";
import { formatTaskLine, type TaskItem } from "../formats/tasks.js";
import { rankResults } from "../rank/per-item.js";
import { Z95, type Ranking } from "../rank/ranking.js";
import { formatUnifiedConfig, parseUnifiedConfig, type UnifiedConfig } from "../serve/unified-config.js";
import type { CompositionServed } from "./api-types.js";
import { hubItemId } from "./evidence-key.js";
import { expertSpec } from "./expert-spec.js";
import { chosenEvidence } from "./fit.js";
import { composeByPolicy, parseCompositionPolicy, type CompositionPolicy } from "./policy.js";
import type { ExpertRecord, HubStore } from "./store/store.js";

/** The maintainer's setting: a policy in its YAML/JSON form (snake_case) and whether to publish at once. */
export interface HubPolicy {
  policy: Record<string, unknown>;
  /** Publish every new composition without a maintainer's say. */
  autoPublish: boolean;
}

export const DEFAULT_POLICY: HubPolicy = { policy: { kind: "router", top_k: 3 }, autoPublish: true };
export const SERVED_ID = "unified";

export interface BuiltComposition {
  policy: { name: string; params: Record<string, unknown> };
  experts: string[];
  served: CompositionServed[];
  config: string;
  unified: UnifiedConfig;
  builtFrom: Record<string, number>;
  /** One line per decision the policy took. */
  reasons: string[];
  /** Domain → the experts serving it. */
  routing: Record<string, string[]>;
}

/**
 * Write the composition's files into `dir` (config.yaml and its evidence) and return it;
 * undefined when no expert qualifies.
 */
export async function buildComposition(store: HubStore, setting: HubPolicy, dir: string): Promise<BuiltComposition | undefined> {
  const policy: CompositionPolicy = parseCompositionPolicy(setting.policy);
  const leaderboards = await store.latestLeaderboards();
  const all = await store.allExperts();
  const byId = new Map(all.map((e) => [e.id, e]));
  const candidates = all.filter(servable);
  const results: ItemResult[] = [];
  for (const board of leaderboards) {
    for (const [expert, items] of await chosenEvidence(store, board.domain)) {
      for (const [item, r] of items) results.push({ model: expert, item, score: r.score, domain: board.domain });
    }
  }
  const ranked = new Set(results.map((r) => r.model));
  const specs = candidates.filter((e) => ranked.has(e.id)).map((e) => expertSpec(e, (id) => byId.get(id)));
  if (specs.length === 0) return undefined;
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, "config.yaml");
  let yaml: string;
  let unified: UnifiedConfig;
  let reasons: string[];
  let routing: Record<string, string[]>;
  if (ranked.size < 2) {
    // One expert has nothing to be ranked against: it is served as it is.
    yaml = formatUnifiedConfig({ experts: specs, served: [{ id: SERVED_ID, policy: "single", members: [specs[0].id], options: {} }] });
    unified = parseUnifiedConfig(yaml, file);
    reasons = [`${specs[0].id}: the only expert with evidence, served as it is`];
    routing = Object.fromEntries(leaderboards.map((l) => [l.domain, [specs[0].id]]));
  } else {
    const fit = rankResults(results, { seed: 1 });
    addUnfitted(fit.ranking, results);
    const { tasks, hubRun } = await routerEvidence(store, specs.map((s) => s.id));
    await writeFileAtomic(path.join(dir, "tasks.jsonl"), tasks.map(formatTaskLine).join("\n") + "\n");
    await writeFileAtomic(path.join(dir, "results.jsonl"), hubRun.map((r) => JSON.stringify(r)).join("\n") + "\n");
    await writeFileAtomic(path.join(dir, "ranking.json"), JSON.stringify(fit.ranking) + "\n");
    const composed = composeByPolicy(policy, {
      ranking: fit.ranking, experts: specs, file, servedId: SERVED_ID,
      evidence: { tasks: "tasks.jsonl", results: "results.jsonl", ranking: "ranking.json" },
    });
    ({ yaml, config: unified, reasons, routing } = composed);
  }
  await writeFileAtomic(file, yaml);
  const served = unified.served.map((s): CompositionServed => ({ id: s.id, policy: s.policy, members: s.members, options: s.options }));
  const { kind, ...params } = setting.policy;
  return {
    policy: { name: String(kind), params },
    experts: served.find((s) => s.id === SERVED_ID)!.members,
    served,
    config: yaml,
    unified,
    builtFrom: Object.fromEntries(leaderboards.map((l) => [l.domain, l.version])),
    reasons,
    routing,
  };
}

/**
 * Experts the fit left out (nothing they answered tells them apart from the others) are tied at
 * the middle of the scale with the widest interval, as on the leaderboards: known to be there,
 * not known to be better or worse.
 */
function addUnfitted(ranking: Ranking, results: readonly ItemResult[]): void {
  const fitted = new Set(ranking.models.map((m) => m.model));
  const domains = new Map<string, Set<string>>();
  for (const r of results) if (!fitted.has(r.model)) domains.set(r.model, (domains.get(r.model) ?? new Set()).add(r.domain ?? ""));
  const wide: [number, number] = [-Z95, Z95];
  for (const [model, ds] of [...domains].sort(([a], [b]) => a.localeCompare(b))) {
    ranking.models.push({ model, rating: 0, ci: wide, rank: 1, rankRange: [1, fitted.size + domains.size], domains: Object.fromEntries([...ds].map((d) => [d, { ability: 0, ci: wide }])) });
  }
  for (const d of new Set([...domains.values()].flatMap((ds) => [...ds]))) if (!ranking.domains.includes(d)) ranking.domains.push(d);
  ranking.domains.sort();
}

function servable(expert: ExpertRecord): boolean {
  return expert.artefact.kind !== "hf" && !expert.flagged;
}

/** Suite items and the candidates' hub-run results on them, item ids namespaced by suite. */
async function routerEvidence(store: HubStore, experts: readonly string[]): Promise<{ tasks: TaskItem[]; hubRun: unknown[] }> {
  const tasks: TaskItem[] = [];
  const known = new Set<string>();
  for (const suite of await store.listSuites()) {
    for (const item of await store.suiteItems(suite.id)) {
      const task = { ...(item.task as TaskItem), id: hubItemId(suite.id, item.id) };
      tasks.push(task);
      known.add(task.id);
    }
  }
  const hubRun: unknown[] = [];
  for (const id of experts) {
    const expert = (await store.getExpert(id))!;
    for (const row of await store.evidenceOf(id, expert.revision)) {
      const item = hubItemId(row.suiteId, row.itemId);
      if (row.source !== "hub-run" || !known.has(item)) continue;
      hubRun.push({ ...(row.record as object), model: id, item, domain: row.domain, score: row.score });
    }
  }
  return { tasks, hubRun };
}
