/**
 * Build a composition from the latest leaderboards. The default policy, "router-top-k", serves
 * one model, `unified`: a kNN router over the top k experts of every domain (flagged experts
 * left out), trained on the hub's suites and evidence, which are written beside the config.
 * INTEGRATION POINT (hub-live): src/hub/policy.ts's policies replace `routerOverTopK` here
 * once merged; they take the same leaderboards and experts and return a UnifiedConfig.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { writeFileAtomic } from "../core/atomic.js";
import { formatTaskLine, type TaskItem } from "../formats/tasks.js";
import { parseUnifiedConfig, type UnifiedConfig } from "../serve/unified-config.js";
import type { CompositionServed, Leaderboard } from "./api-types.js";
import { hubItemId } from "./evidence-key.js";
import { expertSpec, expertYaml } from "./expert-spec.js";
import type { ExpertRecord, HubStore } from "./store/store.js";

export interface CompositionPolicy {
  name: "router-top-k";
  k: number;
  /** Publish every new composition without a maintainer's say. */
  autoPublish: boolean;
}

export const DEFAULT_POLICY: CompositionPolicy = { name: "router-top-k", k: 3, autoPublish: true };
export const SERVED_ID = "unified";

/** The members: the top k (by rank, then rating) of each domain, flagged experts left out. */
export function topKMembers(leaderboards: readonly Leaderboard[], k: number): string[] {
  const members = new Set<string>();
  for (const board of leaderboards) {
    const ranked = board.entries.filter((e) => !e.flagged).sort((a, b) => a.rank - b.rank || b.rating - a.rating);
    for (const entry of ranked.slice(0, k)) members.add(entry.expert);
  }
  return [...members].sort();
}

export interface BuiltComposition {
  experts: string[];
  served: CompositionServed[];
  config: string;
  unified: UnifiedConfig;
  builtFrom: Record<string, number>;
}

/**
 * Write the composition's files into `dir` (config.yaml, tasks.jsonl, results.jsonl) and return
 * it; undefined when no expert qualifies.
 */
export async function buildComposition(store: HubStore, policy: CompositionPolicy, dir: string): Promise<BuiltComposition | undefined> {
  const leaderboards = await store.latestLeaderboards();
  const experts = new Map((await store.allExperts()).map((e) => [e.id, e]));
  const members = topKMembers(leaderboards, policy.k).filter((id) => servable(experts.get(id)));
  if (members.length === 0) return undefined;
  const specs = members.map((id) => expertSpec(experts.get(id)!, (base) => experts.get(base)));
  let served: CompositionServed[];
  await fs.mkdir(dir, { recursive: true });
  if (members.length === 1) {
    served = [{ id: SERVED_ID, policy: "single", members, options: {} }];
  } else {
    const { tasks, results } = await routerEvidence(store, members);
    await writeFileAtomic(path.join(dir, "tasks.jsonl"), tasks.map(formatTaskLine).join("\n") + "\n");
    await writeFileAtomic(path.join(dir, "results.jsonl"), results.map((r) => JSON.stringify(r)).join("\n") + "\n");
    served = [{ id: SERVED_ID, policy: "router", members, options: { tasks: "tasks.jsonl", results: "results.jsonl", k: Math.min(8, tasks.length) } }];
  }
  const config = stringify({ experts: specs.map(expertYaml), serve: served });
  const file = path.join(dir, "config.yaml");
  await writeFileAtomic(file, config);
  return {
    experts: members,
    served,
    config,
    unified: parseUnifiedConfig(config, file),
    builtFrom: Object.fromEntries(leaderboards.map((l) => [l.domain, l.version])),
  };
}

function servable(expert: ExpertRecord | undefined): boolean {
  return expert !== undefined && expert.artefact.kind !== "hf";
}

/** Suite items and the members' hub-run results on them, item ids namespaced by suite. */
async function routerEvidence(store: HubStore, members: readonly string[]): Promise<{ tasks: TaskItem[]; results: unknown[] }> {
  const tasks: TaskItem[] = [];
  const known = new Set<string>();
  for (const suite of await store.listSuites()) {
    for (const item of await store.suiteItems(suite.id)) {
      const task = { ...(item.task as TaskItem), id: hubItemId(suite.id, item.id) };
      tasks.push(task);
      known.add(task.id);
    }
  }
  const results: unknown[] = [];
  for (const id of members) {
    const expert = (await store.getExpert(id))!;
    for (const row of await store.evidenceOf(id, expert.revision)) {
      const item = hubItemId(row.suiteId, row.itemId);
      if (row.source !== "hub-run" || !known.has(item)) continue;
      results.push({ ...(row.record as object), model: id, item, domain: row.domain, score: row.score });
    }
  }
  return { tasks, results };
}
