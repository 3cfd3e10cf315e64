/**
 * `cogen lora apply`: merge a PEFT LoRA adapter into a base model's weights
 * (W + scale·B·A, scale = alpha/r), writing a full Hugging Face folder atomically.
 */
import * as path from "node:path";
import { writeDirAtomic } from "../../core/atomic.js";
import { f32ToBf16, f32ToF16 } from "../../core/half.js";
import { silentProgress, type Progress } from "../../core/progress.js";
import { TOKENIZER_FILES } from "../../formats/hf/config.js";
import { isSafetensorsDType, openHfWeights, writeSafetensorsSharded } from "../../formats/safetensors/index.js";
import { openLoraAdapter, withLora } from "./adapter.js";
import { copyFileIfPresent } from "../../core/files.js";

export interface ApplyOptions {
  base: string;
  adapter: string;
  outDir: string;
  maxShardBytes?: number;
  progress?: Progress;
}

export async function applyLora(options: ApplyOptions): Promise<{ modules: number; files: string[] }> {
  const base = await openHfWeights(options.base);
  const adapter = await openLoraAdapter(options.adapter).catch(async (e: unknown) => {
    await base.close();
    throw e;
  });
  const source = withLora(base, adapter);
  try {
    const list = source.list();
    const plan = list.map((t) => ({ name: t.name, dtype: isSafetensorsDType(t.dtype) && ["F32", "F16", "BF16"].includes(t.dtype) ? t.dtype : "F32" as const, shape: t.shape }));
    const files = await writeDirAtomic(options.outDir, async (dir) => {
      const result = await writeSafetensorsSharded(dir, plan, async (info) => {
        if (!adapter.modules.has(info.name) && info.dtype === base.info(info.name)!.dtype) return source.readRaw(info.name);
        const w = await source.readF32(info.name);
        if (info.dtype === "BF16") return f32ToBf16(w);
        if (info.dtype === "F16") return f32ToF16(w);
        return w;
      }, { maxShardBytes: options.maxShardBytes ?? 5e9, metadata: { format: "pt" }, progress: options.progress ?? silentProgress });
      // Side files the base lacks are not copied; a failed copy of one it has fails the apply.
      for (const name of ["config.json", ...TOKENIZER_FILES]) await copyFileIfPresent(path.join(options.base, name), path.join(dir, name));
      return result.files.map((f) => path.basename(f));
    });
    return { modules: adapter.modules.size, files };
  } finally {
    await source.close();
  }
}
