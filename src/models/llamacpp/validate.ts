/**
 * Validate a GGUF file before llama.cpp loads it: llama.cpp aborts the whole process on some
 * malformed files, so cogen's own strict reader must accept the file first.
 */
import { BackendError, CogenError } from "../../core/errors.js";
import { openGguf } from "../../formats/gguf/reader.js";

export async function validateGgufForLlamaCpp(file: string): Promise<void> {
  try {
    const gguf = await openGguf(file);
    await gguf.close();
  } catch (error) {
    if (CogenError.isInstance(error)) throw error;
    throw new BackendError("llamacpp", `${file}: cannot read: ${(error as Error).message}`);
  }
}
