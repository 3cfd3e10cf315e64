/**
 * `cogen adapt compose` (LoraHub, Huang et al. 2023): a new expert from existing LoRA adapters
 * of one base and a handful of examples, without gradients. A weight wᵢ ∈ [−1.5, 1.5] per
 * adapter is searched by CMA-ES (adapt/cmaes.ts) to minimise the examples' bits per byte plus
 * λ·Σ|wᵢ|; every candidate is scored through llama.cpp with the adapters applied at runtime with
 * scales wᵢ (models/llamacpp/adapter-mix.ts), so no candidate is ever merged or written. Only the
 * winner is written: the weighted sum of the adapters' updates Σ wᵢ·sᵢ·BᵢAᵢ, exactly, as one
 * adapter of rank Σ rᵢ (A stacked, B side by side with each block scaled by wᵢ·sᵢ), in PEFT
 * and llama.cpp GGUF form.
 *
 * OUT (appears complete or not at all): adapter/ (PEFT), adapter.gguf, weights.json.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeDirAtomic } from "../core/atomic.js";
import { ConfigError, InputFileError } from "../core/errors.js";
import { exists, readTextFile } from "../core/files.js";
import { silentProgress, type Progress } from "../core/progress.js";
import { convertGgufToHf } from "../formats/convert/gguf-to-hf.js";
import { convertHfToGguf } from "../formats/convert/hf-to-gguf.js";
import { forEachJsonlObject } from "../formats/jsonl.js";
import { writeSafetensorsFile } from "../formats/safetensors/index.js";
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, openLoraAdapter, peftName, type LoraAdapter } from "../merge/lora/adapter.js";
import { writeLoraGguf } from "../merge/lora/gguf-adapter.js";
import { openAdapterMix, type ScoredText } from "../models/llamacpp/adapter-mix.js";
import { cmaesMinimize, defaultPopulation } from "./cmaes.js";

export interface ComposeOptions {
  /** The adapters' base: a Hugging Face folder or a GGUF file. */
  base: string;
  /** PEFT adapter folders (or expert folders holding one in lora/). */
  adapters: string[];
  /** JSONL: {"text"} (every byte scored) or {"input", "output"} (output scored after input). */
  examples: string;
  outDir: string;
  /** L1 penalty on the weights' mean absolute value (default 0.05, as LoraHub: 0.05 · Σ|w| / n). */
  l1?: number;
  /** Objective evaluations (default `defaultComposeEvaluations(adapters)`). */
  maxEvaluations?: number;
  /** Initial CMA-ES step size (default 0.5). */
  sigma0?: number;
  /** Weight bound (default 1.5). */
  bound?: number;
  seed?: number;
  progress?: Progress;
}

export interface ComposeReport {
  outDir: string;
  adapters: string[];
  weights: number[];
  /** Examples' bits per byte: the base (all weights 0), the uniform average (1/n each), the result. */
  examplesBpb: { base: number; uniform: number; composed: number };
  objective: number;
  evaluations: number;
  seconds: number;
  evaluationsPerSecond: number;
  files: string[];
}

/**
 * The default budget: 40 evaluations per adapter, at least 100. LoraHub runs a fixed 40 steps of
 * Nevergrad's NGOpt whatever the number of modules; CMA-ES spends whole generations of
 * 4 + ⌊3 ln n⌋ candidates, and the generations its step size and covariance need to adapt grow
 * with the dimension n, so the budget grows with the adapters (about 4n generations). On the zoo's
 * unseen domain with eight adapters, 100 evaluations beat the uniform average by only 1.4 SE and
 * 300 by 4.3 SE (README, "Adapt"; the goal asks for 2); this gives 320 there.
 */
export function defaultComposeEvaluations(adapters: number): number {
  return Math.max(100, 40 * adapters);
}

export async function composeAdapters(options: ComposeOptions): Promise<ComposeReport> {
  const l1 = options.l1 ?? 0.05;
  const bound = options.bound ?? 1.5;
  const maxEvaluations = options.maxEvaluations ?? defaultComposeEvaluations(options.adapters.length);
  const problems: string[] = [];
  if (options.adapters.length < 1) problems.push("give at least one adapter");
  if (!(l1 >= 0)) problems.push(`l1 must be ≥ 0 (got ${l1})`);
  if (!(bound > 0)) problems.push(`bound must be positive (got ${bound})`);
  if (!(Number.isSafeInteger(maxEvaluations) && maxEvaluations > 0)) problems.push(`maxEvaluations must be a positive integer (got ${maxEvaluations})`);
  else if (options.adapters.length >= 1 && maxEvaluations < defaultPopulation(options.adapters.length)) {
    // Fewer evaluations than one generation would search nothing and give back the base.
    problems.push(`maxEvaluations must be at least one CMA-ES generation: ${defaultPopulation(options.adapters.length)} candidates for ${options.adapters.length} adapters (got ${maxEvaluations})`);
  }
  if (problems.length) throw new ConfigError(problems, "adapt compose");
  const progress = options.progress ?? silentProgress;
  const examples = await readExamples(options.examples);
  const adapterDirs = await Promise.all(options.adapters.map(peftFolder));

  const work = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-compose-"));
  const opened: LoraAdapter[] = [];
  try {
    const { hf, gguf } = await baseForms(options.base, work);
    const runtimeAdapters: string[] = [];
    for (const [i, dir] of adapterDirs.entries()) {
      const file = path.join(work, `adapter-${i}.gguf`);
      await writeLoraGguf(dir, hf, file);
      runtimeAdapters.push(file);
    }
    const mix = await openAdapterMix(gguf, runtimeAdapters);
    const n = runtimeAdapters.length;
    let weights: number[];
    let evaluations = 0;
    let seconds = 0;
    let bpb: (w: number[]) => Promise<number>;
    try {
      bpb = async (w) => {
        const s = await mix.score(examples, w);
        return s.bits / s.bytes;
      };
      // LoraHub's penalty is on the MEAN |w|, so its pull does not grow with the number of adapters.
      const objective = async (w: number[]) => (await bpb(w)) + (l1 * w.reduce((s, v) => s + Math.abs(v), 0)) / n;
      const started = Date.now();
      progress.start("adapt compose", maxEvaluations, "evaluations");
      const result = await cmaesMinimize(
        async (w) => {
          const v = await objective(w);
          progress.tick(1, `objective ${v.toFixed(4)}`);
          return v;
        },
        { x0: Array(n).fill(0), sigma0: options.sigma0 ?? 0.5, seed: options.seed ?? 0, maxEvaluations, bounds: { lower: -bound, upper: bound } },
      );
      seconds = (Date.now() - started) / 1000;
      evaluations = result.evaluations;
      // The search's start (the base alone) is a candidate too: the result is never worse on the objective.
      const atStart = await objective(Array(n).fill(0));
      weights = result.bestValue <= atStart ? result.best : Array(n).fill(0);
      const best = Math.min(result.bestValue, atStart);
      progress.done(`${evaluations} evaluations, objective ${best.toFixed(4)}`);
      const examplesBpb = { base: await bpb(Array(n).fill(0)), uniform: await bpb(Array(n).fill(1 / n)), composed: await bpb(weights) };
      for (const dir of adapterDirs) opened.push(await openLoraAdapter(dir));
      const outDir = path.resolve(options.outDir);
      await writeDirAtomic(outDir, async (tmp) => {
        await writeComposedPeft(opened, weights, path.join(tmp, "adapter"), path.relative(path.join(outDir, "adapter"), hf));
        await writeLoraGguf(path.join(tmp, "adapter"), hf, path.join(tmp, "adapter.gguf"));
        const record = { adapters: options.adapters, weights, l1, examples: options.examples, examplesBpb, objective: best, evaluations, seed: options.seed ?? 0 };
        await fs.writeFile(path.join(tmp, "weights.json"), JSON.stringify(record, null, 2) + "\n");
      });
      return {
        outDir, adapters: options.adapters, weights, examplesBpb, objective: best, evaluations, seconds,
        evaluationsPerSecond: evaluations / Math.max(seconds, 1e-9), files: ["adapter", "adapter.gguf", "weights.json"],
      };
    } finally {
      await mix.close();
    }
  } finally {
    for (const a of opened) await a.source.close();
    await fs.rm(work, { recursive: true, force: true });
  }
}

/**
 * Σ wᵢ·sᵢ·BᵢAᵢ per module as one adapter: A = [A₁; A₂; …], B = [w₁s₁B₁, w₂s₂B₂, …]. Adapters
 * may adapt different modules or layers and have different ranks: a module's stack holds only the
 * adapters that adapt it, and every stack is padded with zero rows of A (zero columns of B) to
 * the largest one, r, so one PEFT `r` (alpha = r, scale 1) describes every module exactly — as
 * llama.cpp needs too, whose scale is one alpha over each tensor's rank.
 */
async function writeComposedPeft(adapters: LoraAdapter[], weights: number[], dir: string, baseModel: string): Promise<void> {
  const targets = [...new Set(adapters.flatMap((a) => [...a.modules.keys()]))].sort();
  const stacks: { target: string; parts: { a: Float32Array; b: Float32Array; r: number; inn: number; out: number; factor: number }[] }[] = [];
  for (const target of targets) {
    const parts: { a: Float32Array; b: Float32Array; r: number; inn: number; out: number; factor: number }[] = [];
    for (const [i, adapter] of adapters.entries()) {
      const mod = adapter.modules.get(target);
      if (!mod) continue;
      const [r, inn] = adapter.source.info(mod.a)!.shape;
      const [out] = adapter.source.info(mod.b)!.shape;
      parts.push({ a: await adapter.source.readF32(mod.a), b: await adapter.source.readF32(mod.b), r, inn, out, factor: weights[i] * adapter.scale });
    }
    const { inn, out } = parts[0];
    if (parts.some((p) => p.inn !== inn || p.out !== out)) throw new ConfigError([`the adapters disagree on the shape of ${target}: are they for one base?`], "adapt compose");
    stacks.push({ target, parts });
  }
  const rank = Math.max(...stacks.map((s) => s.parts.reduce((n, p) => n + p.r, 0)));
  const tensors: { name: string; dtype: "F32"; shape: number[]; data: Float32Array }[] = [];
  for (const { target, parts } of stacks) {
    const { inn, out } = parts[0];
    const a = new Float32Array(rank * inn);
    const b = new Float32Array(out * rank);
    let offset = 0;
    for (const p of parts) {
      a.set(p.a, offset * inn);
      for (let row = 0; row < out; row++) for (let k = 0; k < p.r; k++) b[row * rank + offset + k] = p.factor * p.b[row * p.r + k];
      offset += p.r;
    }
    tensors.push({ name: peftName(target, "A"), dtype: "F32", shape: [rank, inn], data: a });
    tensors.push({ name: peftName(target, "B"), dtype: "F32", shape: [out, rank], data: b });
  }
  const modules = [...new Set(targets.map((t) => /\.([a-z_]+)\.weight$/.exec(t)?.[1]).filter((m): m is string => !!m))];
  const config = {
    peft_type: "LORA", task_type: "CAUSAL_LM", base_model_name_or_path: baseModel.split(path.sep).join("/"),
    r: rank, lora_alpha: rank, lora_dropout: 0, target_modules: modules, bias: "none", fan_in_fan_out: false, use_rslora: false, inference_mode: true,
  };
  await fs.mkdir(dir, { recursive: true });
  await writeSafetensorsFile(path.join(dir, ADAPTER_WEIGHTS), tensors, { format: "pt" });
  await fs.writeFile(path.join(dir, ADAPTER_CONFIG), JSON.stringify(config, null, 2) + "\n");
}

async function peftFolder(dir: string): Promise<string> {
  if (await exists(path.join(dir, ADAPTER_CONFIG))) return dir;
  if (await exists(path.join(dir, "lora", ADAPTER_CONFIG))) return path.join(dir, "lora");
  if (await exists(path.join(dir, "adapter", ADAPTER_CONFIG))) return path.join(dir, "adapter");
  throw new InputFileError(dir, "is not a PEFT adapter folder (no adapter_config.json here or in lora/ or adapter/)");
}

/** The base as an HF folder (for adapter shapes) and a GGUF file (for llama.cpp). */
async function baseForms(base: string, work: string): Promise<{ hf: string; gguf: string }> {
  if (!(await exists(base))) throw new InputFileError(base, "no such file or folder (give a Hugging Face folder or a GGUF file)");
  if ((await fs.stat(base)).isDirectory()) {
    const sibling = path.join(path.dirname(base), "model.gguf");
    // The zoo keeps base/hf next to base/model.gguf; anything else is converted once.
    if (path.basename(base) === "hf" && (await exists(sibling))) return { hf: base, gguf: sibling };
    const gguf = path.join(work, "base.gguf");
    await convertHfToGguf(base, gguf, { dtype: "f32" });
    return { hf: base, gguf };
  }
  const hf = path.join(work, "base-hf");
  await convertGgufToHf(base, hf, { dtype: "f32" });
  return { hf, gguf: base };
}

export async function readExamples(file: string): Promise<ScoredText[]> {
  const text = await readTextFile(file);
  const out: ScoredText[] = [];
  forEachJsonlObject(text, file, 'with "text" or "input" and "output"', (record, line) => {
    if (typeof record.text === "string" && record.text !== "") out.push({ context: "", target: record.text });
    else if (typeof record.input === "string" && typeof record.output === "string" && record.output !== "") out.push({ context: record.input, target: record.output });
    else throw new InputFileError(file, 'needs a non-empty string "text", or strings "input" and a non-empty "output"', line);
  });
  if (out.length === 0) throw new InputFileError(file, "has no examples");
  return out;
}
