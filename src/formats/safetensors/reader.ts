import { constants as bufferConstants } from "node:buffer";
import { promises as fs } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { InputFileError } from "../../core/errors.js";
import { readFailure } from "../../core/files.js";
import { bf16ToF32, f16ToF32 } from "../../core/half.js";
import type { TensorInfo, TensorSource } from "../../core/tensor.js";
import { decodeToF32 } from "./decode.js";
import { DTYPE_SIZES } from "./dtypes.js";
import { readExactly } from "./file-io.js";
import { PREFIX_BYTES, parseHeader, parseHeaderLength, type SafetensorsEntry } from "./header.js";

/** One safetensors file, opened lazily: only the header is read up front. */
export interface SafetensorsFile extends TensorSource {
  /** The header's `__metadata__` (string → string); empty when absent. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Byte position of the data section (8 + header length). */
  readonly dataOffset: number;
}

/**
 * Open a safetensors file and validate its header (see header.ts for the rules). Tensor bytes
 * are read on demand, one tensor per call, with positioned reads; nothing else is loaded.
 * Throws InputFileError naming the file for anything malformed.
 */
export async function openSafetensors(file: string): Promise<SafetensorsFile> {
  let handle: FileHandle;
  try {
    handle = await fs.open(file, "r");
  } catch (error) {
    throw readFailure(file, error);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new InputFileError(file, "not a regular file");
    const size = stat.size;
    const prefix = new Uint8Array(PREFIX_BYTES);
    if (size >= PREFIX_BYTES) await readExactly(handle, file, prefix, 0, PREFIX_BYTES, 0);
    const headerLength = parseHeaderLength(file, prefix, size);
    const headerBytes = new Uint8Array(headerLength);
    await readExactly(handle, file, headerBytes, 0, headerLength, PREFIX_BYTES);
    const header = parseHeader(file, headerBytes, size);
    return new SafetensorsReader(file, handle, header.entries, header.metadata, header.dataOffset);
  } catch (error) {
    await handle.close();
    throw error;
  }
}

class SafetensorsReader implements SafetensorsFile {
  private readonly byName = new Map<string, SafetensorsEntry>();
  private readonly infos: TensorInfo[];
  private closed = false;

  constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    entries: SafetensorsEntry[],
    readonly metadata: Readonly<Record<string, string>>,
    readonly dataOffset: number,
  ) {
    for (const e of entries) this.byName.set(e.name, e);
    this.infos = entries.map(publicInfo);
  }

  list(): TensorInfo[] {
    return this.infos.map((i) => ({ ...i, shape: [...i.shape] }));
  }

  info(name: string): TensorInfo | undefined {
    const e = this.byName.get(name);
    return e ? publicInfo(e) : undefined;
  }

  async readRaw(name: string, into?: Uint8Array): Promise<Uint8Array> {
    const e = this.entry(name);
    this.checkFits(e, e.byteLength);
    const out = into && into.length >= e.byteLength ? into.subarray(0, e.byteLength) : new Uint8Array(e.byteLength);
    await readExactly(this.handle, this.path, out, 0, e.byteLength, this.dataOffset + e.begin);
    return out;
  }

  async readF32(name: string): Promise<Float32Array> {
    const e = this.entry(name);
    this.checkFits(e, (e.byteLength / DTYPE_SIZES[e.dtype]) * 4);
    if (e.dtype === "F16" || e.dtype === "BF16") {
      // Read the halves into the upper half of the output and widen in place (see core/half.ts).
      const n = e.byteLength / 2;
      const out = new Float32Array(n);
      await readExactly(this.handle, this.path, new Uint8Array(out.buffer), e.byteLength, e.byteLength, this.dataOffset + e.begin);
      const halves = new Uint16Array(out.buffer, e.byteLength, n);
      return e.dtype === "F16" ? f16ToF32(halves, out) : bf16ToF32(halves, out);
    }
    const raw = await this.readRaw(name);
    // readRaw returns a fresh, 0-offset buffer, so F32 needs no copy.
    if (e.dtype === "F32") return new Float32Array(raw.buffer, 0, raw.length / 4);
    return decodeToF32(e.dtype, raw);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }

  /** Typed arrays are limited in size (4 GiB on Node 20); say so instead of a RangeError. */
  private checkFits(e: SafetensorsEntry, bytes: number): void {
    if (bytes > bufferConstants.MAX_LENGTH) {
      throw new InputFileError(
        this.path,
        `tensor ${JSON.stringify(e.name)} needs ${bytes} bytes in memory, more than one array can hold here (${bufferConstants.MAX_LENGTH})`,
      );
    }
  }

  private entry(name: string): SafetensorsEntry {
    if (this.closed) throw new Error(`${this.path}: read after close`);
    const e = this.byName.get(name);
    if (!e) throw new InputFileError(this.path, `no tensor named ${JSON.stringify(name)}`);
    return e;
  }
}

function publicInfo(e: SafetensorsEntry): TensorInfo {
  return { name: e.name, dtype: e.dtype, shape: [...e.shape], byteLength: e.byteLength };
}
