import * as path from "node:path";
import { exists } from "../../core/atomic.js";
import { InputFileError } from "../../core/errors.js";
import { llamaConfigToJson, readLlamaConfig, type LlamaConfig } from "../../formats/hf/config.js";
import { readHfWeightsF32 } from "../../formats/safetensors/index.js";
import { initTrainingBackend } from "./backend.js";
import { checkInitWeights, createTrainModel, type TrainModel } from "./model.js";
import { checkMoeShape } from "./moe.js";
import { readBpeTokenizer } from "./tokenize.js";

/**
 * Mixtral Hugging Face folders (MixtralForCausalLM, model_type "mixtral") in and out of the
 * trainer. The decoder is llama's; config.json adds `num_local_experts`, `num_experts_per_tok`
 * (LlamaConfig's `moe`), `router_aux_loss_coef` and `output_router_logits`.
 */
export const DEFAULT_ROUTER_AUX_LOSS_COEF = 0.01;

export interface MixtralFolder {
  /** The config, with `moe` set. */
  config: LlamaConfig;
  /** `router_aux_loss_coef` of config.json (default 0.01, Mixtral's). */
  routerAuxLossCoef: number;
  weights: Map<string, Float32Array>;
}

/** config.json of a Mixtral model (config.moe set): llama's keys plus the router's. */
export function mixtralConfigJson(config: LlamaConfig): Record<string, unknown> {
  return {
    ...llamaConfigToJson({ ...config, architecture: "MixtralForCausalLM" }),
    router_aux_loss_coef: routerAuxLossCoefOf(config),
    output_router_logits: false,
  };
}

function routerAuxLossCoefOf(config: LlamaConfig): number {
  const coef = config.raw.router_aux_loss_coef;
  return typeof coef === "number" ? coef : DEFAULT_ROUTER_AUX_LOSS_COEF;
}

/** Read a Mixtral folder's config.json (it must be a mixture of experts). */
export async function readMixtralConfig(dir: string): Promise<Omit<MixtralFolder, "weights">> {
  const config = await readLlamaConfig(dir);
  const file = path.join(dir, "config.json");
  if (!config.moe) throw new InputFileError(file, `not a mixture of experts: architecture ${config.architecture}, expected MixtralForCausalLM with num_local_experts`);
  const coef = config.raw.router_aux_loss_coef ?? DEFAULT_ROUTER_AUX_LOSS_COEF;
  if (typeof coef !== "number" || !(coef >= 0)) throw new InputFileError(file, `"router_aux_loss_coef" must be a non-negative number (got ${JSON.stringify(coef)})`);
  try {
    checkMoeShape(config.moe);
  } catch (error) {
    throw new InputFileError(file, (error as Error).message);
  }
  return { config, routerAuxLossCoef: coef };
}

/** Read a Mixtral folder: config and every weight as float32, checked against the layout. */
export async function readMixtralFolder(dir: string): Promise<MixtralFolder> {
  const head = await readMixtralConfig(dir);
  const weights = await readHfWeightsF32(dir);
  checkInitWeights(head.config, weights, dir);
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
  await initTrainingBackend();
  const folder = await readMixtralFolder(dir);
  const tokenizer = (await exists(path.join(dir, "tokenizer.json"))) ? await readBpeTokenizer(dir) : undefined;
  const config = withExpertsPerToken(folder.config, options.expertsPerToken);
  const model = createTrainModel(config, { seed: options.seed ?? 0, init: folder.weights, trainable: options.trainable, customGrad: options.customGrad, tokenizer });
  return { model, folder };
}

/** The config with another top-k (checked), written into config.json's `num_experts_per_tok` too. */
export function withExpertsPerToken(config: LlamaConfig, k: number | undefined): LlamaConfig {
  if (k === undefined || !config.moe) return config;
  const moe = { ...config.moe, expertsPerToken: k };
  checkMoeShape(moe);
  return { ...config, moe, raw: { ...config.raw, num_experts_per_tok: k } };
}
