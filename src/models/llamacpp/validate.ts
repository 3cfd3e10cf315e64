/**
 * Validate a GGUF file before llama.cpp loads it: llama.cpp aborts the whole process on some
 * malformed files, so cogen's strict reader must accept the file and, for a model,
 * `assertLoadableByLlamaCpp` must find nothing llama.cpp would choke on.
 */
import { BackendError, CogenError } from "../../core/errors.js";
import { vocabFromMetadata } from "../../formats/convert/gguf-metadata.js";
import { assertLoadableByLlamaCpp } from "../../formats/gguf/llama-check.js";
import { openGguf } from "../../formats/gguf/reader.js";
import type { GgufVocab } from "../../formats/hf/tokenizer.js";

/**
 * `kind` "adapter" (a LoRA) is checked by the reader only: it has no vocabulary or
 * hyperparameters. Returns the vocabulary size (`tokenizer.ggml.tokens`, 0 when absent) and the
 * vocabulary itself where its tokenizer model is one cogen decodes (`gpt2`, `llama`).
 */
export async function validateGgufForLlamaCpp(file: string, kind: "model" | "adapter" = "model"): Promise<{ size: number; vocab?: GgufVocab }> {
  try {
    const gguf = await openGguf(file);
    try {
      if (kind === "model") assertLoadableByLlamaCpp({ metadata: gguf.metadata, list: () => gguf.list(), alignment: gguf.alignment, path: file });
      const size = gguf.getArray("tokenizer.ggml.tokens")?.value.length ?? 0;
      const model = gguf.getString("tokenizer.ggml.model");
      return { size, vocab: size > 0 && (model === "gpt2" || model === "llama") ? vocabFromMetadata(gguf.metadata, file) : undefined };
    } finally {
      await gguf.close();
    }
  } catch (error) {
    if (CogenError.isInstance(error)) throw error;
    throw new BackendError("llamacpp", `${file}: cannot read: ${(error as Error).message}`);
  }
}

