/**
 * Open a GGUF file as a TensorSource: the header is parsed and validated up front (reading only
 * as many bytes as it needs), tensor data is read lazily, one tensor at a time, at its offset.
 */
import { promises as fs } from "node:fs";
import { InputFileError } from "../../core/errors.js";
import { readFailure } from "../../core/files.js";
import { elementCount, type TensorSource } from "../../core/tensor.js";
import { GGUF_ARCHITECTURE_KEY } from "./constants.js";
import { dequantize } from "./codec.js";
import { NeedMoreBytes, parseGgufHeader, type GgufHeader, type GgufTensorInfo } from "./header.js";
import { getGgufArray, getGgufNumber, getGgufString, type GgufArray, type GgufMetadata } from "./values.js";

export interface GgufFile extends TensorSource {
  readonly version: number;
  readonly alignment: number;
  /** Metadata in file order, values typed as stored. */
  readonly metadata: GgufMetadata;
  /** `general.architecture`, when present and a string. */
  readonly architecture: string | undefined;
  /** Absolute byte offset of the data section. */
  readonly dataOffset: number;
  list(): GgufTensorInfo[];
  info(name: string): GgufTensorInfo | undefined;
  getString(key: string): string | undefined;
  getNumber(key: string): number | undefined;
  getArray(key: string): GgufArray | undefined;
}

export interface OpenGgufOptions {
  /** Refuse headers (metadata + tensor infos) larger than this; default 512 MiB. */
  maxHeaderBytes?: number;
}

/** Where the bytes come from: a file handle, or memory (for tests and embedded data). */
export interface ByteSource {
  readonly size: number;
  /** Up to `length` bytes at `position`; shorter only at the end of the source. */
  read(position: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

const INITIAL_HEADER_READ = 1 << 20;
const DEFAULT_MAX_HEADER = 512 * 1024 * 1024;

export async function openGguf(path: string, options: OpenGgufOptions = {}): Promise<GgufFile> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, "r");
  } catch (error) {
    throw readFailure(path, error);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new InputFileError(path, "not a regular file");
    const source: ByteSource = {
      size: stat.size,
      read: (position, length) => readAt(handle, position, length),
      close: () => handle.close(),
    };
    return await openGgufSource(source, path, options);
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** A GgufFile over bytes in memory; `name` is used in error messages. */
export function openGgufBytes(bytes: Uint8Array, name: string, options: OpenGgufOptions = {}): Promise<GgufFile> {
  const source: ByteSource = {
    size: bytes.byteLength,
    read: async (position, length) => bytes.slice(position, Math.min(bytes.byteLength, position + length)),
    close: async () => {},
  };
  return openGgufSource(source, name, options);
}

async function readAt(handle: fs.FileHandle, position: number, length: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}

export async function openGgufSource(source: ByteSource, name: string, options: OpenGgufOptions = {}): Promise<GgufFile> {
  const maxHeader = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER;
  let length = Math.min(source.size, INITIAL_HEADER_READ, maxHeader);
  for (;;) {
    const prefix = await source.read(0, length);
    try {
      return new GgufReader(source, name, parseGgufHeader(prefix, source.size, name));
    } catch (error) {
      if (!(error instanceof NeedMoreBytes)) throw error;
      if (prefix.byteLength < length) throw new InputFileError(name, "file shrank while being read");
      if (error.needed > maxHeader) {
        throw new InputFileError(name, `header is larger than the ${maxHeader}-byte limit (needs at least ${error.needed} bytes)`);
      }
      length = Math.min(source.size, maxHeader, Math.max(error.needed, length * 2));
    }
  }
}

class GgufReader implements GgufFile {
  readonly version: number;
  readonly alignment: number;
  readonly metadata: GgufMetadata;
  readonly dataOffset: number;
  private readonly tensors: GgufTensorInfo[];
  private readonly byName: Map<string, GgufTensorInfo>;

  constructor(
    private readonly source: ByteSource,
    readonly path: string,
    header: GgufHeader,
  ) {
    this.version = header.version;
    this.alignment = header.alignment;
    this.metadata = header.metadata;
    this.dataOffset = header.dataOffset;
    this.tensors = header.tensors;
    this.byName = new Map(header.tensors.map((t) => [t.name, t]));
  }

  get architecture(): string | undefined {
    return getGgufString(this.metadata, GGUF_ARCHITECTURE_KEY);
  }

  list(): GgufTensorInfo[] {
    return this.tensors.map(copyInfo);
  }

  info(name: string): GgufTensorInfo | undefined {
    const t = this.byName.get(name);
    return t && copyInfo(t);
  }

  getString(key: string): string | undefined {
    return getGgufString(this.metadata, key);
  }

  getNumber(key: string): number | undefined {
    return getGgufNumber(this.metadata, key);
  }

  getArray(key: string): GgufArray | undefined {
    return getGgufArray(this.metadata, key);
  }

  private require(name: string): GgufTensorInfo {
    const t = this.byName.get(name);
    if (!t) throw new InputFileError(this.path, `no tensor named '${name}'`);
    return t;
  }

  async readRaw(name: string): Promise<Uint8Array> {
    const t = this.require(name);
    const start = this.dataOffset + t.offset;
    const bytes = await this.source.read(start, t.byteLength);
    if (bytes.byteLength !== t.byteLength) {
      throw new InputFileError(this.path, `truncated file: tensor '${name}' needs ${t.byteLength} bytes at byte ${start}, found ${bytes.byteLength}`);
    }
    return bytes;
  }

  async readF32(name: string): Promise<Float32Array> {
    const t = this.require(name);
    const raw = await this.readRaw(name);
    const count = elementCount(t.shape);
    if (t.dtype === "F32" && raw.byteOffset === 0 && raw.buffer instanceof ArrayBuffer && raw.buffer.byteLength === raw.byteLength) {
      return new Float32Array(raw.buffer, 0, count);
    }
    return dequantize(raw, t.dtype, count);
  }

  close(): Promise<void> {
    return this.source.close();
  }
}

function copyInfo(t: GgufTensorInfo): GgufTensorInfo {
  return { ...t, shape: [...t.shape], ne: [...t.ne] };
}
