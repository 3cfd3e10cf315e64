import type { DType } from "../../core/tensor.js";
import { encodeTensor } from "../gguf/codec.js";

/** Elements decoded to float32 at a time: bounds the scratch memory of a type change. */
const CHUNK_ELEMENTS = 1 << 20;

/**
 * Change a tensor's stored type a slice of rows at a time, so converting a large tensor holds its
 * input and output bytes but never the whole tensor as float32. `decode` turns `count` stored
 * elements into float32 (the source format's decoder); the target is any type `encodeTensor`
 * writes. Rows are the innermost dimension; every type cogen writes encodes rows independently.
 */
export function transcodeRows(
  raw: Uint8Array,
  shape: readonly number[],
  to: DType,
  decode: (bytes: Uint8Array, count: number) => Float32Array,
): Uint8Array {
  const rowLength = shape.length > 0 ? shape[shape.length - 1] : 1;
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  if (rows === 0 || rowLength === 0) return new Uint8Array(0);
  const inRowBytes = raw.length / rows;
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK_ELEMENTS / rowLength));
  let out: Uint8Array | undefined;
  let outRowBytes = 0;
  for (let row = 0; row < rows; row += rowsPerChunk) {
    const count = Math.min(rowsPerChunk, rows - row);
    const values = decode(raw.subarray(row * inRowBytes, (row + count) * inRowBytes), count * rowLength);
    const encoded = encodeTensor(values, to);
    if (!out) {
      outRowBytes = encoded.length / count;
      out = new Uint8Array(outRowBytes * rows);
    }
    out.set(encoded, row * outRowBytes);
  }
  return out!;
}
