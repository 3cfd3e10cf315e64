import * as path from "node:path";
import { elementCount } from "../core/tensor.js";
import type { GgufValue } from "./gguf/values.js";
import { openWeights, type WeightsFormat } from "./open-weights.js";
import { readOptionalJsonObject } from "../core/json-file.js";

export interface InspectedTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: number;
}

export interface Inspection {
  path: string;
  format: WeightsFormat;
  /** GGUF `general.architecture`, or config.json's first architecture. */
  architecture?: string;
  /** GGUF metadata or safetensors `__metadata__`; long arrays are summarised. */
  metadata: Record<string, unknown>;
  /** config.json of a Hugging Face folder. */
  config?: Record<string, unknown>;
  tensors: InspectedTensor[];
  totals: { tensors: number; parameters: number; bytes: number };
}

/** Arrays longer than this are shown as their length and first items. */
const ARRAY_PREVIEW = 8;

/** Describe a model file or folder: format, architecture, metadata and every tensor. */
export async function inspectWeights(target: string): Promise<Inspection> {
  const opened = await openWeights(target);
  try {
    const tensors = opened.source.list().map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape], bytes: t.byteLength }));
    const totals = {
      tensors: tensors.length,
      parameters: tensors.reduce((sum, t) => sum + elementCount(t.shape), 0),
      bytes: tensors.reduce((sum, t) => sum + t.bytes, 0),
    };
    let metadata: Record<string, unknown> = {};
    let architecture: string | undefined;
    let config: Record<string, unknown> | undefined;
    if (opened.format === "gguf") {
      for (const [key, value] of opened.source.metadata) metadata[key] = summarise(value);
      architecture = opened.source.architecture;
    } else if (opened.format === "safetensors") {
      metadata = { ...opened.source.metadata };
    } else {
      metadata = { ...opened.source.metadata };
      // A folder may lack config.json (bare safetensors); a corrupt one is reported.
      config = await readOptionalJsonObject(path.join(target, "config.json"));
      const archs = config?.architectures;
      if (Array.isArray(archs) && typeof archs[0] === "string") architecture = archs[0];
    }
    return { path: target, format: opened.format, architecture, metadata, config, tensors, totals };
  } finally {
    await opened.source.close();
  }
}

function summarise(value: GgufValue): unknown {
  if (value.type !== "array") return typeof value.value === "bigint" ? value.value.toString() : value.value;
  const items = value.value.slice(0, ARRAY_PREVIEW).map((item) =>
    typeof item === "object" && item !== null ? summarise(item as GgufValue) : typeof item === "bigint" ? item.toString() : item,
  );
  if (value.value.length <= ARRAY_PREVIEW) return items;
  return { type: `array of ${value.itemType}`, length: value.value.length, first: items };
}
