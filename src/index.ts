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
export type { CsvRecord, CsvTable } from "./formats/csv.js";
export { parseCsv, parseCsvTable, columnIndices } from "./formats/csv.js";
export type { Battles, BattleLayout, ReadBattlesOptions } from "./formats/battles.js";
export { readBattles, parseBattles, parseBattlesCsv, parseBattlesJsonl, detectBattleLayout, BATTLE_LAYOUTS } from "./formats/battles.js";
export type { PairwiseRanking, RankComparisonsOptions, TieModel } from "./rank/pairwise/index.js";
export { rankComparisons, SEPARATION_PRIOR } from "./rank/pairwise/index.js";
export { findFragileVotes } from "./rank/pairwise/index.js";
export type { FragileVotesOptions, FragileVotesReport } from "./rank/pairwise/index.js";
export type { ResponseMatrix } from "./rank/responses.js";
export { buildResponseMatrix, selectItems, meanScores } from "./rank/responses.js";
export type { IrtFit, IrtOptions } from "./rank/irt.js";
export { fitIrt, IRT_DEFAULTS } from "./rank/irt.js";
export type { Ranking, ModelRanking, DomainAbility, ItemReport, ItemFlag, AnchorReport, VoteRobustness } from "./rank/ranking.js";
export type { PerItemFit, PerItemOptions } from "./rank/per-item.js";
export { rankResults } from "./rank/per-item.js";
export { itemReports, suspiciousItems, byInformation, LOW_DISCRIMINATION, NEGATIVE_DISCRIMINATION } from "./rank/item-quality.js";
export type { AnchorOptions, AnchorSet } from "./rank/anchors.js";
export { selectAnchors, findAnchors, predictScores, fullScores } from "./rank/anchors.js";
export type { Expert } from "./rank/select.js";
export { selectExperts, probabilityBest } from "./rank/select.js";
export type { RankVotesOptions } from "./rank/from-votes.js";
export { rankVotes } from "./rank/from-votes.js";
export type { Evidence, EvidenceFormat, LoadEvidenceOptions } from "./rank/evidence-files.js";
export { loadEvidence } from "./rank/evidence-files.js";
export { renderRankingHtml } from "./rank/html-report.js";
export { readResultsFile, parseResultsJsonl, parseResultsCsv } from "./formats/results.js";
export type { LmEvalOptions, LmEvalResults } from "./formats/lm-eval.js";
export { readLmEvalFolder, PREFERRED_METRICS } from "./formats/lm-eval.js";
export type { GgufFile, OpenGgufOptions } from "./formats/gguf/reader.js";
export { openGguf, openGgufBytes } from "./formats/gguf/reader.js";
export type { GgufTensorInfo } from "./formats/gguf/header.js";
export type { GgufTensorPlan } from "./formats/gguf/encode-header.js";
export type { WriteGgufOptions, GgufPlannedTensor, GgufWriteSummary } from "./formats/gguf/writer.js";
export { writeGguf } from "./formats/gguf/writer.js";
export { encodeTensor, dequantize } from "./formats/gguf/codec.js";
export type { GgufValue, GgufScalar, GgufArray, GgufMetadata, GgufNumberType, GgufBigIntType } from "./formats/gguf/values.js";
export { ggufValue, getGgufString, getGgufNumber, getGgufArray } from "./formats/gguf/values.js";
export type { GgufScalarType, GgufValueType, GgmlTypeInfo } from "./formats/gguf/constants.js";
export { GGML_TYPES, GGUF_ENCODABLE_DTYPES } from "./formats/gguf/constants.js";
export { checkLlamaCppRequirements, assertLoadableByLlamaCpp, LLAMA_CPP_CHECKED_ARCHITECTURES } from "./formats/gguf/llama-check.js";
