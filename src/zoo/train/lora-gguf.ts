import { ConfigError } from "../../core/errors.js";
import { encodeTensor } from "../../formats/gguf/codec.js";
import { ggufValue } from "../../formats/gguf/values.js";
import { writeGguf, type GgufWriteSummary } from "../../formats/gguf/writer.js";
import { GGUF_ARCHITECTURE } from "../../formats/hf/config.js";
import { hfToGgufName, interleaveRotaryRows, rotaryHeads } from "../../formats/hf/llama-tensors.js";
import type { TrainModel } from "./model.js";

/**
 * A LoRA adapter as llama.cpp loads it at run time (`--lora`, node-llama-cpp's context `lora`),
 * laid out as llama.cpp's convert_lora_to_gguf.py writes it: `general.type = adapter`,
 * `adapter.type = lora`, `adapter.lora.alpha`, and per module `blk.N.<tensor>.weight.lora_a`
 * (row-major [r, in], not transposed) and `.lora_b` ([out, r]). The converter's q/k rotary
 * permutation moves rows of the output, so it applies to lora_b of attn_q and attn_k only.
 * llama.cpp scales the update by alpha / r (times the scale the user asks for).
 */
export async function exportLoraGguf(model: TrainModel, file: string): Promise<GgufWriteSummary> {
  const lora = model.lora;
  if (!lora) throw new ConfigError(["exportLoraGguf: the model has no LoRA adapters (train with lora: { rank, alpha })"]);
  const { config } = model;
  const arch = GGUF_ARCHITECTURE[config.architecture];
  const entries: { name: string; shape: number[]; data: () => Float32Array }[] = [];
  for (const [target, { a, b }] of lora.modules) {
    const base = hfToGgufName(target);
    if (!base) throw new ConfigError([`exportLoraGguf: no GGUF name for ${target}`]);
    const heads = arch === "llama" ? rotaryHeads(base, config.numHeads, config.numKvHeads) : undefined;
    entries.push({ name: `${base}.lora_a`, shape: a.shape, data: () => Float32Array.from(a.dataSync() as Float32Array) });
    entries.push({
      name: `${base}.lora_b`,
      shape: b.shape,
      data: () => {
        const values = Float32Array.from(b.dataSync() as Float32Array);
        return heads === undefined ? values : interleaveRotaryRows(values, heads, lora.rank);
      },
    });
  }
  const metadata: [string, ReturnType<typeof ggufValue.string>][] = [
    ["general.architecture", ggufValue.string(arch)],
    ["general.type", ggufValue.string("adapter")],
    ["adapter.type", ggufValue.string("lora")],
    ["adapter.lora.alpha", ggufValue.f32(lora.alpha)],
  ];
  return writeGguf(file, {
    metadata,
    plan: entries.map(({ name, shape }) => ({ name, shape, dtype: "F32" as const })),
    produce: async (tensor) => encodeTensor(entries[tensor.index].data(), "F32"),
  });
}
