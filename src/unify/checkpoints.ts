import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { Progress } from "../core/progress.js";
import type { ExpertSpec } from "../formats/models-file.js";
import type { TaskItem } from "../formats/tasks.js";
import type { Ranking } from "../rank/ranking.js";
import { buildFingerprint, stampState, writeStamp } from "./build-stamp.js";
import { buildDistilled, type DistillSettings } from "./distill.js";
import type { SkippedPolicy, UnifyPolicy } from "./policies.js";
import { buildMerge, buildMoeModel } from "./weight-space.js";

/**
 * The unified models that are checkpoints of their own — the merge, the mixture, the distilled
 * pivot — each built into its folder of OUT_DIR, or skipped with its reason. A rerun reuses a
 * checkpoint built from the same inputs (build-stamp.ts); a merge or mixture that stopped part way
 * is built again from an empty folder, a pivot continues its targets and training.
 */
export const CHECKPOINT_IDS = { merge: "unified-ties-merge", moe: "unified-moe", distill: "unified-distilled" } as const;

export interface CheckpointsInput {
  requested: readonly UnifyPolicy[];
  experts: readonly ExpertSpec[];
  dev: readonly TaskItem[];
  ranking: Ranking;
  outDir: string;
  distill?: DistillSettings;
  progress?: Progress;
  log: (line: string) => void;
}

export interface Checkpoints {
  built: { policy: UnifyPolicy; id: string; from: { base: string; experts: string[] } }[];
  skipped: SkippedPolicy[];
  notes: string[];
  /** The built checkpoints as experts (GGUF files). */
  specs: ExpertSpec[];
}

const FOLDERS = { merge: "merged-ties", moe: "moe", distill: "distill" } as const;

export async function buildCheckpoints(input: CheckpointsInput): Promise<Checkpoints> {
  const result: Checkpoints = { built: [], skipped: [], notes: [], specs: [] };
  // The domain where the ranking puts an expert highest (a mixture's gate prompts come from it).
  const bestDomain = (expert: string) => {
    const entry = input.ranking.models.find((m) => m.model === expert);
    return entry ? Object.entries(entry.domains).sort((a, b) => b[1].ability - a[1].ability)[0]?.[0] : undefined;
  };
  for (const policy of ["merge", "moe", "distill"] as const) {
    if (!input.requested.includes(policy)) continue;
    const dir = path.join(input.outDir, FOLDERS[policy]);
    const id = CHECKPOINT_IDS[policy];
    const fingerprint = await buildFingerprint(input.experts, {
      policy, id, dev: input.dev,
      ...(policy === "moe" ? { gateDomains: input.experts.map((e) => e.domains[0] ?? bestDomain(e.id)) } : {}),
      ...(policy === "distill" ? { settings: input.distill ?? {} } : {}),
    });
    const prior = await stampState(dir, fingerprint);
    if (prior.state === "reusable") {
      input.log(`${policy}: reusing ${dir} (built by an earlier run from the same experts and dev items)`);
      result.built.push({ policy, id, from: prior.built.from });
      result.notes.push(...prior.built.notes.map((n) => `${policy}: ${n}`));
      result.specs.push(prior.built.spec);
      continue;
    }
    if (prior.state === "stale" || policy !== "distill") await fs.rm(dir, { recursive: true, force: true });
    await writeStamp(dir, fingerprint);
    const outcome = policy === "merge" ? await buildMerge(input.experts, dir, id, input.progress)
      : policy === "moe" ? await buildMoeModel(input.experts, input.dev, bestDomain, dir, id, input.progress)
      : await buildDistilled(input.experts, input.dev, dir, id, input.distill, input.progress);
    if ("skipped" in outcome) {
      result.skipped.push(outcome.skipped);
      input.log(`${policy}: skipped: ${outcome.skipped.reason}`);
      continue;
    }
    await writeStamp(dir, fingerprint, outcome.built);
    result.built.push({ policy, id, from: outcome.built.from });
    result.notes.push(...outcome.built.notes.map((n) => `${policy}: ${n}`));
    result.specs.push(outcome.built.spec);
  }
  return result;
}
