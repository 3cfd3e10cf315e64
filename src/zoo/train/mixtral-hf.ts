import { promises as fs } from "node:fs";
import * as path from "node:path";
import { exists } from "../../core/atomic.js";
import { InputFileError } from "../../core/errors.js";
import { llamaConfigToJson, parseLlamaConfig, type LlamaConfig } from "../../formats/hf/config.js";
import { openHfWeights } from "../../formats/safetensors/index.js";
import { checkInitWeights, createTrainModel, type TrainModel } from "./model.js";
import { checkMoeShape, type MoeShape } from "./moe.js";
import { readBpeTokenizer } from "./tokenize.js";

/**
 * Mixtral Hugging Face folders (MixtralForCausalLM, model_type "mixtral") in and out of the
 * trainer. The decoder is llama's; config.json adds `num_local_experts`, `num_experts_per_tok`,
 * `router_aux_loss_coef` and `output_router_logits`.
 */
export const DEFAULT_ROUTER_AUX_LOSS_COEF = 0.01;

export interface MixtralFolder {
  config: LlamaConfig;
  moe: MoeShape;
  /** `router_aux_loss_coef` of config.json (default 0.01, Mixtral's). */
  routerAuxLossCoef: number;
  weights: Map<string, Float32Array>;
}

/** config.json of a Mixtral model with this decoder and expert layout. */
export function mixtralConfigJson(config: LlamaConfig, moe: MoeShape): Record<string, unknown> {
  const coef = config.raw.router_aux_loss_coef;
  return {
    ...llamaConfigToJson(config),
    architectures: ["MixtralForCausalLM"],
    model_type: "mixtral",
    num_local_experts: moe.experts,
    num_experts_per_tok: moe.expertsPerToken,
    router_aux_loss_coef: typeof coef === "number" ? coef : DEFAULT_ROUTER_AUX_LOSS_COEF,
    output_router_logits: false,
  };
}

/** Read a Mixtral folder's config.json: the llama decoder, the expert layout, the aux-loss coefficient. */
export async function readMixtralConfig(dir: string): Promise<Omit<MixtralFolder, "weights">> {
  const file = path.join(dir, "config.json");
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await fs.readFile(file, "utf8")) as Record<string, unknown>;
  } catch (error) {
    throw new InputFileError(file, `cannot read a Mixtral config.json: ${(error as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new InputFileError(file, "config.json must be a JSON object");
  const archs = raw.architectures;
  if (!Array.isArray(archs) || archs[0] !== "MixtralForCausalLM") {
    throw new InputFileError(file, `not a mixture of experts: "architectures" is ${JSON.stringify(archs)}, expected ["MixtralForCausalLM"]`);
  }
  const config = { ...parseLlamaConfig({ ...raw, architectures: ["LlamaForCausalLM"] }, file), raw };
  const problems: string[] = [];
  const int = (key: string) => {
    const v = raw[key];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) problems.push(`"${key}" must be a positive integer (got ${JSON.stringify(v)})`);
    return v as number;
  };
  const moe: MoeShape = { experts: int("num_local_experts"), expertsPerToken: int("num_experts_per_tok") };
  const coef = raw.router_aux_loss_coef ?? DEFAULT_ROUTER_AUX_LOSS_COEF;
  if (typeof coef !== "number" || !(coef >= 0)) problems.push(`"router_aux_loss_coef" must be a non-negative number (got ${JSON.stringify(coef)})`);
  if (problems.length) throw new InputFileError(file, problems.join("; "));
  try {
    checkMoeShape(moe);
  } catch (error) {
    throw new InputFileError(file, (error as Error).message);
  }
  return { config, moe, routerAuxLossCoef: coef as number };
}

/** Read a Mixtral folder: config and every weight as float32, checked against the layout. */
export async function readMixtralFolder(dir: string): Promise<MixtralFolder> {
  const head = await readMixtralConfig(dir);
  const file = await openHfWeights(dir);
  const weights = new Map<string, Float32Array>();
  try {
    for (const t of file.list()) weights.set(t.name, await file.readF32(t.name));
  } finally {
    await file.close();
  }
  checkInitWeights(head.config, weights, dir, head.moe);
  return { ...head, weights };
}

export interface LoadMixtralOptions {
  seed?: number;
  /** Train only the weights this accepts (default all). */
  trainable?: (name: string) => boolean;
  /** Top-k to run with instead of the folder's `num_experts_per_tok`. */
  expertsPerToken?: number;
  customGrad?: boolean;
}

/** A Mixtral folder as a TrainModel (with its tokenizer when the folder has one). */
export async function loadMixtralTrainModel(dir: string, options: LoadMixtralOptions = {}): Promise<{ model: TrainModel; folder: MixtralFolder }> {
  const folder = await readMixtralFolder(dir);
  const tokenizer = (await exists(path.join(dir, "tokenizer.json"))) ? await readBpeTokenizer(dir) : undefined;
  const moe = { ...folder.moe, expertsPerToken: options.expertsPerToken ?? folder.moe.expertsPerToken };
  const model = createTrainModel(folder.config, {
    seed: options.seed ?? 0, init: folder.weights, moe, trainable: options.trainable, customGrad: options.customGrad, tokenizer,
  });
  return { model, folder };
}
