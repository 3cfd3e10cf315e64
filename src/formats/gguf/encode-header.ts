/**
 * Serialize a GGUF v3 header (the mirror of header.ts) and validate what goes into it: every
 * metadata value in range for its wire type, tensor plans with 1..4 positive dimensions and whole
 * blocks per row, unique names, well-formed strings, a power-of-two `general.alignment`.
 */
import { elementCount, type DType } from "../../core/tensor.js";
import {
  GGML_TYPES, GGUF_ALIGNMENT_KEY, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_MAX_ARRAY_DEPTH, GGUF_MAX_DIMS,
  GGUF_SCALAR_BYTES, GGUF_VALUE_TYPE_CODE, GGUF_WRITE_VERSION, alignUp, isPowerOfTwo, type GgufValueType,
} from "./constants.js";
import type { GgufTensorInfo } from "./header.js";
import type { GgufValue } from "./values.js";

/** One tensor to write: row-major shape, stored dtype. */
export interface GgufTensorPlan {
  name: string;
  dtype: DType;
  shape: readonly number[];
}

const encoder = new TextEncoder();
const LONE_SURROGATE = /\p{Cs}/u;

const INT_RANGES: Partial<Record<GgufValueType, [number, number]>> = {
  u8: [0, 0xff], i8: [-0x80, 0x7f], u16: [0, 0xffff], i16: [-0x8000, 0x7fff], u32: [0, 0xffffffff], i32: [-0x80000000, 0x7fffffff],
};
const BIG_RANGES: Partial<Record<GgufValueType, [bigint, bigint]>> = {
  u64: [0n, 2n ** 64n - 1n], i64: [-(2n ** 63n), 2n ** 63n - 1n],
};

function scalarProblem(type: GgufValueType, v: unknown): string | undefined {
  const ints = INT_RANGES[type];
  if (ints) {
    return typeof v === "number" && Number.isInteger(v) && v >= ints[0] && v <= ints[1]
      ? undefined : `${String(v)} is not a ${type} (integer in ${ints[0]}..${ints[1]})`;
  }
  const bigs = BIG_RANGES[type];
  if (bigs) {
    return typeof v === "bigint" && v >= bigs[0] && v <= bigs[1] ? undefined : `${String(v)} is not a ${type} (a bigint in range)`;
  }
  if (type === "f32" || type === "f64") return typeof v === "number" ? undefined : `${String(v)} is not a number`;
  if (type === "bool") return typeof v === "boolean" ? undefined : `${String(v)} is not a boolean`;
  if (type === "string") {
    if (typeof v !== "string") return `${String(v)} is not a string`;
    return LONE_SURROGATE.test(v) ? "string is not well-formed Unicode (lone surrogate)" : undefined;
  }
  return `unknown value type '${type}'`;
}

function valueProblems(v: GgufValue, where: string, depth: number, out: string[]): void {
  if (v === null || typeof v !== "object" || !(v.type in GGUF_VALUE_TYPE_CODE)) {
    out.push(`${where}: not a typed GGUF value record`);
    return;
  }
  if (v.type !== "array") {
    const p = scalarProblem(v.type, v.value);
    if (p) out.push(`${where}: ${p}`);
    return;
  }
  if (depth >= GGUF_MAX_ARRAY_DEPTH) {
    out.push(`${where}: arrays nested deeper than ${GGUF_MAX_ARRAY_DEPTH} levels`);
    return;
  }
  if (!Array.isArray(v.value) || !(v.itemType in GGUF_VALUE_TYPE_CODE)) {
    out.push(`${where}: array needs an itemType and an array value`);
    return;
  }
  for (let i = 0; i < v.value.length && out.length < 50; i++) {
    const item = v.value[i];
    if (v.itemType === "array") valueProblems(item as GgufValue, `${where}[${i}]`, depth + 1, out);
    else {
      const p = scalarProblem(v.itemType, item);
      if (p) out.push(`${where}[${i}]: ${p}`);
    }
  }
}

/** Problems with metadata (empty list when it can be written). */
export function metadataProblems(entries: Iterable<[string, GgufValue]>): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const [key, value] of entries) {
    if (typeof key !== "string" || key.length === 0) out.push("metadata key must be a non-empty string");
    else if (LONE_SURROGATE.test(key)) out.push(`metadata key '${key}' is not well-formed Unicode`);
    if (seen.has(key)) out.push(`duplicate metadata key '${key}'`);
    seen.add(key);
    valueProblems(value, `metadata '${key}'`, 0, out);
    if (key === GGUF_ALIGNMENT_KEY && value && (value.type !== "u32" || !isPowerOfTwo(value.value))) {
      out.push(`${GGUF_ALIGNMENT_KEY} must be a u32 non-zero power of two`);
    }
  }
  return out;
}

/** Problems with a tensor plan (empty list when it can be written). */
export function planProblems(plan: readonly GgufTensorPlan[]): string[] {
  const out: string[] = [];
  const names = new Set<string>();
  plan.forEach((t, i) => {
    const label = `tensor ${i} '${t.name}'`;
    if (typeof t.name !== "string" || t.name.length === 0) out.push(`tensor ${i}: empty name`);
    else if (LONE_SURROGATE.test(t.name)) out.push(`${label}: name is not well-formed Unicode`);
    if (names.has(t.name)) out.push(`duplicate tensor name '${t.name}'`);
    names.add(t.name);
    const type = GGML_TYPES[t.dtype];
    if (!type) {
      out.push(`${label}: dtype ${t.dtype} has no GGUF tensor type`);
      return;
    }
    if (!Array.isArray(t.shape) || t.shape.length === 0 || t.shape.length > GGUF_MAX_DIMS) {
      out.push(`${label}: shape must have 1..${GGUF_MAX_DIMS} dimensions`);
      return;
    }
    if (t.shape.some((d) => !Number.isSafeInteger(d) || d <= 0)) {
      out.push(`${label}: shape [${t.shape.join(", ")}] must be positive integers`);
      return;
    }
    if (!Number.isSafeInteger(elementCount(t.shape))) out.push(`${label}: element count overflows`);
    const row = t.shape[t.shape.length - 1];
    if (row % type.blockSize !== 0) {
      out.push(`${label}: row length ${row} is not a multiple of the ${t.dtype} block size ${type.blockSize}`);
    }
  });
  return out;
}

/** Tensor infos with offsets relative to the data section, each aligned. */
export function layoutTensors(plan: readonly GgufTensorPlan[], alignment: number): GgufTensorInfo[] {
  let offset = 0;
  return plan.map((t) => {
    const type = GGML_TYPES[t.dtype]!;
    const count = elementCount(t.shape);
    const byteLength = (count / type.blockSize) * type.typeSize;
    const info: GgufTensorInfo = {
      name: t.name, dtype: t.dtype, shape: [...t.shape], byteLength,
      ne: [...t.shape].reverse(), ggmlType: type.code, offset,
    };
    offset = alignUp(offset + byteLength, alignment);
    return info;
  });
}

export function alignmentOf(metadata: Map<string, GgufValue>): number {
  const v = metadata.get(GGUF_ALIGNMENT_KEY);
  return v?.type === "u32" ? v.value : GGUF_DEFAULT_ALIGNMENT;
}

class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }

  u64(v: number | bigint): void {
    this.reserve(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }

  string(s: string): void {
    const b = encoder.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }

  scalar(type: Exclude<GgufValueType, "array" | "string">, v: number | bigint | boolean): void {
    const size = GGUF_SCALAR_BYTES[type];
    this.reserve(size);
    const p = this.length;
    const w = this.view;
    switch (type) {
      case "u8": w.setUint8(p, v as number); break;
      case "i8": w.setInt8(p, v as number); break;
      case "u16": w.setUint16(p, v as number, true); break;
      case "i16": w.setInt16(p, v as number, true); break;
      case "u32": w.setUint32(p, v as number, true); break;
      case "i32": w.setInt32(p, v as number, true); break;
      case "f32": w.setFloat32(p, v as number, true); break;
      case "f64": w.setFloat64(p, v as number, true); break;
      case "u64": w.setBigUint64(p, v as bigint, true); break;
      case "i64": w.setBigInt64(p, v as bigint, true); break;
      case "bool": w.setUint8(p, v ? 1 : 0); break;
    }
    this.length += size;
  }

  value(v: GgufValue): void {
    if (v.type === "string") this.string(v.value);
    else if (v.type === "array") {
      this.u32(GGUF_VALUE_TYPE_CODE[v.itemType]);
      this.u64(v.value.length);
      for (const item of v.value) {
        if (v.itemType === "array") this.value(item as GgufValue);
        else if (v.itemType === "string") this.string(item as string);
        else this.scalar(v.itemType, item as number | bigint | boolean);
      }
    } else this.scalar(v.type, v.value);
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/**
 * The header bytes up to (not including) the data section, padded to `alignment` when there are
 * tensors. Inputs must already be validated.
 */
export function encodeGgufHeader(metadata: Map<string, GgufValue>, tensors: readonly GgufTensorInfo[], alignment: number): Uint8Array {
  const w = new ByteWriter();
  w.bytes(GGUF_MAGIC);
  w.u32(GGUF_WRITE_VERSION);
  w.u64(tensors.length);
  w.u64(metadata.size);
  for (const [key, value] of metadata) {
    w.string(key);
    w.u32(GGUF_VALUE_TYPE_CODE[value.type]);
    w.value(value);
  }
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.ne.length);
    for (const d of t.ne) w.u64(d);
    w.u32(t.ggmlType);
    w.u64(t.offset);
  }
  if (tensors.length > 0) w.bytes(new Uint8Array(alignUp(w.length, alignment) - w.length));
  return w.result();
}
