/**
 * InfiFPO records for the zoo's FPO pivot, from TRAINING lines only (never held-out items): the
 * zoo's cloze construction (src/zoo/items/cloze.ts) run on each domain's training lines, in the
 * test cloze's exact format — prompt = a line up to a masked word, chosen = the true word and the
 * next few words, rejected = a same-length distractor of the domain's training vocabulary with the
 * same next words. One sentence gives up to three pairs (one per distractor).
 *
 * The fused reference of a response y: Σ_s w_s · max(−floor, ℓ_s(y)), ℓ_s the source's
 * length-normalised log-probability in its own tokenisation (per token or per byte), with w_s
 *   - "prompt": a softmax of the sources' log-probability of the prompt per byte (temperature
 *     0.03 nats per byte; bytes, because tokens of two tokenizers are not comparable): the
 *     experts that know the prompt's text count most;
 *   - "domain": equal weights on the experts of the pair's domain (every source where none is).
 * Sources of weight 0 are not run.
 */
import { Rng, seedFromLabel } from "../../core/rng.js";
import type { CorpusRecord } from "../../zoo/corpora/record.js";
import { clozeItems } from "../../zoo/items/cloze.js";
import { evaluateBitsPerByte } from "../../zoo/train/evaluate.js";
import { meanResponseLogProb, type FpoRecord, type FpoUnit } from "./fpo-objective.js";
import { domainPriors } from "./priors.js";
import type { Teacher } from "./teacher-targets.js";

export type ZooFpoReference = "prompt" | "domain";

export interface ZooFpoOptions {
  seed: number;
  /** Training sentences per domain (each gives `distractors` pairs). */
  perDomain: number;
  /** Pairs per sentence, 1–3 (default 1). */
  distractors?: number;
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

/** The cloze pairs of every domain's training lines, without references. */
export function zooClozePairs(domains: readonly { domain: string; lines: readonly string[] }[], options: Pick<ZooFpoOptions, "seed" | "perDomain" | "distractors">): { domain: string; prompt: string; chosen: string; rejected: string }[] {
  const distractors = options.distractors ?? 1;
  if (!(Number.isInteger(distractors) && distractors >= 1 && distractors <= 3)) throw new RangeError(`distractors must be 1, 2 or 3 (got ${distractors})`);
  const pairs: { domain: string; prompt: string; chosen: string; rejected: string }[] = [];
  for (const { domain, lines } of domains) {
    const rng = new Rng(seedFromLabel(`pivot-prefs/${options.seed}/${domain}`));
    const corpus: CorpusRecord[] = lines.map((text, i) => {
      const colon = text.indexOf(": ");
      const headword = colon > 0 ? text.slice(0, colon) : text;
      return { id: `train/${domain}/${i}`, key: headword, headword, definition: colon > 0 ? text.slice(colon + 2) : text, text, source: "wordnet" };
    });
    for (const item of clozeItems(domain, corpus, rng, options.perDomain)) {
      const n = item.choices.length;
      // The first distractor is drawn; the others follow it in choice order.
      const first = (item.answer + 1 + rng.int(n - 1)) % n;
      const wrong: number[] = [];
      for (let j = 0; wrong.length < Math.min(distractors, n - 1); j++) {
        const i = (first + j) % n;
        if (i !== item.answer) wrong.push(i);
      }
      for (const i of wrong) pairs.push({ domain, prompt: item.context, chosen: item.choices[item.answer]!, rejected: item.choices[i]! });
    }
  }
  return pairs;
}

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
    records.push({ ...pair, reference: { chosen, rejected: fused(w, pair.prompt, pair.rejected) } });
  }
  return records;
}
