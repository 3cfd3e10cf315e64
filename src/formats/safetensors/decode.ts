import { endianness } from "node:os";
import { bf16ToF32, f16ToF32 } from "../../core/half.js";
import { DTYPE_SIZES, type SafetensorsDType } from "./dtypes.js";
import { f8e4m3ToF32, f8e5m2ToF32 } from "./fp8.js";

// safetensors stores little-endian values; typed-array views below assume a little-endian host.
const littleEndianHost = endianness() === "LE";

/** The buffer and offset to view `bytes` as elements of `width` bytes; copies only when misaligned. */
function alignedView(bytes: Uint8Array, width: number): { buffer: ArrayBuffer; offset: number } {
  if (bytes.byteOffset % width === 0 && bytes.buffer instanceof ArrayBuffer) {
    return { buffer: bytes.buffer, offset: bytes.byteOffset };
  }
  return { buffer: bytes.slice().buffer, offset: 0 };
}

/**
 * Decode the stored little-endian bytes of a tensor to float32. `bytes.length` must be a multiple
 * of the dtype size (the reader guarantees it). Always returns a new array, never a view of
 * `bytes`. Integers are converted to the nearest float32; BOOL bytes become 0 or 1.
 */
export function decodeToF32(dtype: SafetensorsDType, bytes: Uint8Array): Float32Array {
  if (!littleEndianHost) throw new Error("cogen's safetensors decoder needs a little-endian host");
  const width = DTYPE_SIZES[dtype];
  const n = bytes.length / width;
  if (!Number.isInteger(n)) throw new RangeError(`${bytes.length} bytes is not a whole number of ${dtype} elements`);
  const { buffer, offset } = alignedView(bytes, width);
  switch (dtype) {
    case "F32":
      return new Float32Array(buffer.slice(offset, offset + bytes.length));
    case "F64":
      return Float32Array.from(new Float64Array(buffer, offset, n));
    case "F16":
      return f16ToF32(new Uint16Array(buffer, offset, n));
    case "BF16":
      return bf16ToF32(new Uint16Array(buffer, offset, n));
    case "I64": {
      const words = new Int32Array(buffer, offset, n * 2);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = words[2 * i + 1] * 4294967296 + (words[2 * i] >>> 0);
      return out;
    }
    case "I32":
      return Float32Array.from(new Int32Array(buffer, offset, n));
    case "I16":
      return Float32Array.from(new Int16Array(buffer, offset, n));
    case "I8":
      return Float32Array.from(new Int8Array(buffer, offset, n));
    case "U8":
      return Float32Array.from(bytes);
    case "BOOL": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = bytes[i] ? 1 : 0;
      return out;
    }
    case "F8_E4M3":
      return f8e4m3ToF32(bytes);
    case "F8_E5M2":
      return f8e5m2ToF32(bytes);
  }
}
