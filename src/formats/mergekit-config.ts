/**
 * mergekit's YAML merge configuration (`mergekit-yaml CONFIG.yml`), parsed strictly. Every problem
 * found is collected, with the YAML line where known, and reported at once as a ConfigError.
 * The merge layer passes its method table (src/merge/config.ts), so a misspelt method or
 * parameter fails before any file is read while this format module stays below merge.
 */
import { ConfigError } from "../core/errors.js";
import { didYouMean, unknownKeys } from "../core/suggest.js";
import { parseYamlDocuments, parseYamlFile, type YamlFile } from "./yaml.js";

/** What the parser needs to know of a merge method: its name and its parameters' names. */
export interface MethodSignature {
  name: string;
  params: readonly { name: string }[];
}

/** A parameter as written: scalar, gradient (list of numbers) or conditional list. */
export type ParamSetting = number | boolean | string | number[] | ConditionalParam[];
export interface ConditionalParam {
  filter?: string;
  value: number | boolean | string | number[];
}
export type Params = Record<string, ParamSetting>;

/** `path` or `path+lora_path` (a LoRA adapter applied to the model first). */
export interface ModelRef {
  text: string;
  path: string;
  lora?: string;
}

export interface SourceSlice {
  model: ModelRef;
  layerRange: [number, number];
  parameters: Params;
}

export interface OutputSlice {
  sources: SourceSlice[];
  baseModel?: ModelRef;
  parameters: Params;
}

export interface InputModel {
  model: ModelRef;
  parameters: Params;
}

export type OutDType = "float32" | "float16" | "bfloat16";

export interface MergeConfig {
  /** mergekit-multi: the merge's name, by which later merges of the same file refer to its output. */
  name?: string;
  mergeMethod: string;
  baseModel?: ModelRef;
  models?: InputModel[];
  slices?: OutputSlice[];
  parameters: Params;
  dtype?: OutDType;
  outDtype?: OutDType;
  /** "base", "union", or a model reference. */
  tokenizerSource?: "base" | "union" | ModelRef;
  chatTemplate?: string;
  /** The YAML text, recorded in the output's README. */
  text: string;
}

export interface ParsedConfig {
  config: MergeConfig;
  warnings: string[];
}

const DTYPES: Record<string, OutDType> = {
  float32: "float32", fp32: "float32", float: "float32",
  float16: "float16", fp16: "float16", half: "float16",
  bfloat16: "bfloat16", bf16: "bfloat16",
};
const TOP_KEYS = ["merge_method", "base_model", "models", "slices", "parameters", "dtype", "out_dtype", "tokenizer_source", "tokenizer", "chat_template", "modules", "name"];

export function parseModelRef(text: string): ModelRef {
  const plus = text.indexOf("+");
  if (plus > 0) return { text, path: text.slice(0, plus), lora: text.slice(plus + 1) };
  return { text, path: text };
}

/** Parse and validate the YAML text against `methods`; `source` names the file in messages. */
export function parseMergekitConfig(text: string, methods: readonly MethodSignature[], source = "config"): ParsedConfig {
  return parseMergeDocument(parseYamlFile(text, source, "a merge config"), text, methods, source);
}

/** True when the text holds several YAML documents (a mergekit-multi file). */
export function isMultiMergeConfig(text: string, source = "config"): boolean {
  return parseYamlDocuments(text, source).length > 1;
}

/**
 * A mergekit-multi file: several merge configs separated by `---`, each checked as
 * `parseMergekitConfig` checks one (a document's problems are prefixed with its number).
 * Names (and references between the merges) are checked by the merge layer.
 */
export function parseMergekitMulti(text: string, methods: readonly MethodSignature[], source = "config"): ParsedConfig[] {
  const docs = parseYamlDocuments(text, source);
  const problems: string[] = [];
  const out: ParsedConfig[] = [];
  docs.forEach((file, i) => {
    const range = file.doc.range;
    const docText = text.slice(range[0], range[2]);
    try {
      out.push(parseMergeDocument(file, docText, methods, source));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems.map((p) => `document ${i + 1}: ${p}`));
    }
  });
  if (problems.length) throw new ConfigError(problems, source);
  return out;
}

function parseMergeDocument(file: YamlFile, text: string, methods: readonly MethodSignature[], source: string): ParsedConfig {
  const methodNames = () => methods.map((m) => m.name);
  const findMethod = (name: string) => methods.find((m) => m.name === name);
  const { doc, locate: at } = file;
  const problems: string[] = [];
  const warnings: string[] = [];
  const raw = doc.toJS() as unknown;
  if (!isRecord(raw)) throw new ConfigError(["the config must be a YAML mapping with at least merge_method and models or slices"], source);

  problems.push(...unknownKeys(raw, TOP_KEYS, "key", (key) => at([key])));

  let mergeMethod = "";
  const m = raw.merge_method;
  if (typeof m !== "string") problems.push(`merge_method: missing (one of ${methodNames().join(", ")})`);
  else if (!findMethod(m)) {
    problems.push(`${at(["merge_method"])}: unknown method '${m}'${didYouMean(m, methodNames())}; valid methods: ${methodNames().join(", ")}`);
  } else mergeMethod = m;

  const ref = (value: unknown, path: (string | number)[]): ModelRef | undefined => {
    if (typeof value === "string" && value.trim()) return parseModelRef(value.trim());
    if (isRecord(value) && typeof value.model === "string") {
      const lora = value.lora;
      return { text: String(value.model) + (typeof lora === "string" ? "+" + lora : ""), path: String(value.model), ...(typeof lora === "string" ? { lora } : {}) };
    }
    problems.push(`${at(path)}: expected a model path (a string)`);
    return undefined;
  };

  const params = (value: unknown, path: (string | number)[]): Params => {
    if (value === undefined || value === null) return {};
    if (!isRecord(value)) {
      problems.push(`${at(path)}: parameters must be a mapping of name → value`);
      return {};
    }
    const out: Params = {};
    for (const [name, setting] of Object.entries(value)) {
      const checked = checkSetting(setting, [...path, name]);
      if (checked !== undefined) out[name] = checked;
    }
    return out;
  };

  const checkSetting = (v: unknown, path: (string | number)[]): ParamSetting | undefined => {
    if (typeof v === "number" || typeof v === "boolean" || typeof v === "string") return v;
    if (Array.isArray(v)) {
      if (v.length === 0) {
        problems.push(`${at(path)}: an empty list is not a value`);
        return undefined;
      }
      if (v.every((e) => typeof e === "number")) return v as number[];
      if (v.every((e) => isRecord(e))) {
        const conds: ConditionalParam[] = [];
        v.forEach((e, i) => {
          const rec = e as Record<string, unknown>;
          problems.push(...unknownKeys(rec, ["filter", "value"], "key of a conditional parameter", (k) => at([...path, i, k])));
          if (rec.filter !== undefined && typeof rec.filter !== "string") problems.push(`${at([...path, i, "filter"])}: filter must be a string`);
          const value = rec.value;
          if (value === undefined) problems.push(`${at([...path, i])}: missing value`);
          else if (typeof value === "number" || typeof value === "boolean" || typeof value === "string" || (Array.isArray(value) && value.length > 0 && value.every((x) => typeof x === "number"))) {
            conds.push({ ...(typeof rec.filter === "string" ? { filter: rec.filter } : {}), value: value as ConditionalParam["value"] });
          } else problems.push(`${at([...path, i, "value"])}: value must be a number, boolean or list of numbers`);
        });
        return conds;
      }
      problems.push(`${at(path)}: a list must be all numbers (a gradient) or all {filter, value} entries`);
      return undefined;
    }
    problems.push(`${at(path)}: expected a number, a gradient list or a list of {filter, value}`);
    return undefined;
  };

  const baseModel = raw.base_model === undefined || raw.base_model === null ? undefined : ref(raw.base_model, ["base_model"]);

  let models: InputModel[] | undefined;
  let slices: OutputSlice[] | undefined;
  if (raw.modules !== undefined) problems.push(`${at(["modules"])}: 'modules' (multi-module architectures) is not supported; use models or slices`);
  if (raw.models !== undefined && raw.slices !== undefined) problems.push("give either models or slices, not both");
  if (raw.models === undefined && raw.slices === undefined) problems.push("missing models (or slices): nothing to merge");
  if (raw.models !== undefined) {
    if (!Array.isArray(raw.models) || raw.models.length === 0) problems.push(`${at(["models"])}: must be a non-empty list`);
    else {
      models = [];
      raw.models.forEach((entry, i) => {
        if (!isRecord(entry)) return void problems.push(`${at(["models", i])}: expected {model: PATH, parameters: {...}}`);
        problems.push(...unknownKeys(entry, ["model", "parameters"], "key", (k) => at(["models", i, k])));
        const model = ref(entry.model, ["models", i, "model"]);
        const p = params(entry.parameters, ["models", i, "parameters"]);
        if (model) models!.push({ model, parameters: p });
      });
    }
  }
  if (raw.slices !== undefined) {
    if (!Array.isArray(raw.slices) || raw.slices.length === 0) problems.push(`${at(["slices"])}: must be a non-empty list`);
    else {
      slices = [];
      raw.slices.forEach((entry, i) => {
        if (!isRecord(entry)) return void problems.push(`${at(["slices", i])}: expected {sources: [...]}`);
        problems.push(...unknownKeys(entry, ["sources", "base_model", "parameters", "residual_weight"], "key", (k) => at(["slices", i, k])));
        if (entry.residual_weight !== undefined) problems.push(`${at(["slices", i, "residual_weight"])}: residual_weight is not supported`);
        if (!Array.isArray(entry.sources) || entry.sources.length === 0) return void problems.push(`${at(["slices", i])}: sources must be a non-empty list`);
        const sources: SourceSlice[] = [];
        entry.sources.forEach((s, j) => {
          const path = ["slices", i, "sources", j];
          if (!isRecord(s)) return void problems.push(`${at(path)}: expected {model: PATH, layer_range: [start, end]}`);
          problems.push(...unknownKeys(s, ["model", "layer_range", "parameters"], "key", (k) => at([...path, k])));
          const model = ref(s.model, [...path, "model"]);
          const lr = s.layer_range;
          let range: [number, number] | undefined;
          if (Array.isArray(lr) && lr.length === 2 && lr.every((x) => Number.isInteger(x) && x >= 0) && lr[0] < lr[1]) range = [lr[0], lr[1]];
          else problems.push(`${at([...path, "layer_range"])}: layer_range must be [start, end] with 0 <= start < end`);
          const p = params(s.parameters, [...path, "parameters"]);
          if (model && range) sources.push({ model, layerRange: range, parameters: p });
        });
        const lengths = new Set(sources.map((s) => s.layerRange[1] - s.layerRange[0]));
        if (lengths.size > 1) problems.push(`${at(["slices", i, "sources"])}: every source of a slice must cover the same number of layers (got ${[...lengths].join(", ")})`);
        const base = entry.base_model === undefined ? undefined : ref(entry.base_model, ["slices", i, "base_model"]);
        slices!.push({ sources, ...(base ? { baseModel: base } : {}), parameters: params(entry.parameters, ["slices", i, "parameters"]) });
      });
    }
  }

  const dtype = (key: "dtype" | "out_dtype"): OutDType | undefined => {
    const v = raw[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === "string" && DTYPES[v.toLowerCase()]) return DTYPES[v.toLowerCase()];
    problems.push(`${at([key])}: unsupported dtype '${String(v)}' (valid: float32, float16, bfloat16)`);
    return undefined;
  };

  let tokenizerSource: MergeConfig["tokenizerSource"];
  let tsValue = raw.tokenizer_source;
  if (raw.tokenizer !== undefined) {
    if (tsValue !== undefined) problems.push("give either tokenizer_source or tokenizer, not both");
    if (!isRecord(raw.tokenizer)) problems.push(`${at(["tokenizer"])}: expected {source: ...}`);
    else {
      problems.push(...unknownKeys(raw.tokenizer, ["source"], "key (only tokenizer.source is supported)", (k) => at(["tokenizer", k])));
      tsValue = raw.tokenizer.source;
    }
  }
  if (tsValue !== undefined && tsValue !== null) {
    if (tsValue === "base" || tsValue === "union") tokenizerSource = tsValue;
    else if (typeof tsValue === "string") tokenizerSource = parseModelRef(tsValue);
    else problems.push(`${at(["tokenizer_source"])}: expected base, union or a model path`);
  }
  if (tokenizerSource === "base" && !baseModel) problems.push("tokenizer_source: base needs base_model");
  if (raw.chat_template !== undefined && typeof raw.chat_template !== "string") problems.push(`${at(["chat_template"])}: must be a string (a template name or Jinja text)`);

  if (raw.name !== undefined && (typeof raw.name !== "string" || !raw.name.trim())) problems.push(`${at(["name"])}: name must be a non-empty string`);
  const config: MergeConfig = {
    ...(typeof raw.name === "string" && raw.name.trim() ? { name: raw.name.trim() } : {}),
    mergeMethod,
    ...(baseModel ? { baseModel } : {}),
    ...(models ? { models } : {}),
    ...(slices ? { slices } : {}),
    parameters: params(raw.parameters, ["parameters"]),
    text,
  };
  const d = dtype("dtype");
  const od = dtype("out_dtype");
  if (d) config.dtype = d;
  if (od) config.outDtype = od;
  if (tokenizerSource) config.tokenizerSource = tokenizerSource;
  if (typeof raw.chat_template === "string") config.chatTemplate = raw.chat_template;

  // A parameter the method does not have: a misspelling of one it has is an error; any other
  // (another method's, or mergekit's extras such as int8_mask) is ignored as mergekit does, with a warning.
  const method = findMethod(mergeMethod);
  if (method) {
    const known = method.params.map((p) => p.name);
    const check = (p: Params, path: (string | number)[]) => {
      for (const name of Object.keys(p)) {
        if (known.includes(name)) continue;
        const hint = didYouMean(name, known);
        const message = `${at([...path, name])}: ${method.name} has no parameter '${name}'${hint}; known: ${known.join(", ") || "none"}`;
        if (hint) problems.push(message);
        else warnings.push(`${message}; ignored`);
      }
    };
    check(config.parameters, ["parameters"]);
    models?.forEach((mm, i) => check(mm.parameters, ["models", i, "parameters"]));
    slices?.forEach((s, i) => {
      check(s.parameters, ["slices", i, "parameters"]);
      s.sources.forEach((src, j) => check(src.parameters, ["slices", i, "sources", j, "parameters"]));
    });
  }
  if (problems.length) throw new ConfigError(problems, source);
  return { config, warnings };
}

/**
 * Evaluate a parameter for one tensor, as mergekit does: a scalar is itself; a list of numbers is
 * a gradient, interpolated piecewise-linearly at t ∈ [0, 1] (t = layer position within its slice);
 * a list of {filter, value} takes the first entry whose filter is a substring of the tensor name
 * (no filter or "*" matches everything), or undefined when none matches.
 */
export function evaluateSetting(setting: ParamSetting, tensorName: string, t: number): number | boolean | string | undefined {
  if (typeof setting !== "object") return setting;
  if (setting.length === 0) return undefined;
  if (typeof setting[0] === "number") {
    const g = setting as number[];
    const scaled = t * (g.length - 1);
    const i0 = Math.trunc(scaled);
    const i1 = Math.min(g.length - 1, i0 + 1);
    const frac = scaled - i0;
    return (1 - frac) * g[i0] + frac * g[i1];
  }
  for (const cond of setting as ConditionalParam[]) {
    if (cond.filter === undefined || cond.filter === "*" || (tensorName && tensorName.includes(cond.filter))) {
      return evaluateSetting(cond.value, tensorName, t);
    }
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
