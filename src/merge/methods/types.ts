import { CogenError } from "../../core/errors.js";
import type { Rng } from "../../core/rng.js";
import type { TaskVectorVariant } from "./task-vectors.js";

/** A parameter value as it appears in a merge config after evaluation for one tensor. */
export type ParamValue = number | boolean;

/**
 * A merge method's parameter, declared as data. `perModel` parameters are set for each input
 * model (weight, density); the others once per tensor (normalize, lambda, t).
 */
export interface ParamDef {
  name: string;
  perModel: boolean;
  required: boolean;
  default?: ParamValue;
  /** Allowed range for numbers, checked at planning time. */
  min?: number;
  max?: number;
}

/** How a method treats `base_model`. */
export type BaseRole = "required" | "optional" | "unused";

/** Everything a method needs to merge one tensor. All arrays have the same length. */
export interface MergeInput {
  /** The non-base input tensors, in config order. */
  tensors: Float32Array[];
  /** Per-model parameters, aligned with `tensors`. */
  modelParams: Record<string, ParamValue>[];
  /** The base model's tensor, when the method uses one and the config names one. */
  base?: Float32Array;
  global: Record<string, ParamValue>;
  /** Row-major shape of every tensor. */
  shape: readonly number[];
  /** Per-tensor random stream (DARE, DELLA). */
  rng: Rng;
}

export interface MergeMethod {
  name: string;
  /** One line for `--help` and error messages. */
  summary: string;
  base: BaseRole;
  /** Exact number of non-base models the method accepts, when fixed. */
  models?: { min: number; max?: number };
  params: ParamDef[];
  /**
   * True when every output element depends only on the same element of the inputs (given the
   * parameters): the executor may then merge a tensor in chunks, holding only the stored bytes.
   */
  elementwise?: boolean;
  /**
   * Set on the task-arithmetic family: the executor merges these in chunks too, with extra passes
   * for the whole-tensor statistics their sparsifiers need (chunked.ts).
   */
  taskVector?: TaskVectorVariant;
  /** Pure: reads its inputs, returns a new tensor. Throws `MethodError` on a degenerate input. */
  merge(input: MergeInput): Float32Array;
}

/** A degenerate numeric case the method cannot handle; the engine adds the tensor name. */
export class MethodError extends CogenError {
  override readonly name = "MethodError";
}

export function num(value: ParamValue | undefined, name: string): number {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  throw new MethodError(`parameter '${name}' is missing`);
}

export function bool(value: ParamValue | undefined): boolean {
  return value === true || (typeof value === "number" && value !== 0);
}
