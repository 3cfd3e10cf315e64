import { promises as fs } from "node:fs";
import * as path from "node:path";
import { InputFileError } from "../../core/errors.js";
import type { TensorInfo, TensorSource } from "../../core/tensor.js";
import { HF_INDEX_FILE, HF_SINGLE_FILE } from "./hf-names.js";
import { openSafetensors, type SafetensorsFile } from "./reader.js";
import { isPlainObject, parseJsonStrict } from "./strict-json.js";
import { isFileMissing, readFailure } from "../../core/files.js";

/** The weights of a Hugging Face folder as one lazily readable source. */
export interface HfWeights extends TensorSource {
  /** The index's `metadata` (for example total_size); `{}` for a single file. */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** The safetensors files read, sorted by name (shard order for HF names). */
  readonly files: readonly string[];
}

/** Index files beyond this size are rejected rather than read (real ones are well under 1 MiB). */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

/**
 * Open the weights of a Hugging Face folder: `model.safetensors.index.json` with its shards when
 * present, otherwise `model.safetensors` (a path to a .safetensors file is accepted too). Every
 * shard named by the index must exist and hold each tensor the index maps to it; errors name
 * the index or shard at fault. Tensors are listed shard by shard in header order.
 */
export async function openHfWeights(dir: string): Promise<HfWeights> {
  let stat;
  try {
    stat = await fs.stat(dir);
  } catch (error) {
    throw readFailure(dir, error);
  }
  if (stat.isFile()) return singleFile(await openSafetensors(dir));
  const indexPath = path.join(dir, HF_INDEX_FILE);
  if (await isFile(indexPath)) return openIndexed(indexPath);
  const single = path.join(dir, HF_SINGLE_FILE);
  if (await isFile(single)) return singleFile(await openSafetensors(single));
  throw new InputFileError(dir, `no ${HF_SINGLE_FILE} or ${HF_INDEX_FILE} in this folder`);
}

/**
 * Every tensor of a Hugging Face folder (or one .safetensors file) as float32, by name: for the
 * small models cogen trains and checks, which are read whole.
 */
export async function readHfWeightsF32(dir: string): Promise<Map<string, Float32Array>> {
  const weights = await openHfWeights(dir);
  try {
    const out = new Map<string, Float32Array>();
    for (const t of weights.list()) out.set(t.name, await weights.readF32(t.name));
    return out;
  } finally {
    await weights.close();
  }
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isFile();
  } catch (error) {
    if (isFileMissing(error)) return false;
    throw readFailure(p, error);
  }
}

function singleFile(file: SafetensorsFile): HfWeights {
  return new CombinedWeights(file.path, [file], new Map(file.list().map((t) => [t.name, file])), {});
}

interface HfIndex {
  metadata: Record<string, unknown>;
  /** tensor name → shard file name */
  weightMap: Map<string, string>;
}

async function readIndex(indexPath: string): Promise<HfIndex> {
  const fail = (problem: string): never => {
    throw new InputFileError(indexPath, problem);
  };
  const { size } = await fs.stat(indexPath);
  if (size > MAX_INDEX_BYTES) fail(`index is ${size} bytes, over the limit of ${MAX_INDEX_BYTES}`);
  const bytes = await fs.readFile(indexPath);
  let text = "";
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    fail("not valid UTF-8");
  }
  const parsed = parseJsonStrict(text);
  if (!parsed.ok) return fail(parsed.problem);
  const root = parsed.value;
  if (!isPlainObject(root)) return fail("not a JSON object");
  const metadata = root.metadata ?? {};
  if (!isPlainObject(metadata)) fail("metadata is not an object");
  if (!isPlainObject(root.weight_map)) return fail("weight_map is missing or not an object");
  const weightMap = new Map<string, string>();
  for (const [name, file] of Object.entries(root.weight_map)) {
    if (typeof file !== "string") fail(`weight_map[${JSON.stringify(name)}] is not a file name`);
    const shard = file as string;
    if (shard === "" || shard === "." || shard === ".." || shard.includes("/") || shard.includes("\\")) {
      fail(`weight_map[${JSON.stringify(name)}] = ${JSON.stringify(shard)} is not a plain file name in the folder`);
    }
    weightMap.set(name, shard);
  }
  return { metadata: metadata as Record<string, unknown>, weightMap };
}

async function openIndexed(indexPath: string): Promise<HfWeights> {
  const dir = path.dirname(indexPath);
  const index = await readIndex(indexPath);
  // Sorted: HF shard names sort in shard order, and JS objects lose the file's key order anyway.
  const shardNames = [...new Set(index.weightMap.values())].sort();
  const opened = new Map<string, SafetensorsFile>();
  try {
    for (const shard of shardNames) {
      const shardPath = path.join(dir, shard);
      if (!(await isFile(shardPath))) {
        throw new InputFileError(indexPath, `shard ${JSON.stringify(shard)} named in weight_map does not exist`);
      }
      opened.set(shard, await openSafetensors(shardPath));
    }
    const owner = new Map<string, SafetensorsFile>();
    for (const [name, shard] of index.weightMap) {
      const file = opened.get(shard) as SafetensorsFile;
      if (!file.info(name)) {
        throw new InputFileError(file.path, `tensor ${JSON.stringify(name)} is mapped to this file by ${indexPath} but is not in it`);
      }
      owner.set(name, file);
    }
    return new CombinedWeights(dir, [...opened.values()], owner, index.metadata);
  } catch (error) {
    await Promise.all([...opened.values()].map((f) => f.close()));
    throw error;
  }
}

class CombinedWeights implements HfWeights {
  private readonly infos: TensorInfo[];
  readonly files: readonly string[];

  constructor(
    readonly path: string,
    private readonly shards: SafetensorsFile[],
    private readonly owner: Map<string, SafetensorsFile>,
    readonly metadata: Readonly<Record<string, unknown>>,
  ) {
    this.files = shards.map((s) => s.path);
    this.infos = shards.flatMap((s) => s.list().filter((t) => owner.get(t.name) === s));
  }

  list(): TensorInfo[] {
    return this.infos.map((i) => ({ ...i, shape: [...i.shape] }));
  }

  info(name: string): TensorInfo | undefined {
    return this.owner.get(name)?.info(name);
  }

  async readRaw(name: string, into?: Uint8Array): Promise<Uint8Array> {
    return this.source(name).readRaw(name, into);
  }

  async readF32(name: string): Promise<Float32Array> {
    return this.source(name).readF32(name);
  }

  async close(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.close()));
  }

  private source(name: string): SafetensorsFile {
    const s = this.owner.get(name);
    if (!s) throw new InputFileError(this.path, `no tensor named ${JSON.stringify(name)}`);
    return s;
  }
}
