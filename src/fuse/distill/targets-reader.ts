/**
 * Reading a finished targets folder: the manifest (checked against the corpus and sources a
 * training run names) and each text's per-source top-K views, shard by shard.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { InputFileError } from "../../core/errors.js";
import { decodeTopKShard, shardOffsets, type TopKShard } from "../../formats/topk-shard.js";
import type { BuildPivotTargetsOptions } from "./build-pivot-targets.js";
import { buildPivotTargets } from "./build-pivot-targets.js";
import type { DistillCorpus } from "./corpus.js";
import type { SourceTopK } from "./fusion.js";
import { checkTargetsMatch, readTargetsManifest, type TargetSource, type TargetsManifest } from "./manifest.js";
import type { Pivot } from "./pivot.js";
import type { PivotTargets } from "./pivot-targets.js";

export interface DistillTargetsReader {
  manifest: TargetsManifest;
  /** Source ids in manifest order (the order of `forText`'s views and of ULD sources). */
  sources: string[];
  /** Each source's view of text `index` (undefined where it skipped the text). */
  forText(index: number): Promise<(SourceTopK | undefined)[]>;
}

export async function openDistillTargets(dir: string, expected: { corpusHash?: string; sources?: readonly TargetSource[]; k?: number } = {}): Promise<DistillTargetsReader> {
  const manifest = await readTargetsManifest(dir);
  checkTargetsMatch(manifest, expected, dir);
  const sources = manifest.sources.map((s) => s.id);
  const loaded = new Map<string, { file: string; shard: TopKShard; offsets: number[] }>();
  const shardOf = async (source: string, index: number) => {
    const entry = manifest.shards.find((e) => e.source === source && index >= e.first && index < e.first + e.texts);
    if (!entry) throw new InputFileError(path.join(dir, "manifest.json"), `no shard of '${source}' holds text ${index}`);
    const cached = loaded.get(source);
    if (cached?.file === entry.file) return cached;
    const file = path.join(dir, entry.file);
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(file);
    } catch {
      throw new InputFileError(file, "missing (the manifest lists it)");
    }
    if (bytes.length !== entry.bytes) throw new InputFileError(file, `has ${bytes.length} bytes, the manifest says ${entry.bytes}`);
    const shard = decodeTopKShard(bytes, file);
    const next = { file: entry.file, shard, offsets: shardOffsets(shard) };
    loaded.set(source, next);
    return next;
  };
  return {
    manifest,
    sources,
    async forText(index) {
      if (!(index >= 0 && index < manifest.corpus.texts)) throw new RangeError(`text ${index} is outside the corpus (${manifest.corpus.texts} texts)`);
      const views: (SourceTopK | undefined)[] = [];
      for (const source of sources) {
        const { shard, offsets } = await shardOf(source, index);
        const local = index - shard.first;
        const meta = shard.texts[local];
        if (meta.skip || meta.positions === 0) {
          views.push(undefined);
          continue;
        }
        const from = offsets[local];
        const to = offsets[local + 1];
        views.push({
          k: shard.k, strings: shard.strings,
          end: shard.end.subarray(from, to), token: shard.token.subarray(from, to), logprob: shard.logprob.subarray(from, to),
          topToken: shard.topToken.subarray(from * shard.k, to * shard.k), topLogprob: shard.topLogprob.subarray(from * shard.k, to * shard.k),
          nats: meta.nats, bytes: meta.bytes,
        });
      }
      return views;
    },
  };
}

/**
 * Every corpus text's PivotTargets (texts no source scored are left out and counted). The corpus
 * must be the one the targets were computed on.
 */
export async function* pivotTargetsOf(
  dir: string,
  corpus: DistillCorpus,
  pivot: Pivot,
  options: BuildPivotTargetsOptions & { sources?: readonly TargetSource[]; priorsOf?: (index: number, text: string) => Float64Array | undefined } = {},
): AsyncGenerator<{ index: number; text: string; targets: PivotTargets }> {
  const reader = await openDistillTargets(dir, { corpusHash: corpus.hash, sources: options.sources, k: undefined });
  for (let index = 0; index < corpus.texts.length; index++) {
    const { text, skip } = corpus.texts[index];
    if (skip) continue;
    const priors = options.priorsOf?.(index, text);
    const targets = buildPivotTargets(pivot, text, await reader.forText(index), { ...options, ...(priors ? { priors } : {}) });
    if (targets) yield { index, text, targets };
  }
}
