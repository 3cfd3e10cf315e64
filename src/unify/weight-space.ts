import { promises as fs } from "node:fs";
import * as path from "node:path";
import { CogenError, ConfigError } from "../core/errors.js";
import type { Progress } from "../core/progress.js";
import type { ExpertSpec } from "../formats/models-file.js";
import type { TaskItem } from "../formats/tasks.js";
import { buildMoe } from "../fuse/moe/build.js";
import { runMerge } from "../merge/engine.js";
import type { SkippedPolicy } from "./policies.js";
import { sameBaseGroup, weightsOf, type SameBaseGroup } from "./same-base.js";
import { itemText as textOf } from "../fuse/router/evidence.js";
import { cutAtWord } from "./items.js";

/**
 * The weight-space unified models: a TIES merge, or a Mixtral-style mixture of experts, of the
 * experts that share a base (same-base.ts), each written as one GGUF that llama.cpp runs and
 * `cogen serve` serves as a single model. Whatever the engines refuse (different shapes, an
 * architecture a mixture cannot hold) becomes a skipped policy carrying the engine's message.
 */
export interface BuiltCheckpoint {
  spec: ExpertSpec;
  /** What it was built from, for the summary. */
  from: { base: string; experts: string[] };
  /** Same-base groups left out (one weight-space model per policy). */
  notes: string[];
}

type Outcome = { built: BuiltCheckpoint } | { skipped: SkippedPolicy };

/** Where a built checkpoint's GGUF lies in its output folder. */
async function ggufIn(dir: string): Promise<string> {
  const gguf = (await fs.readdir(dir)).find((f) => f.endsWith(".gguf"));
  if (!gguf) throw new CogenError(`${dir}: the build wrote no GGUF`);
  return path.join(dir, gguf);
}

/** An engine's refusal in one line: its first problem, and how many more there were. */
function briefly(error: CogenError): string {
  if (!ConfigError.isInstance(error) || error.problems.length === 0) return error.message;
  const more = error.problems.length - 1;
  return error.problems[0] + (more ? ` (and ${more} more problem${more > 1 ? "s" : ""} of the same kind)` : "");
}

function notesOf(group: SameBaseGroup): string[] {
  return [
    ...group.others.map((o) => `${o.experts.length} experts on ${o.base} (${o.experts.join(", ")}) not combined: one weight-space model per policy, from the largest same-base group`),
    ...(group.adapters.length ? [`${group.adapters.join(", ")} left out: a runtime LoRA adapter is merged only from its \`weights:\` folder (the GGUF alone is its base)`] : []),
  ];
}

/** TIES (density 0.5, normalised) of the largest same-base group, as mergekit would with the same YAML. */
export async function buildMerge(experts: readonly ExpertSpec[], outDir: string, id: string, progress?: Progress): Promise<Outcome> {
  const { group, reason } = sameBaseGroup(experts);
  if (!group) return { skipped: { policy: "merge", reason: reason! } };
  const config = [
    "merge_method: ties",
    `base_model: ${JSON.stringify(weightsOf(group.base))}`,
    "models:",
    ...group.experts.map((m) => `  - model: ${JSON.stringify(weightsOf(m))}\n    parameters: { weight: 1.0, density: 0.5 }`),
    "parameters: { normalize: true }",
    "dtype: float32",
  ].join("\n");
  try {
    await runMerge({ config, configName: "unify-ties.yml", outDir, outFormat: "gguf", seed: 0, progress });
  } catch (error) {
    if (!CogenError.isInstance(error)) throw error;
    return { skipped: { policy: "merge", reason: `the merge engine refused the experts on ${group.base.id}: ${briefly(error)}` } };
  }
  return { built: { spec: singleSpec(id, await ggufIn(outDir), group.base), from: { base: group.base.id, experts: group.experts.map((e) => e.id) }, notes: notesOf(group) } };
}

/**
 * A top-2 mixture of the largest same-base group, routers initialised from hidden states of
 * prompts (mergekit-moe's "hidden" mode): each expert's prompts are dev texts of its domain (its
 * `domains` in the models file, else the domain where the ranking puts it highest).
 */
export async function buildMoeModel(
  experts: readonly ExpertSpec[], dev: readonly TaskItem[], domainOf: (expert: string) => string | undefined,
  outDir: string, id: string, progress?: Progress,
): Promise<Outcome> {
  const { group, reason } = sameBaseGroup(experts);
  if (!group) return { skipped: { policy: "moe", reason: reason! } };
  const prompts = (expert: ExpertSpec) => {
    const domain = expert.domains[0] ?? domainOf(expert.id);
    // Short prompts: small models have short contexts, and a domain shows in its first words.
    return dev.filter((i) => i.domain === domain).slice(0, 8).map((i) => cutAtWord(textOf(i), 100));
  };
  const missing = group.experts.filter((e) => prompts(e).length === 0).map((e) => e.id);
  if (missing.length) return { skipped: { policy: "moe", reason: `no dev items of the domain of ${missing.join(", ")} to initialise its gate from` } };
  const config = [
    `base_model: ${JSON.stringify(weightsOf(group.base))}`,
    "gate_mode: hidden",
    "dtype: float32",
    "experts_per_token: 2",
    "experts:",
    ...group.experts.map((e) => `  - source_model: ${JSON.stringify(weightsOf(e))}\n    positive_prompts: ${JSON.stringify(prompts(e))}`),
  ].join("\n");
  try {
    await buildMoe({ config, configName: "unify-moe.yml", outDir, outFormat: "gguf", seed: 0, progress });
  } catch (error) {
    if (!CogenError.isInstance(error)) throw error;
    return { skipped: { policy: "moe", reason: `a mixture of the experts on ${group.base.id} cannot be built: ${briefly(error)}` } };
  }
  return { built: { spec: singleSpec(id, await ggufIn(outDir), group.base), from: { base: group.base.id, experts: group.experts.map((e) => e.id) }, notes: notesOf(group) } };
}

/** A built GGUF as an expert entry, run like its base (threads, context). */
function singleSpec(id: string, gguf: string, base: ExpertSpec): ExpertSpec {
  return {
    id, backend: "llamacpp", path: gguf, domains: [], tags: ["unified"],
    ...(base.threads !== undefined ? { threads: base.threads } : {}),
    ...(base.contextSize !== undefined ? { contextSize: base.contextSize } : {}),
  };
}
