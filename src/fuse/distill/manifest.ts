/**
 * The manifest of a targets folder (`manifest.json`): which corpus (hash), which sources (ids and
 * model file hashes), K, and every shard. It is written last, atomically, once every shard exists:
 * a folder without one is an unfinished run. A trainer checks it against the corpus and sources
 * it names before any work (`checkTargetsMatch`).
 */
import { createHash } from "node:crypto";
import { createReadStream, promises as fs } from "node:fs";
import * as path from "node:path";
import { ConfigError, InputFileError } from "../../core/errors.js";
import type { ExpertSpec } from "../../formats/models-file.js";
import type { SkipReason } from "../../formats/topk-shard.js";

export const TARGETS_FORMAT = "cogen-distill-targets";
export const TARGETS_VERSION = 1;
export const MANIFEST_FILE = "manifest.json";

export interface TargetSource {
  id: string;
  backend: string;
  /** sha256 over the definition and model files: what identifies this source's numbers. */
  hash: string;
  /** sha256 of each local model file (model, lora). */
  files: Record<string, string>;
}

export interface ShardEntry {
  source: string;
  /** Relative to the folder. */
  file: string;
  first: number;
  texts: number;
  positions: number;
  bytes: number;
  sha256: string;
}

export interface TargetsManifest {
  format: typeof TARGETS_FORMAT;
  version: number;
  corpus: { file: string; hash: string; texts: number };
  k: number;
  textsPerShard: number;
  sources: TargetSource[];
  shards: ShardEntry[];
  /** Per source, texts skipped by reason. */
  skips: Record<string, Partial<Record<SkipReason, number>>>;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** A source's identity: its definition (without machine-local paths) and its files' hashes. */
export async function describeSource(spec: ExpertSpec): Promise<TargetSource> {
  const files: Record<string, string> = {};
  try {
    if (spec.path) files.model = await sha256File(spec.path);
    if (spec.lora) files.lora = await sha256File(spec.lora.path);
  } catch (error) {
    throw new InputFileError(spec.path ?? spec.id, `source '${spec.id}': cannot read its model file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const definition = { backend: spec.backend, url: spec.url, model: spec.model, scale: spec.lora?.scale, files };
  const hash = createHash("sha256").update(JSON.stringify(definition)).digest("hex");
  return { id: spec.id, backend: spec.backend, hash, files };
}

export async function readTargetsManifest(dir: string): Promise<TargetsManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch {
    throw new InputFileError(file, "missing: the targets run did not finish (run 'cogen distill targets' again to complete it)");
  }
  let value: TargetsManifest;
  try {
    value = JSON.parse(text) as TargetsManifest;
  } catch (error) {
    throw new InputFileError(file, `not valid JSON (${(error as Error).message})`);
  }
  if (value?.format !== TARGETS_FORMAT) throw new InputFileError(file, `not a targets manifest (format '${String(value?.format)}', expected '${TARGETS_FORMAT}')`);
  if (value.version !== TARGETS_VERSION) throw new InputFileError(file, `version ${value.version} (this cogen reads ${TARGETS_VERSION})`);
  return value;
}

/**
 * Targets must come from the corpus and sources a training run names: every difference is listed
 * at once, before any training.
 */
export function checkTargetsMatch(manifest: TargetsManifest, expected: { corpusHash?: string; sources?: readonly TargetSource[]; k?: number }, where: string): void {
  const problems: string[] = [];
  if (expected.corpusHash !== undefined && manifest.corpus.hash !== expected.corpusHash) {
    problems.push(`the targets were computed on another corpus (sha256 ${manifest.corpus.hash.slice(0, 12)}…, this run's is ${expected.corpusHash.slice(0, 12)}…)`);
  }
  if (expected.sources) {
    const have = new Map(manifest.sources.map((s) => [s.id, s]));
    const want = new Map(expected.sources.map((s) => [s.id, s]));
    for (const [id, s] of want) {
      const got = have.get(id);
      if (!got) problems.push(`source '${id}' has no targets there`);
      else if (got.hash !== s.hash) problems.push(`source '${id}' differs from the one the targets were computed with (model files or definition changed)`);
    }
    for (const id of have.keys()) if (!want.has(id)) problems.push(`the targets include source '${id}', which this run does not name`);
  }
  if (expected.k !== undefined && manifest.k < expected.k) problems.push(`the targets hold top-${manifest.k}, this run needs top-${expected.k}`);
  if (problems.length > 0) throw new ConfigError(problems, where);
}
