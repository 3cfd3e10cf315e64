/**
 * `evaluateZoo`: every zoo model × domain, with the real llama.cpp backend through cogen's eval
 * runner (src/eval/runner.ts), on the zoo's held-out items: bits per byte of held-out chunks and
 * multiple-choice accuracy per item kind, each with its standard error. Per-item results go to a
 * results JSONL file (resumable), which `cogen rank` reads too.
 */
import * as path from "node:path";
import { ConfigError } from "../core/errors.js";
import type { Progress } from "../core/progress.js";
import type { ResultRecord } from "./result.js";
import { readResultRecords } from "./results-log.js";
import { runEval, type EvalFailure } from "./runner.js";
import { readModelsFile, type ExpertSpec } from "../formats/models-file.js";
import { readTasksFile, type TaskItem } from "../formats/tasks.js";
import type { ItemKind } from "../zoo/items/generate.js";
import { readZooManifest, type ZooManifest } from "../zoo/build/manifest.js";

export interface ZooEvalOptions {
  /** Item kinds (default: bitsPerByte and continuation). */
  kinds?: ItemKind[];
  /** The results JSONL file (per-item results; kept outside the committed zoo). */
  results: string;
  resume?: boolean;
  /** At most this many items per domain and kind, or per kind (default: all). */
  perDomain?: number | Partial<Record<ItemKind, number>>;
  /** Only these models (ids as in models.yaml). */
  models?: string[];
  progress?: Progress;
}

export interface ZooEvalCell {
  model: string;
  domain: string;
  kind: ItemKind;
  /** "bpb" (lower is better) or "acc". */
  metric: "bpb" | "acc";
  items: number;
  mean: number;
  se: number;
}

export interface ZooEvalReport {
  models: string[];
  domains: string[];
  kinds: ItemKind[];
  cells: ZooEvalCell[];
  /** Per multiple-choice kind: each model's accuracy over all domains, and whether it is > chance + 2 se. */
  chance: { kind: ItemKind; chance: number; models: { model: string; items: number; acc: number; se: number; aboveChance: boolean }[] }[];
  failures: EvalFailure[];
  results: string;
  seconds: number;
}

export const DEFAULT_EVAL_KINDS: ItemKind[] = ["bitsPerByte", "continuation"];

export async function evaluateZoo(zooDir: string, options: ZooEvalOptions): Promise<ZooEvalReport> {
  const manifest = await readZooManifest(zooDir);
  const kinds = options.kinds ?? DEFAULT_EVAL_KINDS;
  const experts = (await readZooExperts(zooDir, manifest)).filter((e) => !options.models || options.models.includes(e.id));
  if (experts.length === 0) throw new ConfigError([`no zoo models match ${JSON.stringify(options.models)}`]);
  const itemsByKind = new Map<ItemKind, TaskItem[]>();
  for (const kind of kinds) {
    const entry = manifest.items[kind];
    if (!entry) throw new ConfigError([`the zoo has no '${kind}' items (it has ${Object.keys(manifest.items).join(", ")})`]);
    const limit = typeof options.perDomain === "number" ? options.perDomain : options.perDomain?.[kind];
    itemsByKind.set(kind, limitPerDomain(await readTasksFile(path.join(zooDir, entry.file)), limit));
  }
  const kindOf = new Map<string, ItemKind>();
  for (const [kind, items] of itemsByKind) for (const item of items) kindOf.set(item.id, kind);
  const items = [...itemsByKind.values()].flat();
  const report = await runEval({ experts, items, out: options.results, resume: options.resume, progress: options.progress, concurrency: 1 });
  const records = await readResultRecords(options.results);
  const wanted = new Set(experts.map((e) => e.id));
  const cells = aggregate(records.filter((r) => wanted.has(r.model) && kindOf.has(r.item)), kindOf);
  const domains = manifest.data.domains.map((d) => d.name);
  return {
    models: experts.map((e) => e.id), domains, kinds, cells,
    chance: kinds.filter((k) => k !== "bitsPerByte").map((kind) => chanceReport(records.filter((r) => wanted.has(r.model) && kindOf.get(r.item) === kind), kind, itemsByKind.get(kind)!)),
    failures: report.failures, results: options.results, seconds: report.seconds,
  };
}

/** Every zoo model as a llama.cpp expert: the zoo's own models file, read as any models file is. */
export async function readZooExperts(zooDir: string, manifest?: ZooManifest): Promise<ExpertSpec[]> {
  const { modelsFile } = manifest ?? (await readZooManifest(zooDir));
  return readModelsFile(path.join(zooDir, modelsFile));
}

function limitPerDomain(items: TaskItem[], perDomain: number | undefined): TaskItem[] {
  if (perDomain === undefined) return items;
  const seen = new Map<string, number>();
  return items.filter((item) => {
    const n = seen.get(item.domain) ?? 0;
    seen.set(item.domain, n + 1);
    return n < perDomain;
  });
}

function meanSe(xs: readonly number[]): { mean: number; se: number } {
  const n = xs.length;
  const mean = xs.reduce((s, x) => s + x, 0) / Math.max(n, 1);
  const variance = n > 1 ? xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, se: Math.sqrt(variance / Math.max(n, 1)) };
}

function aggregate(records: readonly ResultRecord[], kindOf: Map<string, ItemKind>): ZooEvalCell[] {
  const groups = new Map<string, { model: string; domain: string; kind: ItemKind; values: number[] }>();
  for (const r of records) {
    const kind = kindOf.get(r.item)!;
    const key = JSON.stringify([r.model, r.domain, kind]);
    const g = groups.get(key) ?? { model: r.model, domain: r.domain, kind, values: [] };
    g.values.push(r.metric === "bpb" ? r.bpb! : r.score);
    groups.set(key, g);
  }
  return [...groups.values()].map((g) => ({
    model: g.model, domain: g.domain, kind: g.kind, metric: g.kind === "bitsPerByte" ? "bpb" : "acc", items: g.values.length, ...meanSe(g.values),
  }));
}

function chanceReport(records: readonly ResultRecord[], kind: ItemKind, items: readonly TaskItem[]): ZooEvalReport["chance"][number] {
  const choices = items.map((i) => (i.kind === "multiple_choice" ? i.choices.length : 1));
  const chance = choices.reduce((s, c) => s + 1 / c, 0) / Math.max(choices.length, 1);
  const byModel = new Map<string, number[]>();
  for (const r of records) byModel.set(r.model, [...(byModel.get(r.model) ?? []), r.score]);
  return {
    kind, chance,
    models: [...byModel].map(([model, scores]) => {
      const { mean, se } = meanSe(scores);
      return { model, items: scores.length, acc: mean, se, aboveChance: mean - 2 * se > chance };
    }),
  };
}
