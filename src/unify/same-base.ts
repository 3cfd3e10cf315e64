import type { ExpertSpec } from "../formats/models-file.js";

/**
 * The experts a weight-space policy (merge, MoE) can combine: local (llama.cpp) experts that name
 * the same `base` in the models file, the base itself local too. The largest such group is used
 * (ties: the first base in file order); when there is none, `reason` says why, naming each
 * expert's base. An expert given as a GGUF plus a runtime LoRA adapter, without a `weights`
 * folder, cannot take part: the merge engines read one set of weights per model, and the GGUF
 * alone is its base, not the expert.
 */
export interface SameBaseGroup {
  base: ExpertSpec;
  experts: ExpertSpec[];
  /** Other groups of two or more, not combined (one weight-space model per policy and run). */
  others: { base: string; experts: string[] }[];
  /** Experts that name a base but are a runtime LoRA adapter without `weights`. */
  adapters: string[];
}

const isAdapterOnly = (e: ExpertSpec) => e.lora !== undefined && e.weights === undefined;

export function sameBaseGroup(experts: readonly ExpertSpec[]): { group?: SameBaseGroup; reason?: string } {
  const byId = new Map(experts.map((e) => [e.id, e]));
  const groups = new Map<string, ExpertSpec[]>();
  for (const e of experts) {
    if (e.base === undefined || e.backend !== "llamacpp" || isAdapterOnly(e)) continue;
    (groups.get(e.base) ?? groups.set(e.base, []).get(e.base)!).push(e);
  }
  const candidates = [...groups].filter(([base, members]) => members.length >= 2 && byId.get(base)?.backend === "llamacpp");
  if (candidates.length === 0) {
    const named = experts.map((e) => `${e.id} → ${e.base ?? "no base"}${e.backend !== "llamacpp" ? " (remote)" : isAdapterOnly(e) ? " (a LoRA adapter: give it `weights:`)" : ""}`).join(", ");
    const remoteBase = [...groups].filter(([base, m]) => m.length >= 2 && byId.get(base)?.backend !== "llamacpp").map(([base]) => base);
    return {
      reason: remoteBase.length
        ? `the base ${remoteBase.join(", ")} has no local weights (a weight-space model needs llama.cpp experts and base)`
        : `no two local experts name the same base in the models file (${named}); ${groups.size === 0
          ? "give each expert fine-tuned from a base that is in the file `base: ID`"
          : groups.size === 1 ? "a weight-space model combines two or more experts fine-tuned from one base, and one names it"
          : "weights fine-tuned from different bases cannot be combined"}`,
    };
  }
  candidates.sort((a, b) => b[1].length - a[1].length);
  const [[base, members], ...rest] = candidates;
  const adapters = experts.filter((e) => e.base !== undefined && e.backend === "llamacpp" && isAdapterOnly(e)).map((e) => e.id);
  return { group: { base: byId.get(base)!, experts: members, others: rest.map(([b, m]) => ({ base: b, experts: m.map((e) => e.id) })), adapters } };
}

/** The file a weight-space policy reads for an expert: its Hugging Face folder when given, else its GGUF. */
export function weightsOf(expert: ExpertSpec): string {
  return expert.weights ?? expert.path!;
}
