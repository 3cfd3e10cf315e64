import { promises as fs } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import * as path from "node:path";
import { temporarySibling } from "../../core/atomic.js";
import { ConfigError } from "../../core/errors.js";
import { silentProgress, type Progress } from "../../core/progress.js";
import type { TensorInfo } from "../../core/tensor.js";
import { isSafetensorsDType, isValidShape, tensorByteLength, type SafetensorsDType } from "./dtypes.js";
import { writeFully } from "./file-io.js";
import { encodeHeader, METADATA_KEY, type HeaderTensor } from "./header.js";
import { HF_INDEX_FILE, HF_SINGLE_FILE, hfShardName, isHfWeightFileName } from "./hf-names.js";

/** One tensor of a write plan: what will be written, in this order. */
export interface TensorPlanEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: readonly number[];
}

/**
 * Produces the stored little-endian bytes of one tensor (exactly `info.byteLength` bytes). Called
 * once per tensor, in plan order, and never again before the previous result has been written.
 */
export type TensorProducer = (info: TensorInfo, index: number) => Promise<ArrayBufferView>;

export interface WriteShardedOptions {
  /**
   * Start a new shard before a tensor that would take the current one past this many data bytes
   * (a tensor larger than the limit gets a shard of its own). Default: no limit (one file).
   */
  maxShardBytes?: number;
  /** Written as `__metadata__` into every file (for example {format: "pt"}). */
  metadata?: Readonly<Record<string, string>>;
  progress?: Progress;
}

export interface WriteShardedResult {
  /** Every file written, shards first and then the index (when sharded), as paths in `dir`. */
  files: string[];
  /** Sum of all tensors' byte lengths (the index's `metadata.total_size`). */
  totalSize: number;
}

const loneSurrogate = /[\uD800-\uDFFF]/u;

interface PlannedTensor extends HeaderTensor {
  index: number;
}

/**
 * Write tensors as a Hugging Face weights folder: `model.safetensors` when everything fits one
 * shard, otherwise `model-00001-of-0000N.safetensors` … plus `model.safetensors.index.json`
 * ({metadata: {total_size}, weight_map: name → file}). Headers are computed up front from the
 * plan; data is streamed tensor by tensor from `produce`, so at most one tensor is held in memory.
 *
 * Atomic: every file is written under a temporary name and renamed only after all of them are
 * complete (the index last); on failure the temporary files are removed and the folder is left
 * as it was. After success, weight files of a previous write that are not part of this one
 * (other `model*.safetensors` shards or a stale index) are removed so the folder is consistent.
 * Throws ConfigError for an invalid plan (duplicate or reserved names, bad dtypes or shapes) or a
 * producer that returns the wrong number of bytes.
 */
export async function writeSafetensorsSharded(
  dir: string,
  plan: readonly TensorPlanEntry[],
  produce: TensorProducer,
  options: WriteShardedOptions = {},
): Promise<WriteShardedResult> {
  const tensors = validatePlan(plan, options.metadata);
  const maxShardBytes = options.maxShardBytes ?? Infinity;
  if (!(maxShardBytes > 0)) throw new ConfigError([`maxShardBytes must be positive, got ${maxShardBytes}`]);
  const shards = planShards(tensors, maxShardBytes);
  const names = shards.length === 1 ? [HF_SINGLE_FILE] : shards.map((_, i) => hfShardName(i + 1, shards.length));
  const totalSize = tensors.reduce((sum, t) => sum + t.byteLength, 0);
  const progress = options.progress ?? silentProgress;

  await fs.mkdir(dir, { recursive: true });
  const pending: { tmp: string; target: string }[] = [];
  try {
    progress.start("write safetensors", totalSize, "B");
    for (let s = 0; s < shards.length; s++) {
      const target = path.join(dir, names[s]);
      const tmp = temporarySibling(target);
      pending.push({ tmp, target });
      await writeShardData(tmp, shards[s], options.metadata, produce, progress);
    }
    if (shards.length > 1) {
      const target = path.join(dir, HF_INDEX_FILE);
      const tmp = temporarySibling(target);
      pending.push({ tmp, target });
      const weightMap: Record<string, string> = {};
      shards.forEach((shard, s) => {
        for (const t of shard) Object.defineProperty(weightMap, t.name, { value: names[s], enumerable: true });
      });
      const index = { metadata: { total_size: totalSize }, weight_map: weightMap };
      await fs.writeFile(tmp, JSON.stringify(index, null, 2) + "\n", { flag: "wx" });
    }
    for (const { tmp, target } of pending) await fs.rename(tmp, target);
    progress.done(`${shards.length} file(s), ${totalSize} bytes`);
  } catch (error) {
    await Promise.all(pending.map(({ tmp }) => fs.rm(tmp, { force: true })));
    throw error;
  }
  const written = pending.map((p) => p.target);
  await removeStaleWeights(dir, new Set(written.map((p) => path.basename(p))));
  return { files: written, totalSize };
}

/** An in-memory tensor for `writeSafetensorsFile`. */
export interface TensorData extends TensorPlanEntry {
  data: ArrayBufferView;
}

/**
 * Write one small safetensors file atomically from tensors held in memory, in the given order.
 * For large models use writeSafetensorsSharded, which streams.
 */
export async function writeSafetensorsFile(
  file: string,
  tensors: readonly TensorData[],
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const planned = validatePlan(tensors, metadata);
  const tmp = temporarySibling(file);
  try {
    await writeShardData(tmp, planned, metadata, async (_info, i) => tensors[i].data, silentProgress);
    await fs.rename(tmp, file);
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw error;
  }
}

/** Encode a whole safetensors file in memory (for tests and tiny outputs). */
export function encodeSafetensors(tensors: readonly TensorData[], metadata?: Readonly<Record<string, string>>): Uint8Array {
  const planned = validatePlan(tensors, metadata);
  const header = encodeHeader(planned, metadata);
  const out = new Uint8Array(header.length + planned.reduce((s, t) => s + t.byteLength, 0));
  out.set(header);
  let position = header.length;
  planned.forEach((t, i) => {
    const bytes = checkedBytes(t, tensors[i].data);
    out.set(bytes, position);
    position += bytes.length;
  });
  return out;
}

async function writeShardData(
  file: string,
  tensors: readonly PlannedTensor[],
  metadata: Readonly<Record<string, string>> | undefined,
  produce: TensorProducer,
  progress: Progress,
): Promise<void> {
  const header = encodeHeader(tensors, metadata);
  const handle: FileHandle = await fs.open(file, "wx");
  try {
    await writeFully(handle, header, 0);
    let position = header.length;
    for (const t of tensors) {
      const info: TensorInfo = { name: t.name, dtype: t.dtype, shape: [...t.shape], byteLength: t.byteLength };
      const bytes = checkedBytes(t, await produce(info, t.index));
      await writeFully(handle, bytes, position);
      position += bytes.length;
      progress.tick(bytes.length);
    }
  } finally {
    await handle.close();
  }
}

function checkedBytes(t: PlannedTensor, data: ArrayBufferView): Uint8Array {
  if (!ArrayBuffer.isView(data)) throw new ConfigError([`tensor ${JSON.stringify(t.name)}: data is not a typed array`]);
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.length !== t.byteLength) {
    throw new ConfigError([
      `tensor ${JSON.stringify(t.name)}: got ${bytes.length} bytes, but ${t.dtype} [${t.shape.join(", ")}] needs ${t.byteLength}`,
    ]);
  }
  return bytes;
}

/** Check a plan and compute each tensor's byte length; lists every problem in one ConfigError. */
export function validatePlan(
  plan: readonly TensorPlanEntry[],
  metadata?: Readonly<Record<string, string>>,
): PlannedTensor[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const out: PlannedTensor[] = [];
  plan.forEach((entry, index) => {
    const label = `tensor ${JSON.stringify(entry.name)}`;
    if (typeof entry.name !== "string") problems.push(`plan[${index}]: name is not a string`);
    else if (entry.name === METADATA_KEY) problems.push(`${label}: the name is reserved for metadata`);
    else if (seen.has(entry.name)) problems.push(`${label}: duplicate name`);
    else if (loneSurrogate.test(entry.name)) problems.push(`${label}: name contains an unpaired UTF-16 surrogate`);
    seen.add(entry.name);
    if (!isSafetensorsDType(entry.dtype)) {
      problems.push(`${label}: dtype ${JSON.stringify(entry.dtype)} cannot be stored in safetensors`);
      return;
    }
    if (!isValidShape(entry.shape)) {
      problems.push(`${label}: shape ${JSON.stringify(entry.shape)} is not an array of non-negative integers`);
      return;
    }
    const byteLength = tensorByteLength(entry.dtype, entry.shape);
    if (byteLength === undefined) problems.push(`${label}: shape [${entry.shape.join(", ")}] is too large`);
    else out.push({ name: entry.name, dtype: entry.dtype, shape: entry.shape, byteLength, index });
  });
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (typeof value !== "string") problems.push(`metadata ${JSON.stringify(key)}: value is not a string`);
    else if (loneSurrogate.test(key) || loneSurrogate.test(value)) problems.push(`metadata ${JSON.stringify(key)}: unpaired UTF-16 surrogate`);
  }
  if (problems.length > 0) throw new ConfigError(problems, "safetensors write plan");
  return out;
}

/** Greedy in plan order: a new shard starts when the next tensor would exceed the limit. */
export function planShards<T extends { byteLength: number }>(tensors: readonly T[], maxShardBytes: number): T[][] {
  const shards: T[][] = [[]];
  let size = 0;
  for (const t of tensors) {
    const current = shards[shards.length - 1];
    if (current.length > 0 && size + t.byteLength > maxShardBytes) {
      shards.push([t]);
      size = t.byteLength;
    } else {
      current.push(t);
      size += t.byteLength;
    }
  }
  return shards;
}

async function removeStaleWeights(dir: string, keep: ReadonlySet<string>): Promise<void> {
  for (const name of await fs.readdir(dir)) {
    if (isHfWeightFileName(name) && !keep.has(name)) await fs.rm(path.join(dir, name), { force: true });
  }
}
