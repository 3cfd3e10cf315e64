/** Open the LanguageModel an expert entry of a models file describes. */
import { promises as fs } from "node:fs";
import { ConfigError } from "../core/errors.js";
import type { LanguageModel } from "../core/language-model.js";
import type { ExpertSpec } from "../formats/models-file.js";
import type { GpuChoice } from "./llamacpp/runtime.js";
import { createOpenAIModel } from "./openai/model.js";
import { isFileMissing } from "../core/files.js";

export interface OpenModelOptions {
  /** llama.cpp: CPU (false, the default) or "auto". */
  gpu?: GpuChoice;
  /** Environment to read API keys from (default process.env). */
  env?: Record<string, string | undefined>;
  /** Injectable fetch for OpenAI-compatible backends. */
  fetch?: typeof globalThis.fetch;
}

export async function openModel(spec: ExpertSpec, options: OpenModelOptions = {}): Promise<LanguageModel> {
  if (spec.backend === "openai") {
    let apiKey: string | undefined;
    if (spec.apiKeyEnv) {
      apiKey = (options.env ?? process.env)[spec.apiKeyEnv];
      if (!apiKey) throw new ConfigError([`expert '${spec.id}': environment variable ${spec.apiKeyEnv} (api_key_env) is not set`]);
    }
    return createOpenAIModel({
      id: spec.id,
      model: spec.model ?? spec.id,
      baseUrl: spec.url!,
      apiKey,
      concurrency: spec.concurrency,
      timeoutMs: spec.timeoutMs,
      maxRetries: spec.maxRetries,
      chat: spec.chat,
      fetch: options.fetch,
    });
  }
  // Loaded lazily so that OpenAI-only runs never start llama.cpp.
  const { createLlamaCppModel } = await import("./llamacpp/model.js");
  return createLlamaCppModel({
    id: spec.id,
    path: spec.path!,
    lora: spec.lora,
    threads: spec.threads,
    contextSize: spec.contextSize,
    gpu: options.gpu,
  });
}

/** Rough resident size of an expert: its GGUF file (remote experts cost nothing here). */
export async function estimateModelBytes(spec: ExpertSpec): Promise<number> {
  if (spec.backend !== "llamacpp" || !spec.path) return 0;
  try {
    return (await fs.stat(spec.path)).size;
  } catch (error) {
    // A missing file costs nothing here; loading it reports the problem.
    if (isFileMissing(error)) return 0;
    throw error;
  }
}
