import { promises as fs } from "node:fs";
import * as path from "node:path";
import { exists, writeDirAtomic } from "../../core/atomic.js";
import { InputFileError } from "../../core/errors.js";
import { readHfWeightsF32, writeSafetensorsFile } from "../../formats/safetensors/index.js";
import type { AdamWState } from "./adamw.js";
import { tf } from "./backend.js";
import { exportHf, exportLora, PEFT_WEIGHTS_FILE } from "./export.js";
import { trainableVariables, type TrainModel } from "./model.js";
import type { BpeTokenizer } from "./tokenize.js";

/**
 * A training checkpoint is one folder, replaced atomically each time it is written:
 *   model/                 the weights as a Hugging Face folder (the frozen base for LoRA runs)
 *   adapter/               the PEFT adapter (LoRA runs only)
 *   optimizer.safetensors  AdamW moments `exp_avg.<name>` and `exp_avg_sq.<name>`, float32
 *   trainer_state.json     the step reached, the run's settings and the losses so far
 * Everything is stored in float32 exactly, so resuming continues bit for bit.
 */
export const TRAINER_STATE_FILE = "trainer_state.json";
const FORMAT = "cogen-trainer-checkpoint";

export interface TrainerState {
  /** Optimizer steps completed. */
  step: number;
  /** Settings that must match for a resume to continue the same run. */
  run: Record<string, unknown>;
  losses: number[];
  /** Further per-step series a trainer keeps (for example the parts of a composite loss). */
  metrics?: Record<string, number[]>;
}

export async function saveCheckpoint(dir: string, model: TrainModel, optimizer: AdamWState, state: TrainerState, tokenizer?: BpeTokenizer): Promise<void> {
  await writeDirAtomic(dir, async (tmp) => {
    await exportHf(model, path.join(tmp, "model"), { tokenizer, merge: false });
    if (model.lora) await exportLora(model, path.join(tmp, "adapter"));
    const tensors = [...trainableVariables(model)].flatMap(([name, p]) => [
      { name: `exp_avg.${name}`, dtype: "F32" as const, shape: p.shape, data: Float32Array.from(optimizer.m.get(name)!.dataSync() as Float32Array) },
      { name: `exp_avg_sq.${name}`, dtype: "F32" as const, shape: p.shape, data: Float32Array.from(optimizer.v.get(name)!.dataSync() as Float32Array) },
    ]);
    await writeSafetensorsFile(path.join(tmp, "optimizer.safetensors"), tensors);
    const json = { format: FORMAT, version: 1, step: state.step, run: state.run, losses: state.losses, ...(state.metrics ? { metrics: state.metrics } : {}) };
    await fs.writeFile(path.join(tmp, TRAINER_STATE_FILE), JSON.stringify(json, null, 2) + "\n");
  });
}

export interface LoadedCheckpoint {
  state: TrainerState;
  /** Base weights by Hugging Face name. */
  weights: Map<string, Float32Array>;
  /** Trainable tensors (LoRA factors by their names) for LoRA runs. */
  lora: Map<string, Float32Array>;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

/** True when `dir` holds a checkpoint (its trainer_state.json exists). */
export async function hasCheckpoint(dir: string): Promise<boolean> {
  return exists(path.join(dir, TRAINER_STATE_FILE));
}

export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const stateFile = path.join(dir, TRAINER_STATE_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(stateFile, "utf8"));
  } catch (error) {
    throw new InputFileError(stateFile, `cannot read the trainer state: ${(error as Error).message}`);
  }
  const obj = raw as Record<string, unknown>;
  if (typeof obj !== "object" || obj === null || obj.format !== FORMAT || obj.version !== 1) {
    throw new InputFileError(stateFile, `not a cogen trainer checkpoint (expected format "${FORMAT}", version 1)`);
  }
  if (typeof obj.step !== "number" || !Number.isSafeInteger(obj.step) || obj.step < 0) throw new InputFileError(stateFile, `"step" must be a non-negative integer`);
  if (typeof obj.run !== "object" || obj.run === null) throw new InputFileError(stateFile, `"run" must be an object`);
  if (!Array.isArray(obj.losses) || !obj.losses.every((l) => typeof l === "number")) throw new InputFileError(stateFile, `"losses" must be a list of numbers`);
  const metrics = obj.metrics;
  const series = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "number");
  if (metrics !== undefined && (typeof metrics !== "object" || metrics === null || !Object.values(metrics).every(series))) {
    throw new InputFileError(stateFile, `"metrics" must map names to lists of numbers`);
  }
  const state: TrainerState = { step: obj.step, run: obj.run as Record<string, unknown>, losses: obj.losses as number[], ...(metrics ? { metrics: metrics as Record<string, number[]> } : {}) };

  const weights = await readHfWeightsF32(path.join(dir, "model"));
  const adapterFile = path.join(dir, "adapter", PEFT_WEIGHTS_FILE);
  const lora = new Map<string, Float32Array>();
  if (await exists(adapterFile)) {
    for (const [name, values] of await readHfWeightsF32(adapterFile)) lora.set(name.replace(/^base_model\.model\./, ""), values);
  }
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [name, values] of await readHfWeightsF32(path.join(dir, "optimizer.safetensors"))) {
    const match = /^(exp_avg|exp_avg_sq)\.(.+)$/.exec(name);
    if (!match) throw new InputFileError(path.join(dir, "optimizer.safetensors"), `unexpected tensor ${name}`);
    (match[1] === "exp_avg" ? m : v).set(match[2], values);
  }
  return { state, weights, lora, m, v };
}

/** Put checkpointed values into a model and its optimizer (shapes were checked when the model was built). */
export function restoreCheckpoint(model: TrainModel, optimizer: AdamWState, loaded: LoadedCheckpoint, source: string): void {
  const params = trainableVariables(model);
  for (const [name, p] of params) {
    const m = loaded.m.get(name);
    const v = loaded.v.get(name);
    if (!m || !v) throw new InputFileError(source, `optimizer state lacks ${name}`);
    if (m.length !== p.size || v.length !== p.size) throw new InputFileError(source, `optimizer state for ${name} has the wrong size`);
    const values = model.lora ? loaded.lora.get(name) : undefined;
    if (model.lora && (!values || values.length !== p.size)) throw new InputFileError(source, `adapter lacks ${name} or has the wrong size`);
    tf.tidy(() => {
      optimizer.m.get(name)!.assign(tf.tensor(m, p.shape, "float32"));
      optimizer.v.get(name)!.assign(tf.tensor(v, p.shape, "float32"));
      if (values) p.assign(tf.tensor(values, p.shape, "float32"));
    });
  }
  optimizer.step = loaded.state.step;
}
