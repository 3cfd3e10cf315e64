/**
 * Parse and validate a GGUF header (fixed header, metadata key/values, tensor infos) from the
 * first bytes of a file. Pure: the caller supplies a prefix of the file and its total size. When
 * the prefix is too short the parser throws `NeedMoreBytes` so the caller can read more and retry;
 * every size is checked against the file size before anything is allocated.
 */
import { InputFileError } from "../../core/errors.js";
import type { TensorInfo } from "../../core/tensor.js";
import {
  GGML_TYPE_BY_CODE, GGML_UNSUPPORTED_TYPE_NAMES, GGUF_ALIGNMENT_KEY, GGUF_DEFAULT_ALIGNMENT, GGUF_FIXED_HEADER_BYTES,
  GGUF_MAGIC, GGUF_MAX_ARRAY_DEPTH, GGUF_MAX_DIMS, GGUF_READ_VERSIONS, GGUF_SCALAR_BYTES, GGUF_VALUE_TYPE_BY_CODE,
  alignUp, isPowerOfTwo, type GgmlTypeInfo, type GgufValueType,
} from "./constants.js";
import type { GgufArray, GgufMetadata, GgufValue } from "./values.js";

/** A tensor as described in a GGUF file. `shape` is row-major; `ne` is GGUF's innermost-first. */
export interface GgufTensorInfo extends TensorInfo {
  /** GGUF dimension order: ne[0] is the innermost (contiguous) dimension. */
  ne: number[];
  /** ggml type code. */
  ggmlType: number;
  /** Byte offset of the data, relative to the start of the data section. */
  offset: number;
}

export interface GgufHeader {
  version: number;
  metadata: GgufMetadata;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute file offset where the data section starts. */
  dataOffset: number;
}

/** Thrown when the supplied prefix ends before the header does; `needed` is a byte count. */
export class NeedMoreBytes extends Error {
  constructor(readonly needed: number) {
    super(`need ${needed} bytes of header`);
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
/** Smallest possible encodings, for checking counts against the bytes left. */
const MIN_KV_BYTES = 8 + 4 + 1;
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8;

class Cursor {
  pos = 0;
  private readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly fileSize: number,
    readonly file: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(problem: string): InputFileError {
    return new InputFileError(this.file, problem);
  }

  get remaining(): number {
    return this.fileSize - this.pos;
  }

  need(n: number, what: string): void {
    const end = this.pos + n;
    if (end > this.fileSize) {
      throw this.fail(`truncated file: ${what} at byte ${this.pos} needs ${n} bytes but only ${this.remaining} remain`);
    }
    if (end > this.bytes.length) throw new NeedMoreBytes(end);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A u64 count or size that must fit in `limit` (bytes left, or a per-item bound). */
  count(what: string, perItem: number): number {
    const at = this.pos;
    const n = this.u64(what);
    if (n * BigInt(perItem) > BigInt(this.remaining)) {
      throw this.fail(`${what} ${n} at byte ${at} is impossible: ${n} × ${perItem} bytes exceeds the ${this.remaining} bytes left in the file`);
    }
    return Number(n);
  }

  string(what: string): string {
    const at = this.pos;
    const length = this.count(`length of ${what}`, 1);
    this.need(length, what);
    try {
      return decoder.decode(this.bytes.subarray(this.pos, this.pos + length));
    } catch {
      throw this.fail(`${what} at byte ${at} is not valid UTF-8`);
    } finally {
      this.pos += length;
    }
  }

  scalar(type: Exclude<GgufValueType, "array" | "string">, what: string): number | bigint | boolean {
    const size = GGUF_SCALAR_BYTES[type];
    this.need(size, what);
    const p = this.pos;
    this.pos += size;
    const v = this.view;
    switch (type) {
      case "u8": return v.getUint8(p);
      case "i8": return v.getInt8(p);
      case "u16": return v.getUint16(p, true);
      case "i16": return v.getInt16(p, true);
      case "u32": return v.getUint32(p, true);
      case "i32": return v.getInt32(p, true);
      case "f32": return v.getFloat32(p, true);
      case "f64": return v.getFloat64(p, true);
      case "u64": return v.getBigUint64(p, true);
      case "i64": return v.getBigInt64(p, true);
      case "bool": {
        const b = v.getUint8(p);
        if (b > 1) throw this.fail(`${what} at byte ${p} is a bool with value ${b} (must be 0 or 1)`);
        return b === 1;
      }
    }
  }
}

function valueType(c: Cursor, what: string): GgufValueType {
  const at = c.pos;
  const code = c.u32(`value type of ${what}`);
  const type = GGUF_VALUE_TYPE_BY_CODE[code];
  if (type === undefined) throw c.fail(`${what} has unknown value type ${code} at byte ${at} (known: 0..12)`);
  return type;
}

function readValue(c: Cursor, type: GgufValueType, what: string, depth: number): GgufValue {
  if (type === "string") return { type, value: c.string(what) };
  if (type === "array") return readArray(c, what, depth + 1);
  return { type, value: c.scalar(type, what) } as GgufValue;
}

function minBytes(type: GgufValueType): number {
  if (type === "string") return 8;
  if (type === "array") return 12;
  return GGUF_SCALAR_BYTES[type];
}

function readArray(c: Cursor, what: string, depth: number): GgufArray {
  if (depth > GGUF_MAX_ARRAY_DEPTH) throw c.fail(`${what} nests arrays deeper than ${GGUF_MAX_ARRAY_DEPTH} levels`);
  const itemType = valueType(c, `items of ${what}`);
  const n = c.count(`item count of ${what}`, minBytes(itemType));
  const items: unknown[] = new Array(n);
  if (itemType === "string") {
    for (let i = 0; i < n; i++) items[i] = c.string(`${what}[${i}]`);
  } else if (itemType === "array") {
    for (let i = 0; i < n; i++) items[i] = readArray(c, `${what}[${i}]`, depth + 1);
  } else {
    c.need(n * GGUF_SCALAR_BYTES[itemType], what);
    for (let i = 0; i < n; i++) items[i] = c.scalar(itemType, `${what}[${i}]`);
  }
  return { type: "array", itemType, value: items } as GgufArray;
}

function readTensorInfo(c: Cursor, index: number): GgufTensorInfo {
  const name = c.string(`name of tensor ${index}`);
  if (name.length === 0) throw c.fail(`tensor ${index} has an empty name`);
  const label = `tensor '${name}'`;
  const nDims = c.u32(`dimension count of ${label}`);
  if (nDims === 0 || nDims > GGUF_MAX_DIMS) {
    throw c.fail(`${label} has ${nDims} dimensions (must be 1..${GGUF_MAX_DIMS})`);
  }
  const ne: number[] = [];
  let count = 1;
  for (let d = 0; d < nDims; d++) {
    const size = c.u64(`dimension ${d} of ${label}`);
    if (size === 0n) throw c.fail(`${label} has a zero-sized dimension ${d}`);
    if (size > MAX_SAFE || count * Number(size) > Number.MAX_SAFE_INTEGER) {
      throw c.fail(`${label} element count overflows (dimension ${d} is ${size})`);
    }
    ne.push(Number(size));
    count *= Number(size);
  }
  const typeAt = c.pos;
  const code = c.u32(`type of ${label}`);
  const type = GGML_TYPE_BY_CODE.get(code);
  if (!type) {
    const known = GGML_UNSUPPORTED_TYPE_NAMES.get(code);
    throw c.fail(known
      ? `${label} has ggml type ${known} (${code}), which cogen does not support`
      : `${label} has unknown ggml type ${code} at byte ${typeAt}`);
  }
  const offset = c.u64(`data offset of ${label}`);
  if (offset > MAX_SAFE) throw c.fail(`${label} has data offset ${offset} beyond the file`);
  return {
    name,
    dtype: type.dtype,
    shape: [...ne].reverse(),
    byteLength: byteLengthOf(c, label, type, ne, count),
    ne,
    ggmlType: code,
    offset: Number(offset),
  };
}

function byteLengthOf(c: Cursor, label: string, type: GgmlTypeInfo, ne: number[], count: number): number {
  if (ne[0] % type.blockSize !== 0) {
    throw c.fail(`${label}: row length ${ne[0]} is not a multiple of the ${type.dtype} block size ${type.blockSize}`);
  }
  return (count / type.blockSize) * type.typeSize;
}

function readAlignment(c: Cursor, metadata: GgufMetadata): number {
  const v = metadata.get(GGUF_ALIGNMENT_KEY);
  if (v === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (v.type !== "u32") throw c.fail(`${GGUF_ALIGNMENT_KEY} must be a u32, found ${v.type}`);
  if (!isPowerOfTwo(v.value)) throw c.fail(`${GGUF_ALIGNMENT_KEY} is ${v.value}; it must be a non-zero power of two`);
  return v.value;
}

function checkLayout(c: Cursor, tensors: GgufTensorInfo[], alignment: number, dataOffset: number): void {
  for (const t of tensors) {
    if (t.offset % alignment !== 0) {
      throw c.fail(`tensor '${t.name}' data offset ${t.offset} is not a multiple of the alignment ${alignment}`);
    }
    const end = dataOffset + t.offset + t.byteLength;
    if (end > c.fileSize) {
      throw c.fail(`tensor '${t.name}' data (${t.byteLength} bytes at data offset ${t.offset}) ends at byte ${end}, past the end of the file (${c.fileSize} bytes)`);
    }
  }
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1];
    const cur = byOffset[i];
    if (prev.offset + prev.byteLength > cur.offset) {
      throw c.fail(`tensors '${prev.name}' and '${cur.name}' overlap (data offsets ${prev.offset}+${prev.byteLength} and ${cur.offset})`);
    }
  }
}

function checkMagicAndVersion(c: Cursor): number {
  // The magic first, so a short file that is not a GGUF at all says so rather than "truncated"
  // (a file cut inside the magic is still a truncated GGUF).
  const magic = [...c.bytes.subarray(0, Math.min(4, c.fileSize))];
  if (magic.some((b, i) => b !== GGUF_MAGIC[i])) {
    const hex = magic.map((b) => b.toString(16).padStart(2, "0")).join(" ");
    throw c.fail(`not a GGUF file: expected magic bytes 47 47 55 46 ("GGUF"), found ${hex}`);
  }
  c.need(GGUF_FIXED_HEADER_BYTES, "GGUF header");
  for (let i = 0; i < 4; i++) c.u8("magic");
  const version = c.u32("version");
  if (GGUF_READ_VERSIONS.includes(version)) return version;
  const swapped = ((version & 0xff) << 24 | (version & 0xff00) << 8 | (version >>> 8) & 0xff00 | version >>> 24) >>> 0;
  if (swapped >= 1 && swapped <= 3) throw c.fail(`big-endian GGUF (version ${swapped}) is not supported`);
  if (version === 1) throw c.fail("GGUF version 1 is not supported (it predates 64-bit counts); re-convert the model with a current llama.cpp");
  throw c.fail(`unsupported GGUF version ${version} (supported: ${GGUF_READ_VERSIONS.join(", ")})`);
}

/**
 * Parse a GGUF header from `bytes`, a prefix of a file of `fileSize` bytes called `file`.
 * Throws InputFileError for a malformed file, NeedMoreBytes when `bytes` is too short.
 */
export function parseGgufHeader(bytes: Uint8Array, fileSize: number, file: string): GgufHeader {
  const c = new Cursor(bytes, fileSize, file);
  const version = checkMagicAndVersion(c);
  const tensorCount = c.count("tensor count", MIN_TENSOR_INFO_BYTES);
  const kvCount = c.count("metadata key/value count", MIN_KV_BYTES);

  const metadata: GgufMetadata = new Map();
  for (let i = 0; i < kvCount; i++) {
    const keyAt = c.pos;
    const key = c.string(`metadata key ${i}`);
    if (key.length === 0) throw c.fail(`metadata key ${i} at byte ${keyAt} is empty`);
    if (metadata.has(key)) throw c.fail(`duplicate metadata key '${key}' at byte ${keyAt}`);
    const type = valueType(c, `metadata '${key}'`);
    metadata.set(key, readValue(c, type, `metadata '${key}'`, 0));
  }
  const alignment = readAlignment(c, metadata);

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const t = readTensorInfo(c, i);
    if (names.has(t.name)) throw c.fail(`duplicate tensor name '${t.name}'`);
    names.add(t.name);
    tensors.push(t);
  }
  const dataOffset = tensors.length > 0 ? alignUp(c.pos, alignment) : c.pos;
  if (dataOffset > fileSize) {
    throw c.fail(`truncated file: the data section should start at byte ${dataOffset} but the file has ${fileSize} bytes`);
  }
  checkLayout(c, tensors, alignment, dataOffset);
  return { version, metadata, tensors, alignment, dataOffset };
}
