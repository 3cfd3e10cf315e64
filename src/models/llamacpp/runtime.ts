/**
 * Shared llama.cpp state: one runtime per process (CPU by default) and one loaded base model per
 * GGUF file, reference-counted, so many LoRA experts over one base cost one base in memory.
 */
import type { Llama, LlamaModel } from "node-llama-cpp";
import { BackendError } from "../../core/errors.js";

export type GpuChoice = false | "auto";

const runtimes = new Map<string, Promise<Llama>>();

export function llamaRuntime(gpu: GpuChoice = false): Promise<Llama> {
  const key = String(gpu);
  let runtime = runtimes.get(key);
  if (!runtime) {
    runtime = (async () => {
      const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
      try {
        return await getLlama({ gpu, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
      } catch (error) {
        runtimes.delete(key);
        throw new BackendError("llamacpp", `cannot start llama.cpp (prebuilt binaries, gpu ${gpu}): ${(error as Error).message}`);
      }
    })();
    runtimes.set(key, runtime);
  }
  return runtime;
}

interface BaseEntry {
  model: Promise<LlamaModel>;
  refs: number;
}
const bases = new Map<string, BaseEntry>();

/** Load (or share) the base model of `file`; call `release` once when done with it. */
export async function acquireBaseModel(file: string, gpu: GpuChoice): Promise<{ model: LlamaModel; release: () => Promise<void> }> {
  const key = `${gpu}\u0000${file}`;
  let entry = bases.get(key);
  if (!entry) {
    const model = (async () => {
      const llama = await llamaRuntime(gpu);
      return llama.loadModel({ modelPath: file, gpuLayers: gpu === false ? 0 : "auto" });
    })();
    entry = { model, refs: 0 };
    bases.set(key, entry);
    // A failed load leaves the cache (so a retry loads again); callers awaiting it get the error.
    model.catch(() => bases.delete(key));
  }
  entry.refs++;
  let model: LlamaModel;
  try {
    model = await entry.model;
  } catch (error) {
    entry.refs--;
    throw new BackendError("llamacpp", `cannot load ${file}: ${(error as Error).message}`);
  }
  let released = false;
  const held = entry;
  return {
    model,
    async release() {
      if (released) return;
      released = true;
      held.refs--;
      if (held.refs === 0 && bases.get(key) === held) {
        bases.delete(key);
        await model.dispose();
      }
    },
  };
}

/** How many base models are loaded now (for tests of sharing). */
export function loadedBaseCount(): number {
  return bases.size;
}
