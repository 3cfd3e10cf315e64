/**
 * Tensor bytes ↔ float32 for every ggml type cogen handles: `encodeTensor` writes F32, F16, BF16,
 * Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K (as ggml's reference quantizers do);
 * `dequantize` reads those plus Q2_K, Q3_K, IQ4_NL, IQ4_XS, F64 and the integer types.
 */
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "../../core/half.js";
import type { DType } from "../../core/tensor.js";
import { GGML_TYPES, GGUF_ENCODABLE_DTYPES, type GgmlTypeInfo } from "./constants.js";
import { dequantizeIQ4_NL, dequantizeIQ4_XS } from "./iquants.js";
import { dequantizeQ2_K, dequantizeQ3_K, dequantizeQ4_K, dequantizeQ5_K, dequantizeQ6_K } from "./kquants.js";
import { quantizeQ4_K, quantizeQ5_K, quantizeQ6_K } from "./kquants-encode.js";
import {
  dequantizeQ4_0, dequantizeQ4_1, dequantizeQ5_0, dequantizeQ5_1, dequantizeQ8_0,
  quantizeQ4_0, quantizeQ4_1, quantizeQ5_0, quantizeQ5_1, quantizeQ8_0,
} from "./quants.js";

/** Block encoders and decoders by dtype (plain float and integer types are handled inline). */
const ENCODERS: Partial<Record<DType, (x: Float32Array) => Uint8Array>> = {
  Q8_0: quantizeQ8_0, Q4_0: quantizeQ4_0, Q4_1: quantizeQ4_1, Q5_0: quantizeQ5_0, Q5_1: quantizeQ5_1,
  Q4_K: quantizeQ4_K, Q5_K: quantizeQ5_K, Q6_K: quantizeQ6_K,
};
const DECODERS: Partial<Record<DType, (bytes: Uint8Array, count: number) => Float32Array>> = {
  Q8_0: dequantizeQ8_0, Q4_0: dequantizeQ4_0, Q4_1: dequantizeQ4_1, Q5_0: dequantizeQ5_0, Q5_1: dequantizeQ5_1,
  Q2_K: dequantizeQ2_K, Q3_K: dequantizeQ3_K, Q4_K: dequantizeQ4_K, Q5_K: dequantizeQ5_K, Q6_K: dequantizeQ6_K,
  IQ4_NL: dequantizeIQ4_NL, IQ4_XS: dequantizeIQ4_XS,
};

export function ggmlTypeOf(dtype: DType): GgmlTypeInfo {
  const info = GGML_TYPES[dtype];
  if (!info) throw new RangeError(`GGUF has no tensor type for dtype ${dtype}`);
  return info;
}

/**
 * Bytes a tensor of `count` elements takes in `dtype`, where `rowLength` (the innermost dimension)
 * must be a whole number of blocks. Returns a problem string instead when it is not.
 */
export function tensorByteSize(dtype: DType, rowLength: number, count: number): number | string {
  const info = ggmlTypeOf(dtype);
  if (rowLength % info.blockSize !== 0) {
    return `row length ${rowLength} is not a multiple of the ${dtype} block size ${info.blockSize}`;
  }
  return (count / info.blockSize) * info.typeSize;
}

/** Encode float32 values as stored bytes in `dtype` (one of GGUF_ENCODABLE_DTYPES). */
export function encodeTensor(data: Float32Array, dtype: DType): Uint8Array {
  switch (dtype) {
    case "F32": {
      const out = new Uint8Array(data.length * 4);
      new Float32Array(out.buffer).set(data);
      return out;
    }
    case "F16":
    case "BF16": {
      const src = data.byteOffset % 4 === 0 ? data : data.slice();
      const half = dtype === "F16" ? f32ToF16(src) : f32ToBf16(src);
      return new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
    }
    default: {
      const encode = ENCODERS[dtype];
      if (encode) return encode(data);
      throw new RangeError(`encodeTensor cannot encode ${dtype}; supported: ${GGUF_ENCODABLE_DTYPES.join(", ")}`);
    }
  }
}

/** A copy of `bytes` starting on an 8-byte boundary, unless it already does. */
function aligned(bytes: Uint8Array, byteLength: number): ArrayBuffer {
  if (bytes.byteOffset % 8 === 0 && bytes.buffer instanceof ArrayBuffer) return bytes.buffer;
  return bytes.slice(0, byteLength).buffer;
}

/** Decode `count` elements stored as `dtype` to float32. `bytes` must hold at least that many. */
export function dequantize(bytes: Uint8Array, dtype: DType, count: number): Float32Array {
  const info = ggmlTypeOf(dtype);
  const need = (count / info.blockSize) * info.typeSize;
  if (count % info.blockSize !== 0) throw new RangeError(`${count} elements is not a whole number of ${dtype} blocks`);
  if (bytes.byteLength < need) throw new RangeError(`${dtype} × ${count} needs ${need} bytes, got ${bytes.byteLength}`);
  const off = bytes.byteOffset % 8 === 0 && bytes.buffer instanceof ArrayBuffer ? bytes.byteOffset : 0;
  const buffer = aligned(bytes, need);
  switch (dtype) {
    case "F32":
      return new Float32Array(buffer, off, count).slice();
    case "F16":
      return f16ToF32(new Uint16Array(buffer, off, count));
    case "BF16":
      return bf16ToF32(new Uint16Array(buffer, off, count));
    case "F64":
      return Float32Array.from(new Float64Array(buffer, off, count));
    case "I8":
      return Float32Array.from(new Int8Array(buffer, off, count));
    case "I16":
      return Float32Array.from(new Int16Array(buffer, off, count));
    case "I32":
      return Float32Array.from(new Int32Array(buffer, off, count));
    case "I64": {
      const src = new BigInt64Array(buffer, off, count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = Number(src[i]);
      return out;
    }
    default: {
      const decode = DECODERS[dtype];
      if (decode) return decode(bytes, count);
      throw new RangeError(`dequantize cannot decode ${dtype}`);
    }
  }
}
