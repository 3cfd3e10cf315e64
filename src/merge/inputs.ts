/**
 * Opening a merge's input models: Hugging Face folders (sharded safetensors), GGUF files
 * (converted to a temporary Hugging Face folder first: dequantized, q/k rows de-interleaved, by
 * formats/convert), and `path+lora_path` references (the adapter merged into the weights on read).
 * All inputs are opened before anything is merged; every failure is collected and reported once.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CogenError, ConfigError } from "../core/errors.js";
import { pathHolds } from "../core/files.js";
import { readOptionalJsonObject } from "../core/json-file.js";
import type { TensorSource } from "../core/tensor.js";
import { convertGgufToHf } from "../formats/convert/gguf-to-hf.js";
import type { ModelRef } from "../formats/mergekit-config.js";
import { openHfWeights } from "../formats/safetensors/index.js";
import { openLoraAdapter, withLora } from "./lora/adapter.js";

export interface OpenedModel {
  ref: ModelRef;
  source: TensorSource;
  /** The folder holding config.json and tokenizer files. */
  dir: string;
  configJson?: Record<string, unknown>;
  cleanup?: () => Promise<void>;
}

export async function openModel(ref: ModelRef, baseDir: string): Promise<OpenedModel> {
  const p = path.resolve(baseDir, ref.path);
  let dir = p;
  let cleanup: (() => Promise<void>) | undefined;
  if (/\.gguf$/i.test(p)) {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-merge-gguf-"));
    cleanup = () => fs.rm(tmp, { recursive: true, force: true });
    try {
      dir = path.join(tmp, "model");
      await convertGgufToHf(p, dir, {});
    } catch (e) {
      await cleanup();
      throw e;
    }
  }
  try {
    let source: TensorSource = await openHfWeights(dir);
    if (ref.lora) source = withLora(source, await openLoraAdapter(path.resolve(baseDir, ref.lora)));
    // No config.json is allowed (bare safetensors folders); a corrupt one is an error.
    const configJson = await readOptionalJsonObject(path.join(dir, "config.json"));
    return { ref, source, dir, ...(configJson ? { configJson } : {}), ...(cleanup ? { cleanup } : {}) };
  } catch (e) {
    await cleanup?.();
    throw e;
  }
}

/**
 * Refuse an output folder that is, or holds, one of the inputs (a model or its adapter):
 * writing the result there would delete that input, so not even --force may.
 */
export async function refuseOutputOverInputs(outDir: string, refs: readonly ModelRef[], baseDir: string): Promise<void> {
  const problems: string[] = [];
  for (const ref of new Map(refs.map((r) => [r.text, r])).values()) {
    for (const input of [ref.path, ...(ref.lora ? [ref.lora] : [])]) {
      if (await pathHolds(outDir, path.resolve(baseDir, input))) {
        problems.push(`the output folder ${outDir} is, or holds, the input ${input}: writing there would delete it; choose another output folder`);
      }
    }
  }
  if (problems.length) throw new ConfigError(problems);
}

/** Open every distinct model reference; on any failure close the rest and report all failures. */
export async function openModels(refs: ModelRef[], baseDir: string): Promise<Map<string, OpenedModel>> {
  const unique = new Map<string, ModelRef>();
  for (const r of refs) unique.set(r.text, r);
  const opened = new Map<string, OpenedModel>();
  const problems: string[] = [];
  for (const ref of unique.values()) {
    try {
      opened.set(ref.text, await openModel(ref, baseDir));
    } catch (e) {
      if (!(e instanceof CogenError)) {
        await closeModels(opened);
        throw e;
      }
      problems.push(`${ref.text}: ${e.message}`);
    }
  }
  if (problems.length) {
    await closeModels(opened);
    throw new ConfigError(problems, "inputs");
  }
  return opened;
}

export async function closeModels(models: Map<string, OpenedModel>): Promise<void> {
  for (const m of models.values()) {
    // Read-only handles: a failed close loses nothing, and every other model must still close.
    await m.source.close().catch(() => undefined);
    await m.cleanup?.();
  }
}
