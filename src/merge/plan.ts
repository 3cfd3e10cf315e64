/**
 * Planning: a parsed config plus the tensor listings of its input models becomes one task per
 * output tensor (its inputs, evaluated parameters and shape). Pure and fast: it reads no tensor
 * data, so every config or shape problem is found, and reported together, before merging starts.
 */
import { elementCount, type DType, type TensorInfo } from "../core/tensor.js";
import { evaluateSetting, type MergeConfig, type ModelRef, type OutDType, type OutputSlice, type Params } from "../formats/mergekit-config.js";
import { findMethod } from "./methods/registry.js";
import type { MergeMethod, ParamValue } from "./methods/types.js";

export type OutTensorDType = "F32" | "F16" | "BF16";

export interface TensorInput {
  /** Model reference text (config's spelling), key into the opened inputs. */
  model: string;
  tensor: string;
}

export interface TensorTask {
  name: string;
  shape: number[];
  dtype: OutTensorDType;
  /** Embedding-like (rows indexed by token id): embed_tokens, lm_head. */
  embed: boolean;
  /** Position in its slice's layer gradient (0 for non-layer tensors). */
  t: number;
  inputs: TensorInput[];
  base?: TensorInput;
  modelParams: Record<string, ParamValue>[];
  global: Record<string, ParamValue>;
}

export interface MergePlan {
  method: MergeMethod;
  tasks: TensorTask[];
  /** Layers in the output (sum of slice lengths). */
  layers: number;
  /** The model whose config.json and tokenizer the output starts from. */
  reference: string;
  warnings: string[];
}

/** What planning needs to know about one input model. */
export interface ModelListing {
  tensors: TensorInfo[];
}

const LAYER = /^(.*?\.layers\.)(\d+)\.(.+)$/;
const EMBED = /(^|\.)(embed_tokens|lm_head|wte|embed_out)\.weight$/;
const SKIP = /\.rotary_emb\.inv_freq$/;
const OUT_DTYPES: Record<OutDType, OutTensorDType> = { float32: "F32", float16: "F16", bfloat16: "BF16" };

interface Source {
  ref: ModelRef;
  range: [number, number];
  parameters: Params;
}

export function layerCount(tensors: readonly TensorInfo[]): number {
  let max = -1;
  for (const t of tensors) {
    const m = LAYER.exec(t.name);
    if (m) max = Math.max(max, Number(m[2]));
  }
  return max + 1;
}

/** The width of a model's residual stream: the length of its final norm (or of any layer norm). */
export function hiddenSize(tensors: readonly TensorInfo[]): number | undefined {
  const norm = tensors.find((t) => /(^|\.)norm\.weight$/.test(t.name)) ?? tensors.find((t) => /layernorm\.weight$/.test(t.name));
  return norm?.shape.length === 1 ? norm.shape[0] : undefined;
}

/**
 * Build the plan. `listings` maps every model reference text in the config to its tensors;
 * `embedRows`, when given (tokenizer_source), is the number of rows of the output embeddings.
 * Throws nothing: problems come back in `problems` so the caller reports them with the inputs'.
 */
export function planMerge(
  config: MergeConfig,
  listings: ReadonlyMap<string, ModelListing>,
  embedRows?: number,
): { plan?: MergePlan; problems: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const method = findMethod(config.mergeMethod);
  if (!method) return { problems: [`unknown merge method '${config.mergeMethod}'`] };
  const listing = (ref: ModelRef) => listings.get(ref.text);
  const usesBase = method.base !== "unused";

  if (method.base === "required" && !config.baseModel && !(config.slices?.length && config.slices.every((s) => s.baseModel))) {
    problems.push(`${method.name} needs base_model`);
  }

  // Normalize `models` to one slice covering all layers (mergekit's normalize_config).
  let slices: { sources: Source[]; baseModel?: ModelRef; parameters: Params }[];
  if (config.models) {
    const sources: Source[] = [];
    for (const m of config.models) {
      const l = listing(m.model);
      if (l) sources.push({ ref: m.model, range: [0, layerCount(l.tensors)], parameters: m.parameters });
    }
    if (config.baseModel && usesBase && !config.models.some((m) => m.model.text === config.baseModel!.text)) {
      const l = listing(config.baseModel);
      if (l) sources.push({ ref: config.baseModel, range: [0, layerCount(l.tensors)], parameters: {} });
    }
    // Different widths: no choice of layers (slices) makes these mergeable in weight space.
    const widths = sources.map((s) => ({ who: s.ref.text, width: hiddenSize(listing(s.ref)!.tensors) }));
    if (new Set(widths.map((w) => w.width).filter((w) => w !== undefined)).size > 1) {
      problems.push(`the models are incompatible: their hidden sizes differ (${widths.map((w) => `${w.who}: ${w.width ?? "?"}`).join(", ")}), ` +
        "so they are not fine-tunes of one base and no weight-space merge applies; combine them with a router or an ensemble instead ('cogen unify' or a unified.yml for 'cogen serve')");
      return { problems };
    }
    const counts = new Set(sources.map((s) => s.range[1]));
    if (counts.size > 1) {
      problems.push(`the models have different numbers of layers (${sources.map((s) => `${s.ref.text}: ${s.range[1]}`).join(", ")}); use slices to choose layers`);
      return { problems };
    }
    slices = [{ sources, parameters: {} }];
  } else {
    slices = (config.slices ?? []).map((s: OutputSlice) => ({
      sources: s.sources.map((src) => ({ ref: src.model, range: src.layerRange, parameters: src.parameters })),
      ...(s.baseModel ? { baseModel: s.baseModel } : {}),
      parameters: s.parameters,
    }));
    slices.forEach((s, i) => s.sources.forEach((src, j) => {
      const l = listing(src.ref);
      if (!l) return;
      const n = layerCount(l.tensors);
      if (src.range[1] > n) problems.push(`slices[${i}].sources[${j}]: layer_range [${src.range.join(", ")}] is past the ${n} layers of ${src.ref.text}`);
    }));
  }
  if (problems.length || slices.length === 0 || slices[0].sources.length === 0) return { problems };

  const globalBase = config.baseModel;
  const referenceRef = globalBase && listing(globalBase) ? globalBase : slices[0].sources[0].ref;
  const reference = listing(referenceRef)!;
  const outDtype = config.outDtype ?? config.dtype;

  const missingParams = new Map<string, string>();
  const badParams = new Map<string, string>();
  const shapeProblems: string[] = [];
  const countProblems = new Set<string>();
  const tasks: TensorTask[] = [];

  const lookup = (name: string, slice: (typeof slices)[number], source: Source | undefined, tensorName: string, t: number): ParamValue | undefined => {
    const layers: (Params | undefined)[] = [source?.parameters, slice.parameters, config.parameters];
    for (const p of layers) {
      if (!p || !(name in p)) continue;
      const v = evaluateSetting(p[name], tensorName, t);
      if (v === undefined) continue;
      if (typeof v === "string") {
        badParams.set(name, `parameter '${name}': '${v}' is not a number or boolean`);
        return undefined;
      }
      return v;
    }
    return undefined;
  };

  const addTask = (outName: string, slice: (typeof slices)[number], inputNames: string[], t: number) => {
    const refInfo = reference.tensors.find((x) => x.name === outName) ?? listing(slice.sources[0].ref)!.tensors.find((x) => x.name === inputNames[0]);
    const baseRef = slice.baseModel ?? globalBase;
    const inputs: TensorInput[] = [];
    const params: Record<string, ParamValue>[] = [];
    let base: TensorInput | undefined;
    const shapes: { who: string; shape: number[] }[] = [];
    slice.sources.forEach((src, i) => {
      const info = listing(src.ref)?.tensors.find((x) => x.name === inputNames[i]);
      if (!info) {
        shapeProblems.push(`${src.ref.text}: has no tensor ${inputNames[i]} (needed for ${outName})`);
        return;
      }
      shapes.push({ who: src.ref.text, shape: info.shape });
      const input = { model: src.ref.text, tensor: inputNames[i] };
      if (usesBase && baseRef && src.ref.text === baseRef.text) {
        base = input;
        return;
      }
      inputs.push(input);
      const mp: Record<string, ParamValue> = {};
      for (const def of method.params) {
        if (!def.perModel) continue;
        const v = lookup(def.name, slice, src, inputNames[i], t);
        if (v === undefined) {
          if (def.required) missingParams.set(`${def.name}@${src.ref.text}`, `missing required parameter '${def.name}' for model ${src.ref.text} (first needed by ${outName})`);
          else if (def.default !== undefined) mp[def.name] = def.default;
        } else {
          checkRange(def.name, v, def.min, def.max, badParams);
          mp[def.name] = v;
        }
      }
      params.push(mp);
    });
    if (method.base === "required" && baseRef && !base) {
      countProblems.add(`base model ${baseRef.text} is not among the sources of a slice (needed by ${method.name})`);
    }
    const global: Record<string, ParamValue> = {};
    for (const def of method.params) {
      if (def.perModel) continue;
      const v = lookup(def.name, slice, undefined, outName, t);
      if (v === undefined) {
        if (def.required) missingParams.set(def.name, `missing required parameter '${def.name}' (first needed by ${outName})`);
        else if (def.default !== undefined) global[def.name] = def.default;
      } else {
        checkRange(def.name, v, def.min, def.max, badParams);
        global[def.name] = v;
      }
    }
    const min = method.models?.min ?? 0;
    const max = method.models?.max ?? Infinity;
    if (inputs.length < min || inputs.length > max) {
      countProblems.add(`${method.name} takes ${max === Infinity ? `at least ${min}` : min === max ? `${min}` : `${min} to ${max}`} model(s) besides the base per tensor, got ${inputs.length} (${inputs.map((x) => x.model).join(", ") || "none"})`);
    }
    const embed = EMBED.test(outName);
    let shape = refInfo ? [...refInfo.shape] : shapes[0]?.shape ?? [];
    const distinct = new Set(shapes.map((s) => s.shape.join("x")));
    if (distinct.size > 1) {
      const tail = new Set(shapes.map((s) => s.shape.slice(1).join("x")));
      if (embed && tail.size === 1 && shape.length === 2) {
        shape = [Math.min(...shapes.map((s) => s.shape[0])), shape[1]];
        if (embedRows === undefined) warnings.push(`${outName}: vocabularies differ (${shapes.map((s) => `${s.who}: ${s.shape[0]}`).join(", ")}); using the first ${shape[0]} rows (set tokenizer_source to merge by token)`);
      } else {
        shapeProblems.push(`${outName}: shapes differ (${shapes.map((s) => `${s.who}: [${s.shape.join(", ")}]`).join(", ")})`);
      }
    }
    if (embed && embedRows !== undefined && shape.length === 2) shape = [embedRows, shape[1]];
    const stored: DType | undefined = refInfo?.dtype;
    const dtype: OutTensorDType = outDtype ? OUT_DTYPES[outDtype] : stored === "F16" || stored === "BF16" || stored === "F32" ? stored : "F32";
    tasks.push({ name: outName, shape, dtype, embed, t, inputs, ...(base ? { base } : {}), modelParams: params, global });
  };

  const nonLayer = reference.tensors.filter((x) => !LAYER.test(x.name) && !SKIP.test(x.name));
  const pre = nonLayer.filter((x) => /embed_tokens|wte/.test(x.name));
  const post = nonLayer.filter((x) => !pre.includes(x));
  for (const info of pre) addTask(info.name, slices[0], slices[0].sources.map(() => info.name), 0);
  let outLayer = 0;
  for (const slice of slices) {
    const length = slice.sources[0].range[1] - slice.sources[0].range[0];
    for (let idx = 0; idx < length; idx++) {
      const t = length > 1 ? idx / (length - 1) : 1;
      const first = slice.sources[0];
      const layerIn = first.range[0] + idx;
      const suffixes = listing(first.ref)!.tensors
        .map((x) => LAYER.exec(x.name))
        .filter((m): m is RegExpExecArray => m !== null && Number(m[2]) === layerIn && !SKIP.test(m[0]));
      for (const m of suffixes) {
        const outName = `${m[1]}${outLayer}.${m[3]}`;
        addTask(outName, slice, slice.sources.map((s) => `${m[1]}${s.range[0] + idx}.${m[3]}`), t);
      }
      outLayer++;
    }
  }
  const last = slices[slices.length - 1];
  for (const info of post) addTask(info.name, last, last.sources.map(() => info.name), 0);

  problems.push(...countProblems, ...missingParams.values(), ...badParams.values(), ...dedupe(shapeProblems));
  if (tasks.length && tasks.every((x) => elementCount(x.shape) === 0)) problems.push("no tensors to merge");
  if (problems.length) return { problems };
  return { plan: { method, tasks, layers: outLayer, reference: referenceRef.text, warnings }, problems };
}

function checkRange(name: string, v: ParamValue, min: number | undefined, max: number | undefined, bad: Map<string, string>): void {
  if (typeof v !== "number") return;
  if (!Number.isFinite(v)) bad.set(name, `parameter '${name}' must be finite, got ${v}`);
  else if ((min !== undefined && v < min) || (max !== undefined && v > max)) bad.set(name, `parameter '${name}' must lie in [${min ?? "-∞"}, ${max ?? "∞"}], got ${v}`);
}

function dedupe(items: string[]): string[] {
  const unique = [...new Set(items)];
  return unique.length > 20 ? [...unique.slice(0, 20), `… and ${unique.length - 20} more`] : unique;
}

/** Per-tensor seed: the run's seed mixed with an FNV-1a hash of the tensor name. */
export function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return (h ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0;
}
