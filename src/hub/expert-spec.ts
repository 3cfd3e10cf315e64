/** A registered expert as the ExpertSpec that eval jobs and the gateway open. */
import { ConfigError } from "../core/errors.js";
import type { ExpertSpec } from "../formats/models-file.js";
import type { ExpertRecord } from "./store/store.js";

/** `base` resolves a LoRA expert's registered base expert. */
export function expertSpec(expert: ExpertRecord, base?: (id: string) => ExpertRecord | undefined): ExpertSpec {
  // A derived model's kind is a tag: it is how the composition policies recognise one.
  const common = { id: expert.id, domains: expert.domains, tags: expert.derived ? [expert.family, expert.derived] : [expert.family] };
  // llama.cpp: one thread per small model (the hub runs many).
  const local = { ...common, threads: 1 };
  const a = expert.artefact;
  switch (a.kind) {
    case "endpoint":
      return { ...common, backend: "openai", url: a.url!, model: a.model ?? expert.id };
    case "gguf":
      return { ...local, backend: "llamacpp", path: a.path! };
    case "lora": {
      const baseExpert = a.baseExpert ? base?.(a.baseExpert) : undefined;
      if (!baseExpert || baseExpert.artefact.kind !== "gguf") throw new ConfigError([`expert '${expert.id}': its LoRA base '${a.baseExpert}' is not a registered GGUF expert`]);
      return { ...local, backend: "llamacpp", path: baseExpert.artefact.path!, lora: { path: a.path!, scale: 1 } };
    }
    case "hf":
      throw new ConfigError([`expert '${expert.id}': an HF folder is registered but not served; convert it to GGUF (cogen convert) and register that`]);
  }
}
