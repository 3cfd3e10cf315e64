/**
 * GGUF wire facts, in one place: magic, versions, metadata value type codes, ggml tensor type
 * codes with their block sizes and bytes per block. Everything else in formats/gguf reads these.
 * All multi-byte fields are little-endian.
 */
import type { DType } from "../../core/tensor.js";

/** "GGUF" as the first four bytes of the file. */
export const GGUF_MAGIC = new Uint8Array([0x47, 0x47, 0x55, 0x46]);
/** The version this module writes. */
export const GGUF_WRITE_VERSION = 3;
/** Versions this module reads (v1 used 32-bit counts and lengths and is rejected). */
export const GGUF_READ_VERSIONS: readonly number[] = [2, 3];
export const GGUF_DEFAULT_ALIGNMENT = 32;
export const GGUF_ALIGNMENT_KEY = "general.alignment";
export const GGUF_ARCHITECTURE_KEY = "general.architecture";
/** Tensors have between 1 and this many dimensions. */
export const GGUF_MAX_DIMS = 4;
/** Arrays nested deeper than this are rejected (a real file never nests more than once). */
export const GGUF_MAX_ARRAY_DEPTH = 8;
/** Fixed part of the header: magic u32, version u32, tensor count u64, metadata kv count u64. */
export const GGUF_FIXED_HEADER_BYTES = 24;

/** Metadata value type names, as this module spells them in typed records. */
export type GgufScalarType =
  | "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "bool" | "string" | "u64" | "i64" | "f64";
export type GgufValueType = GgufScalarType | "array";

/** Wire code of each metadata value type. */
export const GGUF_VALUE_TYPE_CODE: Readonly<Record<GgufValueType, number>> = {
  u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12,
};

/** Metadata value type by wire code (index = code). */
export const GGUF_VALUE_TYPE_BY_CODE: readonly GgufValueType[] = [
  "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
];

/** Bytes of fixed-size scalar types (string and array are variable). */
export const GGUF_SCALAR_BYTES: Readonly<Record<Exclude<GgufScalarType, "string">, number>> = {
  u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, u64: 8, i64: 8, f64: 8,
};

/** A ggml tensor type cogen can read (and, where `encodable`, write from float32). */
export interface GgmlTypeInfo {
  code: number;
  dtype: DType;
  /** Elements per block (1 for plain types). */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
  quantized: boolean;
}

function t(code: number, dtype: DType, blockSize: number, typeSize: number): GgmlTypeInfo {
  return { code, dtype, blockSize, typeSize, quantized: blockSize > 1 };
}

/** ggml tensor types cogen supports, by DType. */
export const GGML_TYPES: Readonly<Partial<Record<DType, GgmlTypeInfo>>> = {
  F32: t(0, "F32", 1, 4),
  F16: t(1, "F16", 1, 2),
  Q4_0: t(2, "Q4_0", 32, 2 + 16),
  Q4_1: t(3, "Q4_1", 32, 2 + 2 + 16),
  Q5_0: t(6, "Q5_0", 32, 2 + 4 + 16),
  Q5_1: t(7, "Q5_1", 32, 2 + 2 + 4 + 16),
  Q8_0: t(8, "Q8_0", 32, 2 + 32),
  IQ4_NL: t(20, "IQ4_NL", 32, 2 + 16),
  // K-quants (and IQ4_XS): super-blocks of 256 elements.
  Q2_K: t(10, "Q2_K", 256, 16 + 64 + 2 + 2),
  Q3_K: t(11, "Q3_K", 256, 32 + 64 + 12 + 2),
  Q4_K: t(12, "Q4_K", 256, 2 + 2 + 12 + 128),
  Q5_K: t(13, "Q5_K", 256, 2 + 2 + 12 + 32 + 128),
  Q6_K: t(14, "Q6_K", 256, 128 + 64 + 16 + 2),
  IQ4_XS: t(23, "IQ4_XS", 256, 2 + 2 + 4 + 128),
  I8: t(24, "I8", 1, 1),
  I16: t(25, "I16", 1, 2),
  I32: t(26, "I32", 1, 4),
  I64: t(27, "I64", 1, 8),
  F64: t(28, "F64", 1, 8),
  BF16: t(30, "BF16", 1, 2),
};

/** Supported types by wire code. */
export const GGML_TYPE_BY_CODE: ReadonlyMap<number, GgmlTypeInfo> = new Map(
  Object.values(GGML_TYPES).map((info) => [info.code, info]),
);

/** Names of ggml types that exist but cogen does not decode (for clear error messages). */
export const GGML_UNSUPPORTED_TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [9, "Q8_1"], [15, "Q8_K"], [16, "IQ2_XXS"], [17, "IQ2_XS"], [18, "IQ3_XXS"], [19, "IQ1_S"],
  [21, "IQ3_S"], [22, "IQ2_S"], [29, "IQ1_M"], [34, "TQ1_0"], [35, "TQ2_0"], [39, "MXFP4"],
]);

/** Types `encodeTensor` produces from float32. */
export const GGUF_ENCODABLE_DTYPES: readonly DType[] = [
  "F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K",
];

/** Round `n` up to a multiple of `alignment` (a power of two). */
export function alignUp(n: number, alignment: number): number {
  const rem = n % alignment;
  return rem === 0 ? n : n + alignment - rem;
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && n <= 2 ** 31 && (n & (n - 1)) === 0;
}
