/**
 * The zoo's build plan: two model families (different tokenizers, widths and depths), a base per
 * family trained on the mixture of all domains, experts adapted from the base on one domain
 * each, and an equal-compute control (the base trained the same extra steps, the same way, on the
 * mixture), and a centralised model (see `centralised`). Training length is in optimizer steps,
 * never seconds, so a rebuild gives the same bytes. `quick` is a tiny build for tests and smoke
 * checks.
 */
import type { BpeFlavour } from "../bpe-train.js";

export interface FamilyPlan {
  /** "a" or "b": the folder name under the zoo. */
  name: string;
  tokenizer: { flavour: BpeFlavour; merges: number };
  model: { hiddenSize: number; intermediateSize: number; numLayers: number; numHeads: number };
  seqLen: number;
  batchSize: number;
  base: { steps: number; lr: number; seed: number };
  /** How experts and the control adapt the base. */
  adapt: { steps: number; lr: number; lora: { rank: number; alpha: number } };
  /** Domains that get an expert. */
  experts: string[];
  /** Train an equal-compute control on the mixture. */
  control: boolean;
  /**
   * Train a centralised model: the base adapted exactly as the experts are (same LoRA, learning
   * rate, batch and sequence length) on the mixture of all domains, for as many steps — and so
   * as many tokens — as all the family's experts together (experts × adapt.steps). It is what
   * "model over data" does with the compute "model over models" spent on the experts.
   */
  centralised: boolean;
}

export interface ZooPlan {
  /** "full" (the committed zoo) or "quick". */
  kind: "full" | "quick";
  dataSeed: number;
  /** Multiple-choice items per domain and kind. */
  itemsPerDomain: number;
  /** Bytes of each domain's train text that the tokenizers are trained on. */
  tokenizerSampleBytes: number;
  /** Held-out bytes per domain for the trainer's own bits-per-byte (manifest metrics). */
  heldOutEvalBytes: number;
  /** Contexts per model in the llama.cpp ↔ TypeScript parity check. */
  parityContexts: number;
  families: FamilyPlan[];
  /** Parallel lanes (child processes, one per core) for training. */
  lanes: number;
}

export const ZOO_DOMAINS_ALL = ["medicine", "law", "finance", "computing", "geography", "biology", "food", "people"];

export function zooPlan(kind: "full" | "quick"): ZooPlan {
  if (kind === "quick") {
    return {
      kind, dataSeed: 0, itemsPerDomain: 8, tokenizerSampleBytes: 4_000, heldOutEvalBytes: 1_500, parityContexts: 2, lanes: 2,
      families: [
        {
          name: "a", tokenizer: { flavour: "byte-fallback", merges: 40 },
          model: { hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 2 }, seqLen: 32, batchSize: 4,
          base: { steps: 6, lr: 3e-3, seed: 11 }, adapt: { steps: 3, lr: 4e-3, lora: { rank: 4, alpha: 4 } },
          experts: ["medicine", "geography"], control: true, centralised: true,
        },
        {
          name: "b", tokenizer: { flavour: "byte-level", merges: 40 },
          model: { hiddenSize: 24, intermediateSize: 48, numLayers: 2, numHeads: 2 }, seqLen: 32, batchSize: 4,
          base: { steps: 6, lr: 3e-3, seed: 21 }, adapt: { steps: 3, lr: 4e-3, lora: { rank: 4, alpha: 4 } },
          experts: ["geography"], control: false, centralised: false,
        },
      ],
    };
  }
  return {
    kind, dataSeed: 0, itemsPerDomain: 200, tokenizerSampleBytes: 40_000, heldOutEvalBytes: 16_000, parityContexts: 3, lanes: 2,
    families: [
      {
        name: "a", tokenizer: { flavour: "byte-fallback", merges: 300 },
        model: { hiddenSize: 64, intermediateSize: 176, numLayers: 2, numHeads: 4 }, seqLen: 64, batchSize: 16,
        base: { steps: BASE_A_STEPS, lr: 3e-3, seed: 1 }, adapt: { steps: ADAPT_STEPS, lr: ADAPT_LR, lora: { rank: LORA_RANK, alpha: LORA_RANK } },
        experts: [...ZOO_DOMAINS_ALL], control: true, centralised: true,
      },
      {
        name: "b", tokenizer: { flavour: "byte-level", merges: 300 },
        model: { hiddenSize: 48, intermediateSize: 128, numLayers: 3, numHeads: 4 }, seqLen: 64, batchSize: 16,
        base: { steps: BASE_B_STEPS, lr: 3e-3, seed: 2 }, adapt: { steps: ADAPT_STEPS, lr: ADAPT_LR, lora: { rank: LORA_RANK, alpha: LORA_RANK } },
        experts: ["biology", "geography", "finance"], control: false, centralised: false,
      },
    ],
  };
}

// Step counts chosen from steps/s measured on the shared 2-core machine (see docs/ARCHITECTURE.md, zoo: build).
const BASE_A_STEPS = 900;
const BASE_B_STEPS = 900;
const ADAPT_STEPS = 200;
const ADAPT_LR = 4e-3;
const LORA_RANK = 16;
