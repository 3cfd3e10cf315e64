import { promises as fs } from "node:fs";
import { InputFileError } from "../core/errors.js";
import type { TensorSource } from "../core/tensor.js";
import { openGguf, type GgufFile } from "./gguf/reader.js";
import { openHfWeights, openSafetensors, type HfWeights, type SafetensorsFile } from "./safetensors/index.js";
import { readFailure } from "../core/files.js";

export type WeightsFormat = "hf" | "safetensors" | "gguf";

export type OpenedWeights =
  | { format: "hf"; source: HfWeights }
  | { format: "safetensors"; source: SafetensorsFile }
  | { format: "gguf"; source: GgufFile };

/**
 * Open any weights cogen reads — a Hugging Face folder, one .safetensors file, or a GGUF file —
 * as a lazily readable TensorSource. The format is decided by what the path is and by the file's
 * first bytes, not by its name alone.
 */
export async function openWeights(target: string): Promise<OpenedWeights> {
  let stat;
  try {
    stat = await fs.stat(target);
  } catch (error) {
    throw readFailure(target, error);
  }
  if (stat.isDirectory()) return { format: "hf", source: await openHfWeights(target) };
  const handle = await fs.open(target, "r");
  const magic = Buffer.alloc(4);
  try {
    await handle.read(magic, 0, 4, 0);
  } finally {
    await handle.close();
  }
  // A .gguf name without the magic is read as GGUF too, so the error says it is not one.
  if (magic.toString("latin1") === "GGUF" || /\.gguf$/i.test(target)) return { format: "gguf", source: await openGguf(target) };
  if (target.endsWith(".safetensors") || stat.size >= 8) return { format: "safetensors", source: await openSafetensors(target) };
  throw new InputFileError(target, "not a GGUF file, a safetensors file or a Hugging Face folder");
}

export type { TensorSource };
