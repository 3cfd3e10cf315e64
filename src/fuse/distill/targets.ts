/**
 * `distillTargets`: for every corpus text and source, the source's whole-sequence top-K in its own
 * tokenisation and the text's cross-entropy, as sharded files (src/formats/topk-shard.ts) plus a
 * manifest. Work is one job per (source, shard); a shard is written atomically when its job
 * completes, so a killed run leaves only whole shards, and a rerun skips every shard whose identity
 * (source, model hashes, K, texts) it already holds and writes the rest — the same bytes an
 * uninterrupted run writes, since each text is scored from an empty cache.
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../../core/atomic.js";
import { ConfigError, CogenError, InputFileError } from "../../core/errors.js";
import { exists, isFileMissing } from "../../core/files.js";
import { silentProgress, type Progress } from "../../core/progress.js";
import type { ExpertSpec } from "../../formats/models-file.js";
import { decodeTopKShard, encodeTopKShard, type SkipReason, type TopKShard } from "../../formats/topk-shard.js";
import { ModelPool } from "../../models/pool.js";
import type { DistillCorpus } from "./corpus.js";
import { describeSource, MANIFEST_FILE, readTargetsManifest, TARGETS_FORMAT, TARGETS_VERSION, type ShardEntry, type TargetSource, type TargetsManifest } from "./manifest.js";
import { executeTargetJob, requireSequenceTopK, shardIdentity, targetJobId, type TargetJob } from "./target-job.js";

export const DEFAULT_TOP_K = 8;
export const DEFAULT_TEXTS_PER_SHARD = 256;

/** Where target jobs run; the in-process default runs them here, one after the other. */
export interface TargetQueue {
  /** Run every job; report each outcome (the shard, or an error message) as it arrives. */
  run(jobs: readonly TargetJob[], onOutcome: (job: TargetJob, outcome: { shard?: TopKShard; error?: string }) => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

export interface DistillTargetsOptions {
  sources: ExpertSpec[];
  corpus: DistillCorpus;
  out: string;
  k?: number;
  textsPerShard?: number;
  queue?: TargetQueue;
  /** Models for the in-process queue (default: a pool without a memory budget). */
  pool?: ModelPool;
  progress?: Progress;
}

export interface DistillTargetsReport {
  out: string;
  /** Shards computed in this run. */
  written: number;
  /** Shards already there (resume). */
  reused: number;
  failures: { source: string; error: string; shards: number }[];
  /** Present when every shard exists. */
  manifest?: TargetsManifest;
  seconds: number;
}

export function shardFileName(source: string, index: number): string {
  return path.join(source.replace(/[^A-Za-z0-9._-]/g, "_"), `shard-${String(index).padStart(5, "0")}.cgtk`);
}

/** Sources run one after the other; after a job of a source fails, its remaining jobs are not attempted. */
export function inProcessTargetQueue(pool: ModelPool, onText?: () => void): TargetQueue {
  return {
    async run(jobs, onOutcome) {
      const failed = new Set<string>();
      for (const [i, job] of jobs.entries()) {
        if (failed.has(job.expert.id)) {
          await onOutcome(job, { error: `not attempted: an earlier job of '${job.expert.id}' failed` });
          continue;
        }
        let shard: TopKShard;
        try {
          shard = await executeTargetJob(job, pool, onText);
        } catch (error) {
          if (!CogenError.isInstance(error)) throw error;
          failed.add(job.expert.id);
          await onOutcome(job, { error: error.message });
          continue;
        }
        await onOutcome(job, { shard });
        // An expert's model is closed after its last job, so sources do not pile up in memory.
        if (jobs[i + 1]?.expert.id !== job.expert.id) await pool.evict(job.expert);
      }
    },
    async close() {},
  };
}

async function existingShard(file: string, identity: string): Promise<{ bytes: Uint8Array; shard: TopKShard } | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    if (isFileMissing(error)) return undefined;
    throw error;
  }
  try {
    const shard = decodeTopKShard(bytes, file);
    return shard.identity === identity ? { bytes, shard } : undefined;
  } catch (error) {
    // A shard torn by an interrupted run is computed again; any other failure is real.
    if (InputFileError.isInstance(error)) return undefined;
    throw error;
  }
}

export async function distillTargets(options: DistillTargetsOptions): Promise<DistillTargetsReport> {
  const started = Date.now();
  const k = options.k ?? DEFAULT_TOP_K;
  const perShard = options.textsPerShard ?? DEFAULT_TEXTS_PER_SHARD;
  const problems: string[] = [];
  if (!Number.isInteger(k) || k < 1) problems.push(`top-k must be a positive integer, got ${k}`);
  if (!Number.isInteger(perShard) || perShard < 1) problems.push(`texts per shard must be a positive integer, got ${perShard}`);
  if (options.sources.length === 0) problems.push("no sources");
  const ids = options.sources.map((s) => s.id);
  for (const id of new Set(ids.filter((id, i) => ids.indexOf(id) !== i))) problems.push(`source '${id}' appears twice`);
  if (problems.length > 0) throw new ConfigError(problems, "distill targets");

  const sources: TargetSource[] = [];
  for (const spec of options.sources) sources.push(await describeSource(spec));
  await checkEarlierRun(options.out, options.corpus.hash, k, perShard, sources);

  const { texts } = options.corpus;
  const jobs: TargetJob[] = [];
  for (const [s, spec] of options.sources.entries()) {
    for (let first = 0, index = 0; first < texts.length; first += perShard, index++) {
      const slice = texts.slice(first, first + perShard);
      const base = { expert: spec, sourceHash: sources[s].hash, k, first, texts: slice };
      jobs.push({ ...base, id: targetJobId(base), file: shardFileName(spec.id, index) });
    }
  }
  const entries = new Map<string, ShardEntry>();
  const shardTexts = new Map<string, TopKShard["texts"]>();
  const record = (job: TargetJob, bytes: Uint8Array, shard: TopKShard) => {
    entries.set(job.file, {
      source: job.expert.id, file: job.file, first: job.first, texts: job.texts.length,
      positions: shard.end.length, bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex"),
    });
    shardTexts.set(job.file, shard.texts);
  };
  const pending: TargetJob[] = [];
  for (const job of jobs) {
    const found = await existingShard(path.join(options.out, job.file), shardIdentity(job));
    if (found) record(job, found.bytes, found.shard);
    else pending.push(job);
  }
  const reused = jobs.length - pending.length;

  const progress = options.progress ?? silentProgress;
  const ownPool = options.queue || options.pool ? undefined : new ModelPool();
  const pool = options.pool ?? ownPool;
  try {
    if (pool && !options.queue) await probeSources(pool, [...new Map(pending.map((j) => [j.expert.id, j.expert])).values()], texts, k);
  } catch (error) {
    await ownPool?.close();
    throw error;
  }
  const queue = options.queue ?? inProcessTargetQueue(pool!, () => progress.tick(1));
  const failures = new Map<string, { source: string; error: string; shards: number }>();
  let written = 0;
  progress.start("targets", pending.reduce((s, j) => s + j.texts.length, 0), "texts");
  try {
    await queue.run(pending, async (job, outcome) => {
      if (outcome.shard) {
        const bytes = encodeTopKShard(outcome.shard);
        const file = path.join(options.out, job.file);
        await fs.mkdir(path.dirname(file), { recursive: true });
        await writeFileAtomic(file, bytes);
        record(job, bytes, outcome.shard);
        written++;
        if (options.queue) progress.tick(job.texts.length);
        return;
      }
      const failure = failures.get(job.expert.id) ?? { source: job.expert.id, error: outcome.error ?? "failed", shards: 0 };
      failure.shards++;
      failures.set(job.expert.id, failure);
      progress.tick(job.texts.length);
    });
  } finally {
    await ownPool?.close();
    if (!options.queue) await queue.close();
  }
  let manifest: TargetsManifest | undefined;
  if (failures.size === 0) {
    const skips: TargetsManifest["skips"] = {};
    for (const job of jobs) {
      const counts = (skips[job.expert.id] ??= {});
      for (const t of shardTexts.get(job.file)!) if (t.skip) counts[t.skip as SkipReason] = (counts[t.skip as SkipReason] ?? 0) + 1;
    }
    manifest = {
      format: TARGETS_FORMAT, version: TARGETS_VERSION,
      corpus: { file: path.basename(options.corpus.file), hash: options.corpus.hash, texts: texts.length },
      k, textsPerShard: perShard, sources, shards: jobs.map((j) => entries.get(j.file)!), skips,
    };
    await writeFileAtomic(path.join(options.out, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + "\n");
  }
  progress.done(`${written} shards written, ${reused} already there${failures.size > 0 ? `, ${failures.size} source(s) failed` : ""}`);
  return { out: options.out, written, reused, failures: [...failures.values()], manifest, seconds: (Date.now() - started) / 1000 };
}

/**
 * Every source scores a few words before the run starts, so one that cannot give a
 * whole-sequence top-K (a composite, a server without prompt log-probabilities) is an error now,
 * not after hours of the other sources' work. Sources after the first are closed again.
 */
async function probeSources(pool: ModelPool, specs: readonly ExpertSpec[], texts: DistillCorpus["texts"], k: number): Promise<void> {
  const sample = texts.find((t) => !t.skip);
  if (!sample) return;
  const probe = [...sample.text].slice(0, 16).join("");
  const problems: string[] = [];
  for (const [i, spec] of specs.entries()) {
    try {
      await pool.use(spec, async (model) => {
        requireSequenceTopK(model);
        await model.sequenceTopK(probe, k);
      });
    } catch (error) {
      if (!CogenError.isInstance(error)) throw error;
      problems.push(`source '${spec.id}' cannot give targets: ${error.message}`);
    }
    if (i > 0) await pool.evict(spec);
  }
  if (problems.length > 0) throw new ConfigError(problems, "distill targets");
}

/** A folder holding a finished run of other work is refused rather than silently mixed. */
async function checkEarlierRun(out: string, corpusHash: string, k: number, perShard: number, sources: TargetSource[]): Promise<void> {
  let earlier: TargetsManifest;
  if (!(await exists(path.join(out, MANIFEST_FILE)))) return;
  try {
    earlier = await readTargetsManifest(out);
  } catch (error) {
    throw new ConfigError([`${out} holds an unreadable manifest (${(error as Error).message}); choose another --out`]);
  }
  const problems: string[] = [];
  if (earlier.corpus.hash !== corpusHash) problems.push("another corpus");
  if (earlier.k !== k) problems.push(`top-${earlier.k}`);
  if (earlier.textsPerShard !== perShard) problems.push(`${earlier.textsPerShard} texts per shard`);
  const same = earlier.sources.length === sources.length && earlier.sources.every((s, i) => s.id === sources[i].id && s.hash === sources[i].hash);
  if (!same) problems.push("another source set");
  if (problems.length > 0) throw new ConfigError([`${out} already holds targets of ${problems.join(", ")}; choose another --out or remove it`]);
}
