/**
 * A PEFT LoRA adapter as a llama.cpp GGUF adapter (the layout llama.cpp's convert_lora_to_gguf.py
 * writes): metadata general.type = "adapter", adapter.type = "lora", adapter.lora.alpha; tensors
 * `blk.N.<part>.weight.lora_a` (row-major [r, in]) and `.lora_b` ([out, r]). For llama (not qwen2)
 * the q and k projections' rows are interleaved for llama.cpp's rotary embedding, so lora_b's
 * rows get the same permutation as the base weight's.
 */
import { InputFileError } from "../../core/errors.js";
import { GGUF_ARCHITECTURE, readLlamaConfig } from "../../formats/hf/config.js";
import { hfToGgufName, interleaveRotaryRows, rotaryHeads } from "../../formats/hf/llama-tensors.js";
import { writeGguf, type GgufWriteSummary } from "../../formats/gguf/writer.js";
import { ggufValue, type GgufValue } from "../../formats/gguf/values.js";
import { openLoraAdapter } from "./adapter.js";

export async function writeLoraGguf(adapterDir: string, baseDir: string, target: string): Promise<GgufWriteSummary> {
  const config = await readLlamaConfig(baseDir);
  const arch = GGUF_ARCHITECTURE[config.architecture];
  const adapter = await openLoraAdapter(adapterDir);
  try {
    const entries: { name: string; shape: number[]; read: () => Promise<Float32Array> }[] = [];
    for (const mod of adapter.modules.values()) {
      const gguf = hfToGgufName(mod.target);
      if (!gguf) throw new InputFileError(adapter.source.path, `${mod.target} has no GGUF name`);
      const a = adapter.source.info(mod.a)!;
      const b = adapter.source.info(mod.b)!;
      const heads = arch === "llama" ? rotaryHeads(gguf, config.numHeads, config.numKvHeads) : undefined;
      entries.push({ name: `${gguf}.lora_a`, shape: a.shape, read: () => adapter.source.readF32(mod.a) });
      entries.push({
        name: `${gguf}.lora_b`, shape: b.shape,
        read: async () => {
          const data = await adapter.source.readF32(mod.b);
          return heads ? interleaveRotaryRows(data, heads, b.shape[1]) : data;
        },
      });
    }
    const metadata: [string, GgufValue][] = [
      ["general.architecture", ggufValue.string(arch)],
      ["general.type", ggufValue.string("adapter")],
      ["adapter.type", ggufValue.string("lora")],
      // llama.cpp scales by alpha/r; scale·r also covers rsLoRA (scale = alpha/√r).
      ["adapter.lora.alpha", ggufValue.f32(adapter.scale * adapter.rank)],
    ];
    return await writeGguf(target, {
      metadata,
      plan: entries.map((e) => ({ name: e.name, dtype: "F32", shape: e.shape })),
      produce: async (t) => {
        const data = await entries[t.index].read();
        return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      },
    });
  } finally {
    await adapter.source.close();
  }
}
