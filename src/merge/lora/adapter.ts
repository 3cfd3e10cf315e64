/**
 * PEFT LoRA adapters: `adapter_config.json` (r, lora_alpha, target_modules, use_rslora) and
 * `adapter_model.safetensors` with tensors named
 * `base_model.model.<module>.lora_A.weight` [r, in] and `…lora_B.weight` [out, r].
 * The update to `<module>.weight` is scale·B·A with scale = alpha/r (alpha/√r with rsLoRA).
 */
import * as path from "node:path";
import { InputFileError } from "../../core/errors.js";
import { f32ToBf16, f32ToF16 } from "../../core/half.js";
import type { TensorSource } from "../../core/tensor.js";
import { openSafetensors } from "../../formats/safetensors/index.js";
import { readJsonObject } from "../../core/json-file.js";

export const ADAPTER_CONFIG = "adapter_config.json";
export const ADAPTER_WEIGHTS = "adapter_model.safetensors";
export const PEFT_PREFIX = "base_model.model.";

export interface LoraModule {
  /** The base tensor the update applies to, e.g. model.layers.0.self_attn.q_proj.weight. */
  target: string;
  a: string;
  b: string;
  rank: number;
}

export interface LoraAdapter {
  dir: string;
  source: TensorSource;
  alpha: number;
  rank: number;
  scale: number;
  modules: Map<string, LoraModule>;
  config: Record<string, unknown>;
}

export function peftName(target: string, which: "A" | "B"): string {
  return `${PEFT_PREFIX}${target.replace(/\.weight$/, "")}.lora_${which}.weight`;
}

export async function openLoraAdapter(dir: string): Promise<LoraAdapter> {
  const cfgFile = path.join(dir, ADAPTER_CONFIG);
  const config = await readJsonObject(cfgFile, "a PEFT LoRA adapter folder needs adapter_config.json");
  const rank = config.r;
  const alpha = config.lora_alpha ?? rank;
  if (typeof rank !== "number" || !(rank > 0) || typeof alpha !== "number") throw new InputFileError(cfgFile, "needs a positive number r and a number lora_alpha");
  const source = await openSafetensors(path.join(dir, ADAPTER_WEIGHTS));
  const modules = new Map<string, LoraModule>();
  for (const info of source.list()) {
    const m = /^(?:base_model\.model\.)?(.+)\.lora_A(?:\.default)?\.weight$/.exec(info.name);
    if (!m) continue;
    const bName = info.name.replace(".lora_A", ".lora_B");
    const bInfo = source.info(bName);
    if (!bInfo) throw new InputFileError(source.path, `${info.name} has no matching ${bName}`);
    if (info.shape.length !== 2 || bInfo.shape.length !== 2 || bInfo.shape[1] !== info.shape[0]) {
      throw new InputFileError(source.path, `${info.name} [${info.shape}] and ${bName} [${bInfo.shape}] are not [r, in] and [out, r]`);
    }
    const target = `${m[1]}.weight`;
    modules.set(target, { target, a: info.name, b: bName, rank: info.shape[0] });
  }
  if (modules.size === 0) throw new InputFileError(source.path, "no lora_A/lora_B tensor pairs");
  const scale = config.use_rslora === true ? alpha / Math.sqrt(rank) : alpha / rank;
  return { dir, source, alpha, rank, scale, modules, config };
}

/** W += scale · B·A, with W [out, in], B [out, r], A [r, in]. */
export function addLowRank(w: Float32Array, b: Float32Array, a: Float32Array, out: number, inn: number, r: number, scale: number): void {
  const row = new Float64Array(inn);
  for (let o = 0; o < out; o++) {
    row.fill(0);
    for (let k = 0; k < r; k++) {
      const bk = b[o * r + k] * scale;
      if (bk === 0) continue;
      const off = k * inn;
      for (let i = 0; i < inn; i++) row[i] += bk * a[off + i];
    }
    const wo = o * inn;
    for (let i = 0; i < inn; i++) w[wo + i] += row[i];
  }
}

/**
 * A TensorSource that reads `base` with the adapter merged in: W + scale·B·A for every module the
 * adapter targets. Checks that every targeted tensor exists with matching shape.
 */
export function withLora(base: TensorSource, adapter: LoraAdapter): TensorSource {
  for (const mod of adapter.modules.values()) {
    const info = base.info(mod.target);
    const a = adapter.source.info(mod.a)!;
    const b = adapter.source.info(mod.b)!;
    if (!info) throw new InputFileError(adapter.source.path, `targets ${mod.target}, which ${base.path} does not have`);
    if (info.shape.length !== 2 || info.shape[0] !== b.shape[0] || info.shape[1] !== a.shape[1]) {
      throw new InputFileError(adapter.source.path, `${mod.target}: adapter shapes [${b.shape}]·[${a.shape}] do not fit the base's [${info.shape}]`);
    }
  }
  return {
    path: `${base.path}+${adapter.dir}`,
    list: () => base.list(),
    info: (name) => base.info(name),
    async readRaw(name, into) {
      // Targeted weights are stored in their own dtype with the update merged in.
      const mod = adapter.modules.get(name);
      if (!mod) return base.readRaw(name, into);
      const merged = await this.readF32(name);
      const dtype = base.info(name)!.dtype;
      const bytes = dtype === "BF16" ? f32ToBf16(merged) : dtype === "F16" ? f32ToF16(merged) : dtype === "F32" ? merged : undefined;
      if (!bytes) throw new InputFileError(base.path, `${name}: cannot store a LoRA-merged ${dtype} tensor`);
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    async readF32(name) {
      const w = await base.readF32(name);
      const mod = adapter.modules.get(name);
      if (!mod) return w;
      const info = base.info(name)!;
      const out = w.slice();
      addLowRank(out, await adapter.source.readF32(mod.b), await adapter.source.readF32(mod.a), info.shape[0], info.shape[1], mod.rank, adapter.scale);
      return out;
    },
    async close() {
      await adapter.source.close();
      await base.close();
    },
  };
}
