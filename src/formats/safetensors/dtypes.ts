import type { DType } from "../../core/tensor.js";

/**
 * The element types a safetensors file may hold in cogen, with their size in bytes. This table is
 * the single source of truth for the format's dtype names; anything not listed is rejected.
 */
export const DTYPE_SIZES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
} as const satisfies Partial<Record<DType, number>>;

export type SafetensorsDType = keyof typeof DTYPE_SIZES;

export function isSafetensorsDType(value: unknown): value is SafetensorsDType {
  return typeof value === "string" && Object.prototype.hasOwnProperty.call(DTYPE_SIZES, value);
}

/**
 * Bytes a tensor of `shape` and `dtype` occupies, computed with BigInt so that a hostile shape
 * cannot overflow; returns undefined when the result is not a safe integer.
 */
export function tensorByteLength(dtype: SafetensorsDType, shape: readonly number[]): number | undefined {
  let n = BigInt(DTYPE_SIZES[dtype]);
  for (const d of shape) n *= BigInt(d);
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : undefined;
}

/** A shape is an array of non-negative safe integers (an empty array is a scalar). */
export function isValidShape(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => Number.isSafeInteger(d) && d >= 0);
}
