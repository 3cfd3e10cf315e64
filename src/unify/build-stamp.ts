import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../core/atomic.js";
import { isFileMissing } from "../core/files.js";
import type { ExpertSpec } from "../formats/models-file.js";
import type { BuiltCheckpoint } from "./weight-space.js";

/**
 * What lets a rerun of unify reuse a checkpoint it built before (a merge of 7B experts takes
 * minutes, a pivot's training longer): a stamp beside the checkpoint's folder (FOLDER.build.json,
 * outside it, so no builder finds a stranger in its output folder) with a fingerprint of
 * everything the build read — the experts as the models file gives them, the size and time of
 * each of their files, the dev items and the policy's settings — and, once the build is
 * complete, what it built. Sizes and times stand in for the bytes: hashing every GGUF on each
 * run would cost what the stamp saves.
 */
const stampFile = (dir: string) => `${dir}.build.json`;
const STAMP_VERSION = 1;

interface Stamp {
  version: number;
  fingerprint: string;
  /** Present once the build completed; the GGUF's path relative to the folder, so the folder can move. */
  built?: BuiltCheckpoint;
}

/** Size and modification time of a file, or of each file in a folder (a Hugging Face folder's shards). */
async function fileStats(target: string): Promise<unknown> {
  try {
    const stat = await fs.stat(target);
    if (!stat.isDirectory()) return [stat.size, stat.mtimeMs];
    const names = (await fs.readdir(target)).sort();
    return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await fileStats(path.join(target, n))] as const)));
  } catch (error) {
    if (isFileMissing(error)) return "missing";
    throw error;
  }
}

export async function buildFingerprint(experts: readonly ExpertSpec[], inputs: unknown): Promise<string> {
  const files = await Promise.all(experts.map(async (e) => ({
    path: e.path ? await fileStats(e.path) : undefined,
    lora: e.lora ? await fileStats(e.lora.path) : undefined,
    weights: e.weights ? await fileStats(e.weights) : undefined,
  })));
  return createHash("sha256").update(JSON.stringify({ version: STAMP_VERSION, experts, files, inputs })).digest("hex");
}

async function readStamp(dir: string): Promise<Stamp | undefined> {
  try {
    const stamp = JSON.parse(await fs.readFile(stampFile(dir), "utf8")) as Stamp;
    return stamp.version === STAMP_VERSION ? stamp : undefined;
  } catch {
    // Missing, or not ours: the folder is rebuilt.
    return undefined;
  }
}

/**
 * The state of a checkpoint folder for a build with this fingerprint: `reusable` (complete, from
 * the same inputs, its GGUF still there), `partial` (an earlier build of the same inputs stopped
 * part way; what it left may be continued) or `stale` (anything else: the folder is emptied).
 */
export async function stampState(dir: string, fingerprint: string): Promise<{ state: "reusable"; built: BuiltCheckpoint } | { state: "partial" | "stale" }> {
  const stamp = await readStamp(dir);
  if (stamp?.fingerprint !== fingerprint) return { state: "stale" };
  if (!stamp.built) return { state: "partial" };
  const gguf = path.resolve(dir, stamp.built.spec.path ?? "");
  try {
    if (!(await fs.stat(gguf)).isFile()) return { state: "partial" };
  } catch (error) {
    if (isFileMissing(error)) return { state: "partial" };
    throw error;
  }
  return { state: "reusable", built: { ...stamp.built, spec: { ...stamp.built.spec, path: gguf } } };
}

/** Stamp a folder before its build starts (`built` absent) and again when it is complete. */
export async function writeStamp(dir: string, fingerprint: string, built?: BuiltCheckpoint): Promise<void> {
  const stamp: Stamp = {
    version: STAMP_VERSION,
    fingerprint,
    ...(built ? { built: { ...built, spec: { ...built.spec, path: path.relative(dir, built.spec.path ?? "") } } } : {}),
  };
  await fs.mkdir(path.dirname(dir), { recursive: true });
  await writeFileAtomic(stampFile(dir), JSON.stringify(stamp, null, 2) + "\n");
}
