/**
 * Elementwise merging on stored bytes: decode 64 Ki elements of every input, merge them, encode
 * them into the output, repeat. Pure (bytes in, bytes out) so it runs on the main thread or in a
 * worker. A NaN anywhere is reported by position instead of thrown, so the caller can name the file.
 */
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "../core/half.js";
import { runMethod, type MethodJob } from "./run-method.js";
import { findMethod } from "./methods/registry.js";
import { mergeTaskVectorChunks } from "./task-vector-chunks.js";
import { linearBf16 } from "./linear-bf16.js";

/** Elements per chunk: small enough that a chunk of every input stays in cache. */
export const CHUNK_ELEMENTS = 1 << 16;

export type StoredDType = "F32" | "F16" | "BF16";

export interface ChunkJob extends Omit<MethodJob, "tensors" | "base"> {
  /** Stored bytes of the non-base inputs, then the base (when `hasBase`). */
  raws: Uint8Array[];
  dtypes: StoredDType[];
  hasBase: boolean;
  outDtype: StoredDType;
  /** Total elements. */
  elements: number;
  /** Elements per chunk (default CHUNK_ELEMENTS); task-vector methods round it to whole rows. */
  chunkElements?: number;
  /** Where to write the output (from its start), when large enough; else a new array is made. */
  out?: Uint8Array;
}

export type ChunkResult = { out: Uint8Array } | { nanInput: number; element: number } | { nanOutput: number };

export function mergeStoredChunks(job: ChunkJob): ChunkResult {
  const variant = findMethod(job.method)?.taskVector;
  if (variant) return mergeTaskVectorChunks(job, variant);
  const fused = linearBf16(job);
  if (fused) return fused;
  const n = job.elements;
  const out = outputBytes(job);
  const decode = storedDecoder(job);
  const step = job.chunkElements ?? CHUNK_ELEMENTS;
  const scratch = job.raws.map(() => new Float32Array(step));
  const inputs = job.hasBase ? job.raws.length - 1 : job.raws.length;
  for (let start = 0; start < n; start += step) {
    const len = Math.min(step, n - start);
    const chunks = scratch.map((buf, m) => decode(m, start, buf.subarray(0, len)));
    const merged = runMethod({
      method: job.method, modelParams: job.modelParams, global: job.global, shape: [len], seed: job.seed,
      tensors: chunks.slice(0, inputs), ...(job.hasBase ? { base: chunks[inputs] } : {}),
    });
    // Every elementwise method propagates a NaN (or infinite) input to its output: x − x is 0
    // for finite x and NaN otherwise, so one summing pass finds them; only then are the inputs
    // searched to name the culprit.
    let check = 0;
    for (let i = 0; i < len; i++) check += merged[i] - merged[i];
    if (check !== 0) {
      for (let m = 0; m < chunks.length; m++) {
        const at = chunks[m].findIndex((v) => !Number.isFinite(v));
        if (at >= 0) return { nanInput: m, element: start + at };
      }
      return { nanOutput: start + merged.findIndex((v) => !Number.isFinite(v)) };
    }
    encodeStored(merged, job.outDtype, out, start);
  }
  return { out };
}

/** The output's bytes: the start of `job.out` when it is large enough, else a new array. */
export function outputBytes(job: ChunkJob): Uint8Array {
  const bytes = job.elements * (job.outDtype === "F32" ? 4 : 2);
  return job.out && job.out.length >= bytes ? job.out.subarray(0, bytes) : new Uint8Array(bytes);
}

/** Decodes `dst.length` elements of input `m` from element `start` into `dst` (returned). */
export function storedDecoder(job: ChunkJob): (m: number, start: number, dst: Float32Array) => Float32Array {
  const raws = job.raws.map((r, m) => (r.byteOffset % (job.dtypes[m] === "F32" ? 4 : 2) === 0 ? r : r.slice()));
  return (m, start, dst) => {
    const r = raws[m];
    const len = dst.length;
    const dtype = job.dtypes[m];
    if (dtype === "F32") dst.set(new Float32Array(r.buffer, r.byteOffset + start * 4, len));
    else if (dtype === "BF16") bf16ToF32(new Uint16Array(r.buffer, r.byteOffset + start * 2, len), dst);
    else f16ToF32(new Uint16Array(r.buffer, r.byteOffset + start * 2, len), dst);
    return dst;
  };
}

/** Encodes `values` into the output bytes from element `start`. */
export function encodeStored(values: Float32Array, dtype: StoredDType, out: Uint8Array, start: number): void {
  const len = values.length;
  if (dtype === "F32") new Float32Array(out.buffer, out.byteOffset + start * 4, len).set(values);
  else if (dtype === "BF16") f32ToBf16(values, new Uint16Array(out.buffer, out.byteOffset + start * 2, len));
  else f32ToF16(values, new Uint16Array(out.buffer, out.byteOffset + start * 2, len));
}
