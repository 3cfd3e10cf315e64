/**
 * The shared vocabulary of weights: element types and tensor descriptions. Shapes are always in
 * row-major (PyTorch / safetensors) order, outermost dimension first; the GGUF reader and writer
 * reverse GGUF's innermost-first `ne` at the boundary.
 */
export type DType =
  | "F64" | "F32" | "F16" | "BF16"
  | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL"
  | "F8_E4M3" | "F8_E5M2"
  | "Q8_0" | "Q4_0" | "Q4_K" | "Q5_K" | "Q6_K"
  | "Q4_1" | "Q5_0" | "Q5_1" | "Q2_K" | "Q3_K" | "IQ4_NL" | "IQ4_XS";

export interface TensorInfo {
  name: string;
  dtype: DType;
  /** Row-major shape, outermost first. */
  shape: number[];
  /** Bytes the tensor occupies in its stored dtype. */
  byteLength: number;
}

/** Anything that holds named tensors and reads them lazily, one at a time. */
export interface TensorSource {
  /** The file or folder the tensors come from (used in error messages). */
  readonly path: string;
  list(): TensorInfo[];
  info(name: string): TensorInfo | undefined;
  /**
   * The stored bytes of one tensor, without reading any other tensor. With `into` (at least the
   * tensor's byteLength), a source may read into its start and return a view of it instead of a
   * new array, so a caller can reuse one buffer across tensors; callers use what is returned.
   */
  readRaw(name: string, into?: Uint8Array): Promise<Uint8Array>;
  /** One tensor decoded to float32 (quantized and 8-bit float types are dequantized). */
  readF32(name: string): Promise<Float32Array>;
  close(): Promise<void>;
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
