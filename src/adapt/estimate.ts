/**
 * What a LoRA run on a base will cost before it starts, so `cogen adapt lora` can refuse a run
 * that does not fit (`--max-memory`, `--max-minutes`) instead of failing hours in. Memory counts
 * the frozen base twice (the float32 copy read from disk and the tfjs tensors), the adapters with
 * their gradient and two AdamW moments, one step's saved activations and the logits with their
 * softmax and gradient. Time is the steps' floating-point work (forward + backward ≈ 3× forward)
 * and the held-out evaluations' forward passes over a throughput measured for the wasm backend on one core (zoo family A: 6.6 steps/s of 1024
 * tokens, docs/ARCHITECTURE.md "zoo: train"), halved for a loaded machine.
 */
import type { LlamaConfig } from "../formats/hf/config.js";


export interface LoraRunShape {
  rank: number;
  steps: number;
  batchSize: number;
  seqLen: number;
  /** Held-out tokens scored at each of `evaluations` evaluations (forward passes only). */
  evalTokens?: number;
  evaluations?: number;
}

export interface LoraEstimate {
  baseParameters: number;
  loraParameters: number;
  memoryBytes: number;
  flopsPerStep: number;
  seconds: number;
}

/** Multiply-adds per second × 2 the wasm backend sustains on one loaded core (see above). */
export const WASM_FLOPS_PER_SECOND = 3e9;
const RUNTIME_OVERHEAD_BYTES = 96 * 1024 * 1024;

export function estimateLoraRun(config: LlamaConfig, run: LoraRunShape): LoraEstimate {
  const h = config.hiddenSize;
  const kv = config.numKvHeads * config.headDim;
  const q = config.numHeads * config.headDim;
  const ffn = config.intermediateSize;
  const perLayer = h * q + 2 * h * kv + q * h + 3 * h * ffn + 2 * h;
  const embeddings = config.vocabSize * h * (config.tieWordEmbeddings ? 1 : 2);
  const baseParameters = config.numLayers * perLayer + embeddings + h;
  // The seven adapted projections: rank × (in + out) each.
  const loraPerLayer = run.rank * ((h + q) + 2 * (h + kv) + (q + h) + 2 * (h + ffn) + (ffn + h));
  const loraParameters = config.numLayers * loraPerLayer;
  const tokens = run.batchSize * run.seqLen;
  const activationsPerLayer = tokens * (10 * h + 2 * q + 2 * kv + 4 * ffn) + run.batchSize * config.numHeads * run.seqLen * run.seqLen * 2;
  const activations = config.numLayers * activationsPerLayer + 3 * tokens * config.vocabSize;
  const memoryBytes = 4 * (2 * baseParameters + 4 * loraParameters + 2 * activations) + RUNTIME_OVERHEAD_BYTES;
  const forward = 2 * tokens * (config.numLayers * perLayer + config.vocabSize * h) + 4 * run.batchSize * config.numLayers * run.seqLen * run.seqLen * q;
  const flopsPerStep = 3 * forward;
  const evalFlops = (run.evaluations ?? 0) * (run.evalTokens ?? 0) * (forward / tokens);
  return { baseParameters, loraParameters, memoryBytes, flopsPerStep, seconds: (run.steps * flopsPerStep + evalFlops) / WASM_FLOPS_PER_SECOND };
}
