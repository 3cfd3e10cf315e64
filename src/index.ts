// The public surface of cogen: every export is named here.
export { CogenError, InputFileError, ConfigError, BackendError } from "./core/errors.js";
export { Rng } from "./core/rng.js";
export type { Progress, StreamProgressOptions } from "./core/progress.js";
export { streamProgress, silentProgress } from "./core/progress.js";
export { writeFileAtomic, writeDirAtomic } from "./core/atomic.js";
export type { DType, TensorInfo, TensorSource } from "./core/tensor.js";
export { elementCount } from "./core/tensor.js";
export { f16ToF32, f32ToF16, bf16ToF32, f32ToBf16 } from "./core/half.js";
export {
  DTYPE_SIZES, decodeToF32, encodeSafetensors, openHfWeights, openSafetensors, writeSafetensorsFile, writeSafetensorsSharded,
  HF_INDEX_FILE, HF_SINGLE_FILE,
} from "./formats/safetensors/index.js";
export type {
  HfWeights, SafetensorsDType, SafetensorsFile, TensorData, TensorPlanEntry, TensorProducer, WriteShardedOptions, WriteShardedResult,
} from "./formats/safetensors/index.js";
