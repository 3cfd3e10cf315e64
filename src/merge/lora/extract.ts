/**
 * `cogen lora extract`: a LoRA adapter approximating M − B. For every 2-D linear module inside the
 * transformer layers (q/k/v/o, gate/up/down projections), the truncated SVD D ≈ U·S·Vᵀ of rank r
 * gives lora_B = U·S [out, r] and lora_A = Vᵀ [r, in], with lora_alpha = r (scale 1), written as a
 * PEFT adapter. Embeddings, norms and the head are not part of the adapter.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { writeDirAtomic } from "../../core/atomic.js";
import { ConfigError } from "../../core/errors.js";
import { silentProgress, type Progress } from "../../core/progress.js";
import { openHfWeights, writeSafetensorsFile, type TensorData } from "../../formats/safetensors/index.js";
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, peftName } from "./adapter.js";
import { truncatedSvd } from "./svd.js";
import { tensorSeed } from "../plan.js";

export const LORA_TARGET = /\.layers\.\d+\.(?:self_attn|mlp)\.([a-z_]+_proj)\.weight$/;

export interface ExtractOptions {
  base: string;
  model: string;
  rank: number;
  outDir: string;
  seed?: number;
  progress?: Progress;
}

export interface ExtractReport {
  modules: number;
  rank: number;
  /** Mean over modules of ‖D − BA‖_F / ‖D‖_F. */
  meanRelativeError: number;
  files: string[];
}

export async function extractLora(options: ExtractOptions): Promise<ExtractReport> {
  if (!Number.isInteger(options.rank) || options.rank < 1) throw new ConfigError([`--rank must be a positive integer, got ${options.rank}`]);
  const base = await openHfWeights(options.base);
  const model = await openHfWeights(options.model);
  const progress = options.progress ?? silentProgress;
  try {
    const targets = base.list().filter((t) => LORA_TARGET.test(t.name) && t.shape.length === 2);
    const problems: string[] = [];
    for (const t of targets) {
      const m = model.info(t.name);
      if (!m) problems.push(`${options.model}: has no ${t.name}`);
      else if (m.shape.join() !== t.shape.join()) problems.push(`${t.name}: base [${t.shape}] vs model [${m.shape}]`);
    }
    if (targets.length === 0) problems.push(`${options.base}: no linear layer weights (…layers.N.self_attn|mlp.*_proj.weight) to extract`);
    if (problems.length) throw new ConfigError(problems, "lora extract");
    const tensors: TensorData[] = [];
    const modules = new Set<string>();
    let errSum = 0;
    progress.start("lora extract", targets.length, "modules");
    for (const t of targets) {
      const [rows, cols] = t.shape;
      const b = await base.readF32(t.name);
      const d = await model.readF32(t.name);
      for (let i = 0; i < d.length; i++) d[i] -= b[i];
      const r = Math.min(options.rank, rows, cols);
      const svd = truncatedSvd(d, rows, cols, r, { seed: tensorSeed(options.seed ?? 0, t.name) });
      const loraB = new Float32Array(rows * r);
      for (let i = 0; i < rows; i++) for (let c = 0; c < r; c++) loraB[i * r + c] = svd.u[i * r + c] * svd.s[c];
      const loraA = Float32Array.from(svd.vt);
      errSum += relativeError(d, loraB, loraA, rows, cols, r);
      tensors.push({ name: peftName(t.name, "A"), dtype: "F32", shape: [r, cols], data: loraA });
      tensors.push({ name: peftName(t.name, "B"), dtype: "F32", shape: [rows, r], data: loraB });
      modules.add(LORA_TARGET.exec(t.name)![1]);
      progress.tick(1);
    }
    progress.done();
    const config = {
      peft_type: "LORA", task_type: "CAUSAL_LM", base_model_name_or_path: path.resolve(options.base),
      r: options.rank, lora_alpha: options.rank, lora_dropout: 0, bias: "none", fan_in_fan_out: false,
      use_rslora: false, target_modules: [...modules].sort(), inference_mode: true,
    };
    await writeDirAtomic(options.outDir, async (dir) => {
      await writeSafetensorsFile(path.join(dir, ADAPTER_WEIGHTS), tensors, { format: "pt" });
      await fs.writeFile(path.join(dir, ADAPTER_CONFIG), JSON.stringify(config, null, 2) + "\n");
    });
    return { modules: targets.length, rank: options.rank, meanRelativeError: errSum / targets.length, files: [ADAPTER_WEIGHTS, ADAPTER_CONFIG] };
  } finally {
    await base.close();
    await model.close();
  }
}

function relativeError(d: Float32Array, b: Float32Array, a: Float32Array, rows: number, cols: number, r: number): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let v = 0;
      for (let c = 0; c < r; c++) v += b[i * r + c] * a[c * cols + j];
      const x = d[i * cols + j];
      num += (x - v) ** 2;
      den += x * x;
    }
  }
  return den > 0 ? Math.sqrt(num / den) : 0;
}
