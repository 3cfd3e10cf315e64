/**
 * One candidate of `cogen adapt evolve` as a job: its mergekit YAML and the objective items. A
 * job runs anywhere the YAML's model paths exist: the merge engine merges the candidate into a
 * RAM-backed scratch folder (/dev/shm where there is one), llama.cpp scores the items there
 * (src/eval's evaluateItem, as `cogen eval` does), and the scratch folder is removed — no
 * candidate reaches the output or the disk. The id is derived from the content and the run (see
 * `evolveJobId`), so a resumed run's candidate is the same job and another run's never is.
 */
import { createHash } from "node:crypto";
import { existsSync, promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { ExpertSpec } from "../formats/models-file.js";
import type { TaskItem } from "../formats/tasks.js";
import { evaluateItem } from "../eval/evaluate-item.js";
import type { ResultRecord } from "../eval/result.js";
import { runMerge } from "../merge/engine.js";
import { openModel } from "../models/open.js";

export interface EvolveJob {
  id: string;
  /** The candidate's mergekit YAML (absolute model paths), merged as written. */
  yaml: string;
  items: TaskItem[];
  /** Seed of the merge's random methods (dare_*, della*); `cogen merge --seed`. */
  mergeSeed: number;
  /** llama.cpp context size (default: the model's training context, at most 2048). */
  contextSize?: number;
}

export interface CandidateScore {
  /** Lower is better: macro bits per byte, or 1 − macro accuracy (see `objectiveOf`). */
  objective: number;
  metric: "bpb" | "accuracy" | "mixed";
  /** Mean per group (an item's domain): bits per byte, or accuracy. */
  groups: Record<string, number>;
  items: number;
}

/** Where, when and for how long a candidate ran: for utilisation figures, not for the search. */
export interface CandidateRun {
  /** `HOST/PID` of the process that ran it. */
  worker: string;
  /** Epoch milliseconds. */
  startedAt: number;
  seconds: number;
  /** The process's CPU time (all threads, llama.cpp's included) while the job ran; jobs that
   *  overlap in one process (--concurrency > 1) each count the other's too. */
  cpuSeconds: number;
}

/**
 * A candidate's job id: its content (model paths, parameters, items, seeds) and the run it belongs
 * to. Without the run, a later run with the same start would be answered by the queue from an
 * earlier one's completed job, even after the models at those paths have changed.
 */
export function evolveJobId(yaml: string, items: readonly TaskItem[], mergeSeed: number, contextSize?: number, run?: string): string {
  const hash = createHash("sha256").update(JSON.stringify({ yaml, items, mergeSeed, contextSize, run })).digest("hex");
  return `evolve-${hash.slice(0, 40)}`;
}

/** Run a job (by default: merge and score it) and say where and how long it ran. */
export async function runEvolveJob(job: EvolveJob, execute: (job: EvolveJob) => Promise<CandidateScore> = executeEvolveJob): Promise<{ score: CandidateScore; run: CandidateRun }> {
  const startedAt = Date.now();
  const cpu = process.cpuUsage();
  const score = await execute(job);
  const used = process.cpuUsage(cpu);
  return { score, run: { worker: `${os.hostname()}/${process.pid}`, startedAt, seconds: (Date.now() - startedAt) / 1000, cpuSeconds: (used.user + used.system) / 1e6 } };
}

/**
 * The objective of a candidate's results: each item's loss (bits per byte, or 1 − score for
 * multiple choice and exact match) averaged within its domain, then over domains (macro), so a
 * domain with many items does not outweigh one with few.
 */
export function objectiveOf(records: readonly ResultRecord[]): CandidateScore {
  const groups = new Map<string, { loss: number; value: number; n: number }>();
  const metrics = new Set<string>();
  for (const r of records) {
    const bpb = r.metric === "bpb" && r.bpb !== undefined;
    metrics.add(bpb ? "bpb" : "accuracy");
    const g = groups.get(r.domain) ?? { loss: 0, value: 0, n: 0 };
    g.loss += bpb ? r.bpb! : 1 - r.score;
    g.value += bpb ? r.bpb! : r.score;
    g.n++;
    groups.set(r.domain, g);
  }
  const means = [...groups.values()].map((g) => g.loss / g.n);
  return {
    objective: means.reduce((s, v) => s + v, 0) / Math.max(1, means.length),
    metric: metrics.size === 1 ? ([...metrics][0] as "bpb" | "accuracy") : "mixed",
    groups: Object.fromEntries([...groups].map(([name, g]) => [name, g.value / g.n])),
    items: records.length,
  };
}

/** A RAM-backed folder for scratch merges where the system has one. */
export function scratchRoot(): string {
  return existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir();
}

/** Merge the candidate, score it, remove it. Any failure fails the job (the candidate counts as lost). */
export async function executeEvolveJob(job: EvolveJob): Promise<CandidateScore> {
  const scratch = await fs.mkdtemp(path.join(scratchRoot(), "cogen-evolve-"));
  try {
    const outDir = path.join(scratch, "merged");
    await runMerge({ config: job.yaml, configName: job.id, outDir, outFormat: "gguf", seed: job.mergeSeed, scratchDir: scratch });
    const spec: ExpertSpec = { id: job.id, backend: "llamacpp", path: path.join(outDir, "model.gguf"), threads: 1, domains: [], tags: [], ...(job.contextSize ? { contextSize: job.contextSize } : {}) };
    const model = await openModel(spec);
    try {
      const records: ResultRecord[] = [];
      for (const item of job.items) records.push(await evaluateItem(model, item));
      return objectiveOf(records);
    } finally {
      await model.close();
    }
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}
