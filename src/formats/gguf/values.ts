/**
 * GGUF metadata values as typed records, so a file read and written again keeps every value's
 * wire type: `{ type: "u32", value: 5 }`, `{ type: "array", itemType: "string", value: [...] }`.
 * 64-bit integers are bigint; everything else numeric is a JS number.
 */
import type { GgufScalarType } from "./constants.js";

export type GgufNumberType = "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "f64";
export type GgufBigIntType = "u64" | "i64";

export type GgufScalar =
  | { type: GgufNumberType; value: number }
  | { type: GgufBigIntType; value: bigint }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string };

export type GgufArray =
  | { type: "array"; itemType: GgufNumberType; value: number[] }
  | { type: "array"; itemType: GgufBigIntType; value: bigint[] }
  | { type: "array"; itemType: "bool"; value: boolean[] }
  | { type: "array"; itemType: "string"; value: string[] }
  | { type: "array"; itemType: "array"; value: GgufArray[] };

export type GgufValue = GgufScalar | GgufArray;

/** Ordered metadata, in file order. */
export type GgufMetadata = Map<string, GgufValue>;

/** Builders for typed values: `ggufValue.u32(5)`, `ggufValue.array("string", ["a"])`. */
export const ggufValue = {
  u8: (value: number): GgufValue => ({ type: "u8", value }),
  i8: (value: number): GgufValue => ({ type: "i8", value }),
  u16: (value: number): GgufValue => ({ type: "u16", value }),
  i16: (value: number): GgufValue => ({ type: "i16", value }),
  u32: (value: number): GgufValue => ({ type: "u32", value }),
  i32: (value: number): GgufValue => ({ type: "i32", value }),
  f32: (value: number): GgufValue => ({ type: "f32", value }),
  f64: (value: number): GgufValue => ({ type: "f64", value }),
  u64: (value: bigint | number): GgufValue => ({ type: "u64", value: BigInt(value) }),
  i64: (value: bigint | number): GgufValue => ({ type: "i64", value: BigInt(value) }),
  bool: (value: boolean): GgufValue => ({ type: "bool", value }),
  string: (value: string): GgufValue => ({ type: "string", value }),
  array: ((itemType: GgufScalarType | "array", value: unknown[]): GgufArray =>
    ({ type: "array", itemType, value }) as GgufArray) as {
    (itemType: GgufNumberType, value: number[]): GgufArray;
    (itemType: GgufBigIntType, value: bigint[]): GgufArray;
    (itemType: "bool", value: boolean[]): GgufArray;
    (itemType: "string", value: string[]): GgufArray;
    (itemType: "array", value: GgufArray[]): GgufArray;
  },
};

/** The string at `key`, or undefined when absent or not a string. */
export function getGgufString(metadata: GgufMetadata, key: string): string | undefined {
  const v = metadata.get(key);
  return v?.type === "string" ? v.value : undefined;
}

/**
 * The number at `key` (any integer or float type; 64-bit integers converted when they are exact
 * as a number), or undefined when absent, not numeric, or a 64-bit integer beyond 2^53.
 */
export function getGgufNumber(metadata: GgufMetadata, key: string): number | undefined {
  const v = metadata.get(key);
  if (!v || v.type === "string" || v.type === "array") return undefined;
  if (v.type === "bool") return undefined;
  if (v.type === "u64" || v.type === "i64") {
    const n = Number(v.value);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return v.value as number;
}

/** The array at `key`, or undefined when absent or not an array. */
export function getGgufArray(metadata: GgufMetadata, key: string): GgufArray | undefined {
  const v = metadata.get(key);
  return v?.type === "array" ? v : undefined;
}

/** A short description of a value for messages: `u32 5`, `array<string>[3]`. */
export function describeGgufValue(v: GgufValue): string {
  if (v.type === "array") return `array<${v.itemType}>[${v.value.length}]`;
  if (v.type === "string") return `string ${JSON.stringify(v.value.length > 40 ? v.value.slice(0, 40) + "…" : v.value)}`;
  return `${v.type} ${String(v.value)}`;
}
