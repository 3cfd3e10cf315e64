/**
 * Runs one method on one tensor's data: shared by the main thread and the worker threads so both
 * give the same bytes (the RNG is seeded from the tensor, not from scheduling).
 */
import { Rng } from "../core/rng.js";
import { findMethod } from "./methods/registry.js";
import type { ParamValue } from "./methods/types.js";

export interface MethodJob {
  method: string;
  tensors: Float32Array[];
  base?: Float32Array;
  modelParams: Record<string, ParamValue>[];
  global: Record<string, ParamValue>;
  shape: number[];
  seed: number;
}

export function runMethod(job: MethodJob): Float32Array {
  const method = findMethod(job.method);
  if (!method) throw new Error(`unknown merge method ${job.method}`);
  return method.merge({
    tensors: job.tensors,
    ...(job.base ? { base: job.base } : {}),
    modelParams: job.modelParams,
    global: job.global,
    shape: job.shape,
    rng: new Rng(job.seed),
  });
}
