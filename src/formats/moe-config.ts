/**
 * mergekit-moe's YAML configuration (`mergekit-moe CONFIG.yml OUT`), parsed strictly: every
 * problem is collected, with its YAML line, and reported at once as a ConfigError. Keys and
 * defaults follow mergekit-moe (gate_mode "hidden", experts_per_token 2); `cogen_non_expert` is
 * cogen's own addition (mergekit ignores unknown keys, so such a config still runs there).
 */
import { ConfigError } from "../core/errors.js";
import { didYouMean, unknownKeys } from "../core/suggest.js";
import { parseModelRef, type ModelRef, type OutDType } from "./mergekit-config.js";
import { parseYamlFile } from "./yaml.js";

/**
 * How router rows are initialised. `hidden` = `hidden_last` (the prompt's last token, as
 * mergekit-moe does), `hidden_avg` averages over the prompt's tokens, `cheap_embed` averages
 * token embeddings, `random` is standard normal, `uniform_random` is torch.nn.Linear's default.
 */
export const GATE_MODES = ["hidden", "hidden_avg", "hidden_last", "cheap_embed", "random", "uniform_random"] as const;
export type GateMode = (typeof GATE_MODES)[number];

/** Where attention, norms and embeddings come from: the base model, or the experts' mean (BTX). */
export type NonExpertSource = "base" | "average";

export interface MoeExpert {
  model: ModelRef;
  positivePrompts: string[];
  negativePrompts: string[];
  /** Standard deviation of Gaussian noise added to the expert's matrices (seeded). */
  noiseScale?: number;
  /** Factor on the expert's down projection (its contribution to the residual stream). */
  residualScale?: number;
}

export interface MoeConfig {
  baseModel: ModelRef;
  experts: MoeExpert[];
  gateMode: GateMode;
  dtype?: OutDType;
  expertsPerToken: number;
  nonExpert: NonExpertSource;
  /** The YAML text, recorded in the output's README. */
  text: string;
}

const DTYPES: Record<string, OutDType> = {
  float32: "float32", fp32: "float32", float: "float32",
  float16: "float16", fp16: "float16", half: "float16",
  bfloat16: "bfloat16", bf16: "bfloat16",
};
const TOP_KEYS = ["base_model", "experts", "gate_mode", "dtype", "experts_per_token", "shared_experts", "architecture", "cogen_non_expert"];
const EXPERT_KEYS = ["source_model", "positive_prompts", "negative_prompts", "noise_scale", "residual_scale"];

/** Parse and validate the YAML text; `source` names the file in messages. */
export function parseMoeConfig(text: string, source = "config"): MoeConfig {
  const { doc, locate: at } = parseYamlFile(text, source, "a mergekit-moe config");
  const problems: string[] = [];
  const raw = doc.toJS() as unknown;
  if (!isRecord(raw)) throw new ConfigError(["the config must be a YAML mapping with base_model and experts"], source);
  problems.push(...unknownKeys(raw, TOP_KEYS, "key", (key) => at([key])));

  const ref = (value: unknown, path: (string | number)[]): ModelRef | undefined => {
    if (typeof value === "string" && value.trim()) return parseModelRef(value.trim());
    if (isRecord(value) && typeof value.model === "string") {
      const lora = value.lora;
      return { text: value.model + (typeof lora === "string" ? "+" + lora : ""), path: value.model, ...(typeof lora === "string" ? { lora } : {}) };
    }
    problems.push(`${at(path)}: expected a model path (a string)`);
    return undefined;
  };
  const prompts = (value: unknown, path: (string | number)[]): string[] => {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value) || !value.every((p) => typeof p === "string" && p.length > 0)) {
      problems.push(`${at(path)}: expected a list of non-empty strings`);
      return [];
    }
    return value as string[];
  };
  const number = (value: unknown, path: (string | number)[]): number | undefined => {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "number" || !Number.isFinite(value)) {
      problems.push(`${at(path)}: expected a finite number`);
      return undefined;
    }
    return value;
  };

  const baseModel = raw.base_model === undefined ? (problems.push("base_model: missing (the model whose attention, norms and embeddings the mixture keeps)"), undefined) : ref(raw.base_model, ["base_model"]);

  let gateMode: GateMode = "hidden";
  if (raw.gate_mode !== undefined) {
    if (typeof raw.gate_mode === "string" && (GATE_MODES as readonly string[]).includes(raw.gate_mode)) gateMode = raw.gate_mode as GateMode;
    else problems.push(`${at(["gate_mode"])}: unknown gate mode ${JSON.stringify(raw.gate_mode)}${typeof raw.gate_mode === "string" ? didYouMean(raw.gate_mode, GATE_MODES) : ""} (valid: ${GATE_MODES.join(", ")})`);
  }

  let dtype: OutDType | undefined;
  if (raw.dtype !== undefined && raw.dtype !== null) {
    dtype = typeof raw.dtype === "string" ? DTYPES[raw.dtype] : undefined;
    if (!dtype) problems.push(`${at(["dtype"])}: unknown dtype ${JSON.stringify(raw.dtype)} (valid: float32, float16, bfloat16)`);
  }

  let expertsPerToken = 2;
  if (raw.experts_per_token !== undefined) {
    const v = raw.experts_per_token;
    if (typeof v === "number" && Number.isInteger(v) && v >= 1) expertsPerToken = v;
    else problems.push(`${at(["experts_per_token"])}: expected an integer >= 1, got ${JSON.stringify(v)}`);
  }

  let nonExpert: NonExpertSource = "base";
  if (raw.cogen_non_expert !== undefined) {
    if (raw.cogen_non_expert === "base" || raw.cogen_non_expert === "average") nonExpert = raw.cogen_non_expert;
    else problems.push(`${at(["cogen_non_expert"])}: expected base or average, got ${JSON.stringify(raw.cogen_non_expert)}`);
  }

  if (raw.shared_experts !== undefined && raw.shared_experts !== null && !(Array.isArray(raw.shared_experts) && raw.shared_experts.length === 0)) {
    problems.push(`${at(["shared_experts"])}: shared experts are not supported: the output is a Mixtral model, which has none (mergekit-moe refuses them for Mixtral too)`);
  }
  if (raw.architecture !== undefined && raw.architecture !== null && String(raw.architecture).toLowerCase() !== "mixtral") {
    problems.push(`${at(["architecture"])}: only the mixtral output architecture is supported, got ${JSON.stringify(raw.architecture)}`);
  }

  const experts: MoeExpert[] = [];
  if (!Array.isArray(raw.experts) || raw.experts.length === 0) {
    problems.push(`${raw.experts === undefined ? "experts" : at(["experts"])}: must be a non-empty list of {source_model, positive_prompts}`);
  } else {
    raw.experts.forEach((entry, i) => {
      const path = ["experts", i];
      if (!isRecord(entry)) return void problems.push(`${at(path)}: expected {source_model: PATH, positive_prompts: [...]}`);
      problems.push(...unknownKeys(entry, EXPERT_KEYS, "key", (k) => at([...path, k])));
      const model = entry.source_model === undefined ? (problems.push(`${at(path)}: missing source_model`), undefined) : ref(entry.source_model, [...path, "source_model"]);
      const positivePrompts = prompts(entry.positive_prompts, [...path, "positive_prompts"]);
      const negativePrompts = prompts(entry.negative_prompts, [...path, "negative_prompts"]);
      const noiseScale = number(entry.noise_scale, [...path, "noise_scale"]);
      const residualScale = number(entry.residual_scale, [...path, "residual_scale"]);
      if (noiseScale !== undefined && noiseScale < 0) problems.push(`${at([...path, "noise_scale"])}: must be >= 0`);
      if (gateMode !== "random" && gateMode !== "uniform_random" && positivePrompts.length === 0) {
        problems.push(`${at(path)}: gate_mode ${gateMode} needs positive_prompts for every expert (expert ${i} has none)`);
      }
      if (model) {
        experts.push({
          model, positivePrompts, negativePrompts,
          ...(noiseScale !== undefined ? { noiseScale } : {}), ...(residualScale !== undefined ? { residualScale } : {}),
        });
      }
    });
    if (expertsPerToken > raw.experts.length) {
      problems.push(`${at(["experts_per_token"])}: experts_per_token is ${expertsPerToken} but there are only ${raw.experts.length} experts`);
    }
    const usesPrompts = gateMode !== "random" && gateMode !== "uniform_random";
    const key = (e: MoeExpert) => JSON.stringify([e.positivePrompts, e.negativePrompts]);
    if (usesPrompts && experts.length > 1 && experts.length === raw.experts.length && experts.every((e) => key(e) === key(experts[0])) && experts[0].positivePrompts.length > 0) {
      problems.push("every expert has the same positive and negative prompts: the gates could not tell the experts apart");
    }
  }
  if (problems.length || !baseModel) throw new ConfigError(problems, source);
  return { baseModel, experts, gateMode, ...(dtype ? { dtype } : {}), expertsPerToken, nonExpert, text };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

