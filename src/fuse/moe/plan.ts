/**
 * Checking a mixture-of-experts build before any tensor data is read: every input's config and
 * tensor listing against the base, LoRA experts against the base they were trained on, prompts
 * against the base's context. Every problem is collected and reported at once.
 */
import * as path from "node:path";
import { CogenError } from "../../core/errors.js";
import type { TensorInfo } from "../../core/tensor.js";
import { parseLlamaConfig, type LlamaConfig } from "../../formats/hf/config.js";
import type { ModelRef } from "../../formats/mergekit-config.js";
import type { MoeConfig } from "../../formats/moe-config.js";
import type { OpenedModel } from "../../merge/inputs.js";
import { llamaTensorShapes } from "../../zoo/random-llama.js";

/** Hyperparameters every expert must share with the base (the output has one attention stack). */
const SHARED: [keyof LlamaConfig, string][] = [
  ["hiddenSize", "hidden_size"], ["intermediateSize", "intermediate_size"], ["numLayers", "num_hidden_layers"],
  ["numHeads", "num_attention_heads"], ["numKvHeads", "num_key_value_heads"], ["headDim", "head_dim"],
  ["vocabSize", "vocab_size"], ["rmsNormEps", "rms_norm_eps"], ["ropeTheta", "rope_theta"],
];

/** The decoder families a Mixtral output can take its experts from (as mergekit-moe allows). */
const EXPERT_ARCHITECTURES = new Set(["LlamaForCausalLM", "MistralForCausalLM"]);

export function modelConfig(model: OpenedModel, problems: string[]): LlamaConfig | undefined {
  try {
    return parseLlamaConfig(model.configJson ?? {}, path.join(model.dir, "config.json"));
  } catch (e) {
    if (!(e instanceof CogenError)) throw e;
    problems.push(`${model.ref.text}: ${e.message}`);
    return undefined;
  }
}

/**
 * Problems with the inputs of `config`: architectures and shapes that differ from the base's,
 * missing tensors, LoRA experts on another base. Returns the base's config when it is usable.
 */
export function checkMoeInputs(
  config: MoeConfig,
  models: ReadonlyMap<string, OpenedModel>,
  baseDir: string,
  problems: string[],
): LlamaConfig | undefined {
  const base = models.get(config.baseModel.text)!;
  const baseConfig = modelConfig(base, problems);
  const expertModels = config.experts.map((e) => models.get(e.model.text)!);
  const configs = expertModels.map((m) => (m === base ? baseConfig : modelConfig(m, problems)));
  const all: [string, LlamaConfig | undefined][] = [[`base_model ${base.ref.text}`, baseConfig], ...configs.map((c, i): [string, LlamaConfig | undefined] => [`experts[${i}] ${expertModels[i].ref.text}`, c])];
  for (const [who, c] of all) {
    if (c && !EXPERT_ARCHITECTURES.has(c.architecture)) problems.push(`${who}: architecture ${c.architecture} cannot be a Mixtral expert (llama or mistral models only)`);
  }
  if (!baseConfig) return undefined;
  const architectures = new Set(all.map(([, c]) => c?.architecture).filter(Boolean));
  if (architectures.size > 1) problems.push(`the models have different architectures (${all.map(([who, c]) => `${who}: ${c?.architecture ?? "?"}`).join(", ")})`);
  configs.forEach((c, i) => {
    if (!c) return;
    const differ = SHARED.filter(([key]) => c[key] !== baseConfig[key]).map(([key, json]) => `${json} ${String(c[key])} (base: ${String(baseConfig[key])})`);
    if (differ.length) problems.push(`experts[${i}] ${expertModels[i].ref.text}: shape differs from the base model: ${differ.join(", ")}`);
  });

  const expected = llamaTensorShapes({ ...baseConfig, tieWordEmbeddings: !base.source.info("lm_head.weight") });
  const checkTensors = (who: string, list: TensorInfo[], names: (n: string) => boolean) => {
    const have = new Map(list.map((t) => [t.name, t]));
    const wrong = expected.filter((t) => names(t.name)).filter((t) => {
      const info = have.get(t.name);
      return !info || info.shape.join("x") !== t.shape.join("x");
    });
    if (wrong.length) {
      const shown = wrong.slice(0, 5).map((t) => (have.get(t.name) ? `${t.name} is [${have.get(t.name)!.shape.join(", ")}], expected [${t.shape.join(", ")}]` : `no ${t.name}`));
      problems.push(`${who}: ${shown.join("; ")}${wrong.length > 5 ? `; … and ${wrong.length - 5} more` : ""}`);
    }
  };
  checkTensors(`base_model ${base.ref.text}`, base.source.list(), () => true);
  expertModels.forEach((m, i) => {
    if (m !== base) checkTensors(`experts[${i}] ${m.ref.text}`, m.source.list(), (n) => config.nonExpert === "average" || n.includes(".mlp."));
  });

  // A LoRA expert only makes sense on the base it was trained on.
  const resolved = (ref: ModelRef) => path.resolve(baseDir, ref.path);
  config.experts.forEach((e, i) => {
    if (e.model.lora && (config.baseModel.lora || resolved(e.model) !== resolved(config.baseModel))) {
      problems.push(`experts[${i}] ${e.model.text}: a LoRA adapter on ${e.model.path}, but base_model is ${config.baseModel.text}; the base must be the model the experts were trained from`);
    }
  });
  return baseConfig;
}

/** Modules besides the feed-forward network that a LoRA expert's adapter changes (from its config). */
export function nonExpertModules(adapterConfig: Record<string, unknown> | undefined): string[] {
  const targets = adapterConfig?.target_modules;
  if (!Array.isArray(targets)) return [];
  return targets.filter((t): t is string => typeof t === "string" && !/^(gate_proj|up_proj|down_proj|mlp)$/.test(t));
}
