/**
 * InfiFPO records for the zoo's FPO pivot: the pairs of zoo-pairs.ts (TRAINING lines only, the
 * test cloze's format) with their fused reference.
 *
 * The fused reference of a response y: Σ_s w_s · max(−floor, ℓ_s(y)), ℓ_s the source's
 * length-normalised log-probability in its own tokenisation (per token or per byte), with w_s
 *   - "prompt": a softmax of the sources' log-probability of the prompt per byte (temperature
 *     0.03 nats per byte; bytes, because tokens of two tokenizers are not comparable): the
 *     experts that know the prompt's text count most;
 *   - "domain": equal weights on the experts of the pair's domain (every source where none is).
 * Sources of weight 0 are not run.
 */
import { evaluateBitsPerByte } from "../../zoo/train/evaluate.js";
import { meanResponseLogProb, type FpoRecord, type FpoUnit } from "./fpo-objective.js";
import { domainPriors } from "./priors.js";
import type { Teacher } from "./teacher-targets.js";
import { zooClozePairs, type ZooPairsOptions } from "./zoo-pairs.js";

export type ZooFpoReference = "prompt" | "domain";

export interface ZooFpoOptions extends ZooPairsOptions {
  unit?: FpoUnit;
  reference?: ZooFpoReference;
}

export interface ZooFpoRecord extends FpoRecord {
  domain: string;
}

/** Per-source normalised log-probabilities below −this are floored, so one source that finds a response absurd cannot dominate. */
const REFERENCE_FLOOR = 10;
/** A source whose prompt costs 0.03 nats per byte more than the best one's counts e⁻¹ as much. */
const PROMPT_TEMPERATURE = 0.03;

/** The pairs with their fused reference, in `unit`; `teacherDomains[i]` is teacher i's domain. */
export async function zooFpoRecords(
  domains: readonly { domain: string; lines: readonly string[] }[],
  teachers: readonly Teacher[],
  teacherDomains: readonly string[],
  options: ZooFpoOptions,
): Promise<ZooFpoRecord[]> {
  const unit = options.unit ?? "token";
  const reference = options.reference ?? "prompt";
  const pairs = zooClozePairs(domains, options);
  const weightsOf = new Map<string, number[]>();
  const weights = async (pair: { domain: string; prompt: string }) => {
    const key = `${pair.domain}\u0000${pair.prompt}`;
    let w = weightsOf.get(key);
    if (w) return w;
    if (reference === "domain") w = domainPriors(pair.domain, teacherDomains);
    else {
      const scores: number[] = [];
      for (const t of teachers) scores.push(-(await evaluateBitsPerByte(t.model, t.tokenizer, pair.prompt, { seqLen: t.model.config.maxPositions })).bitsPerByte * Math.LN2);
      const top = Math.max(...scores);
      w = scores.map((s) => Math.exp((s - top) / PROMPT_TEMPERATURE));
    }
    const total = w.reduce((a, b) => a + b, 0);
    w = w.map((x) => x / total);
    weightsOf.set(key, w);
    return w;
  };
  const fused = (w: readonly number[], prompt: string, y: string) =>
    teachers.reduce((sum, t, i) => (w[i]! > 0 ? sum + w[i]! * Math.max(-REFERENCE_FLOOR, meanResponseLogProb(t.model, t.tokenizer, prompt, y, unit)) : sum), 0);
  const chosenOf = new Map<string, number>();
  const records: ZooFpoRecord[] = [];
  for (const pair of pairs) {
    const w = await weights(pair);
    const key = `${pair.domain}\u0000${pair.prompt}\u0000${pair.chosen}`;
    let chosen = chosenOf.get(key);
    if (chosen === undefined) chosenOf.set(key, (chosen = fused(w, pair.prompt, pair.chosen)));
    // Fields in this order, without the pair's id: the pivots manifest hashes the records as they are.
    records.push({ domain: pair.domain, prompt: pair.prompt, chosen: pair.chosen, rejected: pair.rejected, reference: { chosen, rejected: fused(w, pair.prompt, pair.rejected) } });
  }
  return records;
}
