import { promises as fs } from "node:fs";
import * as path from "node:path";
import { writeDirAtomic } from "../../core/atomic.js";
import { ConfigError } from "../../core/errors.js";
import { llamaConfigToJson } from "../../formats/hf/config.js";
import { writeSafetensorsFile, writeSafetensorsSharded } from "../../formats/safetensors/index.js";
import { mixtralConfigJson } from "./mixtral-hf.js";
import { LORA_TARGETS, loraName, readWeights, type TrainModel } from "./model.js";
import { modelTensorShapes } from "./moe.js";
import type { BpeTokenizer } from "./tokenize.js";

/**
 * Trained weights out to the formats other tools read: a Hugging Face folder (config.json,
 * safetensors, tokenizer files) that convertHfToGguf turns into a GGUF llama.cpp runs, and a PEFT
 * LoRA adapter folder. Each folder appears complete or not at all.
 */
export interface ExportHfOptions {
  /** Tokenizer files to write alongside (default: the model's own; a folder without them cannot be converted to GGUF). */
  tokenizer?: BpeTokenizer;
  /** Fold LoRA updates into the weights (default true); false writes the frozen base. */
  merge?: boolean;
  maxShardBytes?: number;
}

/** Write the model as a Hugging Face folder (float32 weights, LoRA merged by default). */
export async function exportHf(model: TrainModel, dir: string, options: ExportHfOptions = {}): Promise<void> {
  const weights = readWeights(model, options.merge ?? true);
  const shapes = modelTensorShapes(model.config);
  await writeDirAtomic(dir, async (tmp) => {
    await writeSafetensorsSharded(
      tmp,
      shapes.map(({ name, shape }) => ({ name, dtype: "F32" as const, shape })),
      async (info) => weights.get(info.name)!,
      { maxShardBytes: options.maxShardBytes, metadata: { format: "pt" } },
    );
    const withDtype = { ...model.config, raw: { ...model.config.raw, torch_dtype: "float32" } };
    const config = model.moe ? mixtralConfigJson(withDtype) : llamaConfigToJson(withDtype);
    await fs.writeFile(path.join(tmp, "config.json"), JSON.stringify(config, null, 2) + "\n");
    const tokenizer = options.tokenizer ?? model.tokenizer;
    if (tokenizer) await writeTokenizerFiles(tmp, tokenizer);
  });
}

export async function writeTokenizerFiles(dir: string, tokenizer: BpeTokenizer): Promise<void> {
  await fs.writeFile(path.join(dir, "tokenizer.json"), JSON.stringify(tokenizer.files.tokenizer));
  await fs.writeFile(path.join(dir, "tokenizer_config.json"), JSON.stringify(tokenizer.files.config, null, 2) + "\n");
}

export const PEFT_WEIGHTS_FILE = "adapter_model.safetensors";
export const PEFT_CONFIG_FILE = "adapter_config.json";
const PEFT_PREFIX = "base_model.model.";

export interface ExportLoraOptions {
  /** Written as base_model_name_or_path (for example the base model's folder or hub id). */
  baseModel?: string;
}

/**
 * Write the LoRA factors as a PEFT adapter: adapter_model.safetensors with
 * `base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight` [r, in] and `…lora_B.weight`
 * [out, r], and adapter_config.json (r, lora_alpha, target_modules).
 */
export async function exportLora(model: TrainModel, dir: string, options: ExportLoraOptions = {}): Promise<void> {
  const lora = model.lora;
  if (!lora) throw new ConfigError(["exportLora: the model has no LoRA adapters (train with lora: { rank, alpha })"]);
  const tensors = [...lora.modules].flatMap(([target, { a, b }]) => [
    { name: PEFT_PREFIX + loraName(target, "A"), dtype: "F32" as const, shape: a.shape, data: Float32Array.from(a.dataSync() as Float32Array) },
    { name: PEFT_PREFIX + loraName(target, "B"), dtype: "F32" as const, shape: b.shape, data: Float32Array.from(b.dataSync() as Float32Array) },
  ]);
  const config = {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: options.baseModel ?? null,
    r: lora.rank,
    lora_alpha: lora.alpha,
    lora_dropout: 0,
    target_modules: LORA_TARGETS.map((t) => t.split(".")[1]),
    bias: "none",
    fan_in_fan_out: false,
    use_rslora: false,
    inference_mode: true,
  };
  await writeDirAtomic(dir, async (tmp) => {
    await writeSafetensorsFile(path.join(tmp, PEFT_WEIGHTS_FILE), tensors, { format: "pt" });
    await fs.writeFile(path.join(tmp, PEFT_CONFIG_FILE), JSON.stringify(config, null, 2) + "\n");
  });
}
