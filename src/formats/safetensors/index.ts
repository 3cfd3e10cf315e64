// The safetensors format and Hugging Face weight folders (see docs/ARCHITECTURE.md).
export { DTYPE_SIZES, isSafetensorsDType, tensorByteLength } from "./dtypes.js";
export type { SafetensorsDType } from "./dtypes.js";
export { decodeToF32 } from "./decode.js";
export { f8e4m3ToF32, f8e5m2ToF32 } from "./fp8.js";
export { MAX_HEADER_BYTES, encodeHeader, parseHeader, parseHeaderLength } from "./header.js";
export type { SafetensorsEntry, SafetensorsHeader } from "./header.js";
export { openSafetensors } from "./reader.js";
export type { SafetensorsFile } from "./reader.js";
export { openHfWeights, readHfWeightsF32 } from "./hf-weights.js";
export type { HfWeights } from "./hf-weights.js";
export { HF_INDEX_FILE, HF_SINGLE_FILE, hfShardName } from "./hf-names.js";
export { encodeSafetensors, planShards, writeSafetensorsFile, writeSafetensorsSharded } from "./writer.js";
export type { TensorData, TensorPlanEntry, TensorProducer, WriteShardedOptions, WriteShardedResult } from "./writer.js";
