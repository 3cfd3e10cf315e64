/**
 * The recipe of `cogen adapt evolve`: a merge (method, base, models, fixed parameters) and which
 * of its per-model numeric parameters are searched, within which bounds, for how many contiguous
 * groups of layers. A candidate (a point of the search space) renders to a plain mergekit YAML,
 * the same text a worker merges and `cogen merge` reproduces. Every problem of a recipe is
 * reported at once as a ConfigError.
 *
 *   merge_method: ties                 # any method with per-model numeric parameters
 *   base_model: zoo/a/base/hf          # paths relative to the recipe's folder
 *   models: [zoo/a/experts/law/hf, …]  # or {model: PATH} entries
 *   layer_groups: 2                    # contiguous layer groups with their own values (default 1)
 *   search:                            # the searched per-model parameters and their bounds
 *     weight: { min: 0, max: 1 }       # init: the starting value (default: the middle)
 *     density: { min: 0.1, max: 1, init: 0.5 }
 *   parameters: { normalize: true }    # fixed global parameters, copied to every candidate
 *   dtype: float32
 */
import * as path from "node:path";
import { ConfigError } from "../core/errors.js";
import { didYouMean, unknownKeys } from "../core/suggest.js";
import { parseYamlFile } from "../formats/yaml.js";
import { parseMergeConfig } from "../merge/config.js";
import { findMethod, methodNames } from "../merge/methods/registry.js";

export interface SearchedParam {
  name: string;
  min: number;
  max: number;
  init: number;
}

export interface EvolveRecipe {
  mergeMethod: string;
  /** Absolute paths. */
  baseModel?: string;
  models: string[];
  layerGroups: number;
  search: SearchedParam[];
  /** Fixed global parameters (scalars only). */
  parameters: Record<string, number | boolean | string>;
  dtype?: string;
}

const RECIPE_KEYS = ["merge_method", "base_model", "models", "layer_groups", "search", "parameters", "dtype"];
const BOUND_KEYS = ["min", "max", "init"];

/** Parse and check a recipe; relative model paths resolve against `baseDir`. */
export function parseEvolveRecipe(text: string, source = "recipe", baseDir = process.cwd()): EvolveRecipe {
  const { doc, locate: at } = parseYamlFile(text, source, "an evolve recipe");
  const raw = doc.toJS() as unknown;
  if (!isRecord(raw)) throw new ConfigError(["the recipe must be a YAML mapping with merge_method, models and search"], source);
  const problems: string[] = [...unknownKeys(raw, RECIPE_KEYS, "key", (key) => at([key]))];

  const method = typeof raw.merge_method === "string" ? findMethod(raw.merge_method) : undefined;
  if (typeof raw.merge_method !== "string") problems.push(`merge_method: missing (one of ${methodNames().join(", ")})`);
  else if (!method) problems.push(`${at(["merge_method"])}: unknown method '${raw.merge_method}'${didYouMean(raw.merge_method, methodNames())}`);

  const modelPath = (value: unknown, where: (string | number)[]): string | undefined => {
    const p = typeof value === "string" ? value : isRecord(value) && typeof value.model === "string" ? value.model : undefined;
    if (p === undefined || p.trim() === "") problems.push(`${at(where)}: expected a model path`);
    else if (p.includes("+")) problems.push(`${at(where)}: a model with a LoRA ('path+lora') cannot be evolved; merge the adapter first`);
    else return path.resolve(baseDir, p.trim());
    return undefined;
  };
  const baseModel = raw.base_model === undefined || raw.base_model === null ? undefined : modelPath(raw.base_model, ["base_model"]);
  if (method?.base === "required" && raw.base_model == null) problems.push(`base_model: ${method.name} needs the base model the experts were fine-tuned from`);
  const models: string[] = [];
  if (!Array.isArray(raw.models) || raw.models.length === 0) problems.push(`${at(["models"])}: must be a non-empty list of model paths`);
  else raw.models.forEach((m, i) => {
    const p = modelPath(m, ["models", i]);
    if (p) models.push(p);
  });

  let layerGroups = 1;
  if (raw.layer_groups !== undefined) {
    if (typeof raw.layer_groups === "number" && Number.isInteger(raw.layer_groups) && raw.layer_groups >= 1) layerGroups = raw.layer_groups;
    else problems.push(`${at(["layer_groups"])}: must be a positive integer (got ${JSON.stringify(raw.layer_groups)})`);
  }

  const search: SearchedParam[] = [];
  if (!isRecord(raw.search) || Object.keys(raw.search).length === 0) {
    problems.push(`${at(["search"])}: must map at least one per-model parameter to its bounds, e.g. weight: { min: 0, max: 1 }`);
  } else {
    const perModel = method?.params.filter((p) => p.perModel) ?? [];
    for (const [name, bounds] of Object.entries(raw.search)) {
      const where = ["search", name];
      const def = perModel.find((p) => p.name === name);
      if (method && !def) {
        const names = perModel.map((p) => p.name);
        problems.push(`${at(where)}: '${name}' is not a per-model parameter of ${method.name}${didYouMean(name, names)}${names.length ? ` (it has ${names.join(", ")})` : " (it has none to search)"}`);
        continue;
      }
      if (!isRecord(bounds)) {
        problems.push(`${at(where)}: expected { min, max } (and optionally init)`);
        continue;
      }
      problems.push(...unknownKeys(bounds, BOUND_KEYS, "key", (key) => at([...where, key])));
      const num = (key: string): number | undefined => {
        const v = bounds[key];
        if (v === undefined) return undefined;
        if (typeof v === "number" && Number.isFinite(v)) return v;
        problems.push(`${at([...where, key])}: must be a number (got ${JSON.stringify(v)})`);
        return undefined;
      };
      const min = num("min");
      const max = num("max");
      const init = num("init");
      if (bounds.min === undefined) problems.push(`${at(where)}: min is missing`);
      if (bounds.max === undefined) problems.push(`${at(where)}: max is missing`);
      if (min === undefined || max === undefined) continue;
      if (!(min < max)) {
        problems.push(`${at(where)}: min (${min}) must be below max (${max})`);
        continue;
      }
      if (def?.min !== undefined && min < def.min) problems.push(`${at([...where, "min"])}: ${name} of ${method!.name} cannot go below ${def.min} (got ${min})`);
      if (def?.max !== undefined && max > def.max) problems.push(`${at([...where, "max"])}: ${name} of ${method!.name} cannot go above ${def.max} (got ${max})`);
      if (init !== undefined && !(init >= min && init <= max)) problems.push(`${at([...where, "init"])}: init ${init} is outside [${min}, ${max}]`);
      search.push({ name, min, max, init: init ?? (min + max) / 2 });
    }
  }

  const parameters: EvolveRecipe["parameters"] = {};
  if (raw.parameters !== undefined && raw.parameters !== null) {
    if (!isRecord(raw.parameters)) problems.push(`${at(["parameters"])}: must be a mapping of name → value`);
    else for (const [name, v] of Object.entries(raw.parameters)) {
      if (typeof v === "number" || typeof v === "boolean" || typeof v === "string") parameters[name] = v;
      else problems.push(`${at(["parameters", name])}: a fixed parameter must be a number, boolean or string`);
    }
  }
  if (raw.dtype !== undefined && typeof raw.dtype !== "string") problems.push(`${at(["dtype"])}: must be a string (float32, float16, bfloat16)`);
  if (problems.length) throw new ConfigError(problems, source);

  const recipe: EvolveRecipe = { mergeMethod: method!.name, ...(baseModel ? { baseModel } : {}), models, layerGroups, search, parameters, ...(typeof raw.dtype === "string" ? { dtype: raw.dtype } : {}) };
  // What the merge engine would refuse (a missing base, an unknown fixed parameter, a bad dtype)
  // is found now, on the starting candidate, not after the first generation.
  try {
    parseMergeConfig(renderCandidate(recipe, initialPoint(recipe), Math.max(1, layerGroups)), source);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError(error.problems, source);
  }
  return recipe;
}

/** Coordinates searched: one per (model, searched parameter, layer group), in that nesting order. */
export function searchDimensions(recipe: EvolveRecipe): number {
  return recipe.models.length * recipe.search.length * recipe.layerGroups;
}

/** The starting point in the unit cube (each parameter's init mapped into [0, 1]). */
export function initialPoint(recipe: EvolveRecipe): number[] {
  return recipe.models.flatMap(() => recipe.search.flatMap((p) => Array<number>(recipe.layerGroups).fill((p.init - p.min) / (p.max - p.min))));
}

/** Values are written with 6 significant digits: the rendered text is what is merged and reproduced. */
const value = (p: SearchedParam, unit: number): number => Number((p.min + Math.min(1, Math.max(0, unit)) * (p.max - p.min)).toPrecision(6));

/**
 * The plain mergekit YAML of the candidate `x` (unit-cube coordinates) for a model of `layers`
 * layers. With several layer groups a parameter becomes a list of filtered values, one per layer
 * ("model.layers.N."); embeddings take the first group's value and the other non-layer tensors
 * (final norm, lm_head) the last group's, as mergekit gives pre- and post-layer tensors to the
 * first and last slice.
 */
export function renderCandidate(recipe: EvolveRecipe, x: readonly number[], layers: number): string {
  const groups = recipe.layerGroups;
  if (x.length !== searchDimensions(recipe)) throw new ConfigError([`a candidate has ${x.length} coordinates; the recipe searches ${searchDimensions(recipe)}`]);
  if (groups > layers) throw new ConfigError([`layer_groups is ${groups} but the models have ${layers} layers`]);
  const groupOf = (layer: number) => Math.floor((layer * groups) / layers);
  const lines = [`merge_method: ${recipe.mergeMethod}`];
  if (recipe.baseModel) lines.push(`base_model: ${JSON.stringify(recipe.baseModel)}`);
  lines.push("models:");
  let k = 0;
  for (const model of recipe.models) {
    lines.push(`  - model: ${JSON.stringify(model)}`, "    parameters:");
    for (const p of recipe.search) {
      const values = x.slice(k, k + groups).map((u) => value(p, u));
      k += groups;
      if (groups === 1) {
        lines.push(`      ${p.name}: ${values[0]}`);
        continue;
      }
      lines.push(`      ${p.name}:`);
      for (let layer = 0; layer < layers; layer++) lines.push(`        - { filter: "model.layers.${layer}.", value: ${values[groupOf(layer)]} }`);
      lines.push(`        - { filter: "embed_tokens", value: ${values[0]} }`, `        - { value: ${values[groups - 1]} }`);
    }
  }
  const fixed = Object.entries(recipe.parameters);
  if (fixed.length) {
    lines.push("parameters:");
    for (const [name, v] of fixed) lines.push(`  ${name}: ${JSON.stringify(v)}`);
  }
  if (recipe.dtype) lines.push(`dtype: ${recipe.dtype}`);
  return lines.join("\n") + "\n";
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
