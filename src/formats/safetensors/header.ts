import { InputFileError } from "../../core/errors.js";
import type { TensorInfo } from "../../core/tensor.js";
import { isSafetensorsDType, isValidShape, tensorByteLength, type SafetensorsDType } from "./dtypes.js";
import { isPlainObject, parseJsonStrict } from "./strict-json.js";

/**
 * The safetensors header: an 8-byte little-endian length n, then n bytes of UTF-8 JSON mapping
 * tensor names to {dtype, shape, data_offsets: [begin, end]} (offsets relative to the data
 * section that follows the header), plus an optional "__metadata__" string→string map.
 */

/** Headers longer than this are rejected before anything is allocated (the reference's limit). */
export const MAX_HEADER_BYTES = 100_000_000;
export const METADATA_KEY = "__metadata__";
/** Bytes of the little-endian u64 header length at the start of the file. */
export const PREFIX_BYTES = 8;

export interface SafetensorsEntry extends TensorInfo {
  dtype: SafetensorsDType;
  /** Offsets of the tensor's bytes relative to the start of the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Tensors in header order. */
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** Byte position of the data section in the file (8 + header length). */
  dataOffset: number;
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const loneSurrogate = /[\uD800-\uDFFF]/u;

/** Validate the 8-byte prefix against the file size; returns the header length. */
export function parseHeaderLength(file: string, prefix: Uint8Array, fileSize: number): number {
  if (fileSize < PREFIX_BYTES || prefix.length < PREFIX_BYTES) {
    throw new InputFileError(file, `truncated: ${fileSize} bytes is too short for the 8-byte header length`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, PREFIX_BYTES).getBigUint64(0, true);
  const text = prefix.subarray(0, PREFIX_BYTES).every((b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d);
  if (text && n > BigInt(Math.min(MAX_HEADER_BYTES, fileSize - PREFIX_BYTES))) {
    // A text file: its first characters read as an absurd length; say what it is instead.
    const start = JSON.stringify(new TextDecoder().decode(prefix.subarray(0, PREFIX_BYTES)));
    throw new InputFileError(file, `not a safetensors file: it starts with text (${start}), not an 8-byte header length`);
  }
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new InputFileError(file, `header length ${n} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  }
  if (n > BigInt(fileSize - PREFIX_BYTES)) {
    throw new InputFileError(file, `truncated: header length ${n} is longer than the ${fileSize - PREFIX_BYTES} bytes after the length field`);
  }
  if (n < 2n) throw new InputFileError(file, `header length ${n} is too short for a JSON object`);
  return Number(n);
}

function describeShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/**
 * Parse and validate the JSON header. `fileSize` is the whole file's size; the tensors must tile
 * the data section exactly (contiguous, non-overlapping, no gap, no trailing bytes).
 */
export function parseHeader(file: string, headerBytes: Uint8Array, fileSize: number): SafetensorsHeader {
  const dataOffset = PREFIX_BYTES + headerBytes.length;
  const dataLength = fileSize - dataOffset;
  let text: string;
  try {
    text = fatalUtf8.decode(headerBytes);
  } catch {
    throw new InputFileError(file, "header is not valid UTF-8");
  }
  const parsed = parseJsonStrict(text);
  if (!parsed.ok) throw new InputFileError(file, `header: ${parsed.problem}`);
  const root = parsed.value;
  if (!isPlainObject(root)) throw new InputFileError(file, "header is not a JSON object");

  const fail = (problem: string): never => {
    throw new InputFileError(file, problem);
  };
  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const name of parsed.topLevelKeys) {
    const value = root[name];
    if (name === METADATA_KEY) {
      metadata = parseMetadata(value, fail);
      continue;
    }
    const label = `tensor ${JSON.stringify(name)}`;
    if (loneSurrogate.test(name)) fail(`${label}: name contains an unpaired UTF-16 surrogate escape`);
    if (!isPlainObject(value)) fail(`${label}: entry is not an object`);
    const entry = value as Record<string, unknown>;
    const dtype = entry.dtype;
    if (!isSafetensorsDType(dtype)) fail(`${label}: unknown or unsupported dtype ${JSON.stringify(dtype)}`);
    const shape = entry.shape;
    if (!isValidShape(shape)) fail(`${label}: shape ${JSON.stringify(shape)} is not an array of non-negative integers`);
    const offsets = entry.data_offsets;
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
    ) {
      fail(`${label}: data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`${label}: data_offsets [${begin}, ${end}] end before they begin`);
    const byteLength = tensorByteLength(dtype as SafetensorsDType, shape as number[]);
    if (byteLength === undefined) {
      fail(`${label}: shape ${describeShape(shape as number[])} is too large (its byte size overflows)`);
    }
    if (end - begin !== byteLength) {
      fail(
        `${label}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape ` +
          `${describeShape(shape as number[])} of ${dtype} needs ${byteLength}`,
      );
    }
    if (end > dataLength) {
      fail(`${label}: data_offsets [${begin}, ${end}] are out of bounds (the data section has ${dataLength} bytes)`);
    }
    entries.push({ name, dtype: dtype as SafetensorsDType, shape: shape as number[], byteLength: byteLength as number, begin, end });
  }
  checkTiling(entries, dataLength, fail);
  return { entries, metadata, dataOffset };
}

function parseMetadata(value: unknown, fail: (problem: string) => never): Record<string, string> {
  if (!isPlainObject(value)) return fail(`${METADATA_KEY} is not an object`);
  const metadata: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== "string") fail(`${METADATA_KEY}[${JSON.stringify(key)}] is ${JSON.stringify(v)}, not a string`);
    if (loneSurrogate.test(key) || loneSurrogate.test(v as string)) {
      fail(`${METADATA_KEY}[${JSON.stringify(key)}] contains an unpaired UTF-16 surrogate escape`);
    }
    Object.defineProperty(metadata, key, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return metadata;
}

/** The tensors must cover the data section exactly once, as the safetensors spec requires. */
function checkTiling(entries: readonly SafetensorsEntry[], dataLength: number, fail: (problem: string) => never): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let position = 0;
  let previous: SafetensorsEntry | undefined;
  for (const e of sorted) {
    if (e.begin < position) {
      fail(`tensors ${JSON.stringify(previous?.name)} and ${JSON.stringify(e.name)} overlap (bytes ${e.begin}..${position} of the data section)`);
    }
    if (e.begin > position) {
      fail(`gap in the data section: bytes ${position}..${e.begin} belong to no tensor (before ${JSON.stringify(e.name)})`);
    }
    position = e.end;
    previous = e;
  }
  if (position !== dataLength) {
    fail(`the data section has ${dataLength} bytes but the tensors cover ${position}`);
  }
}

export interface HeaderTensor {
  name: string;
  dtype: SafetensorsDType;
  shape: readonly number[];
  byteLength: number;
}

const encoder = new TextEncoder();

/**
 * Encode the 8-byte length and the JSON header for tensors stored back to back in the given
 * order. The JSON keeps that order (metadata first) and is padded with spaces to a multiple of 8
 * bytes, so the data section starts 8-byte aligned, as the reference implementation does.
 */
export function encodeHeader(tensors: readonly HeaderTensor[], metadata?: Readonly<Record<string, string>>): Uint8Array {
  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    parts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const t of tensors) {
    const end = offset + t.byteLength;
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] })}`);
    offset = end;
  }
  const json = encoder.encode(`{${parts.join(",")}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(PREFIX_BYTES + padded);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, PREFIX_BYTES);
  out.fill(0x20, PREFIX_BYTES + json.length);
  return out;
}
