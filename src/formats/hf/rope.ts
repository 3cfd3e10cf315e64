import type { LlamaConfig } from "./config.js";

/**
 * Rotary position embedding frequencies of a llama-family config, with its `rope_scaling`, as
 * Hugging Face's transformers computes them (modeling_rope_utils): the inverse frequency of each
 * rotated pair and the factor YaRN multiplies cos/sin by. The TypeScript forward pass uses these;
 * the GGUF converter writes the same scaling as llama.cpp's keys (and Llama 3's per-pair factors as
 * the `rope_freqs.weight` tensor, as convert_hf_to_gguf.py does).
 */
export interface RotaryFrequencies {
  /** Per rotated pair j (headDim/2 of them): θ_j = pos · invFreq[j]. */
  invFreq: Float64Array;
  /** cos and sin are multiplied by this (YaRN's attention factor; 1 otherwise). */
  scale: number;
}

export function rotaryFrequencies(config: LlamaConfig): RotaryFrequencies {
  const dim = config.headDim;
  const base = Array.from({ length: dim / 2 }, (_, j) => Math.pow(config.ropeTheta, (-2 * j) / dim));
  const scaling = config.ropeScaling;
  if (!scaling) return { invFreq: Float64Array.from(base), scale: 1 };
  if (scaling.type === "linear") return { invFreq: Float64Array.from(base, (f) => f / scaling.factor), scale: 1 };
  if (scaling.type === "llama3") {
    const factors = llama3RopeFactors(config)!;
    return { invFreq: Float64Array.from(base, (f, j) => f / factors[j]), scale: 1 };
  }
  // YaRN: interpolate the low frequencies, keep (extrapolate) the high ones, with a linear ramp
  // between the correction dimensions for beta_fast and beta_slow rotations.
  const correctionDim = (rotations: number) => (dim * Math.log(scaling.originalMaxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(config.ropeTheta));
  const low = Math.max(Math.floor(correctionDim(scaling.betaFast)), 0);
  const high = Math.min(Math.ceil(correctionDim(scaling.betaSlow)), dim - 1);
  const span = low === high ? 0.001 : high - low;
  const invFreq = Float64Array.from(base, (f, j) => {
    const extrapolation = 1 - Math.min(1, Math.max(0, (j - low) / span));
    return (f / scaling.factor) * (1 - extrapolation) + f * extrapolation;
  });
  return { invFreq, scale: scaling.factor <= 1 ? 1 : 0.1 * Math.log(scaling.factor) + 1 };
}

/** Llama 3.1's per-pair frequency divisors (GGUF `rope_freqs.weight`), or undefined for other scalings. */
export function llama3RopeFactors(config: LlamaConfig): Float32Array | undefined {
  const scaling = config.ropeScaling;
  if (scaling?.type !== "llama3") return undefined;
  const dim = config.headDim;
  const lowWavelength = scaling.originalMaxPositions / scaling.lowFreqFactor;
  const highWavelength = scaling.originalMaxPositions / scaling.highFreqFactor;
  return Float32Array.from({ length: dim / 2 }, (_, j) => {
    const wavelength = (2 * Math.PI) / Math.pow(config.ropeTheta, (-2 * j) / dim);
    if (wavelength < highWavelength) return 1;
    if (wavelength > lowWavelength) return scaling.factor;
    const smooth = (scaling.originalMaxPositions / wavelength - scaling.lowFreqFactor) / (scaling.highFreqFactor - scaling.lowFreqFactor);
    return 1 / ((1 - smooth) / scaling.factor + smooth);
  });
}
