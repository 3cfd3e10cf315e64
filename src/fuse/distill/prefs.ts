/**
 * `distillPrefs`: InfiFPO records from preference pairs. Every source (and the pivot, when given,
 * for clipping) scores each pair's chosen and rejected response after the prompt in its own
 * tokenisation, as an evaluation harness scores a continuation (prompt + response tokenised
 * whole, a long prompt cut from the left: `LanguageModel.logLikelihood`, what `cogen eval` scores
 * a cloze choice with and what the FPO trainer's `packContinuation` packs); infifpo.ts fuses the
 * reference. Values are length-normalised in `unit`: nats per token of the source's tokenisation
 * (InfiFPO's, the default) or per UTF-8 byte of the response (comparable across tokenizers). One
 * JSON object per pair, written atomically (schema 2, fpo-records.ts; schema-1 files, written
 * before, have no "format" and "unit" and are per token):
 *
 *   {"format": "cogen-fpo/2", "unit": "token" | "byte", "prompt", "chosen", "rejected",
 *    "reference": {"chosen", "rejected"},            fused, nats per unit (what the trainer reads)
 *    "sources": [{"id", "weight", "chosen", "rejected", "chosen_tokens", "rejected_tokens"}],
 *    "pivot": {"chosen", "rejected"},                 when given
 *    "fusion": "max-margin" | "weighted"}
 *
 * A TRL DPOTrainer user takes prompt/chosen/rejected as they are and adds the columns TRL reads
 * instead of running a reference model, summed log-probabilities: ref_chosen_logps =
 * reference.chosen × n(chosen), likewise for rejected, n = the policy's tokens of the response for
 * unit token, its UTF-8 bytes for unit byte (TRL sums per-token log-probabilities; InfiFPO's are
 * means). docs/ARCHITECTURE.md (fuse: distillation, FPO) says when TRL's loss then equals ours.
 */
import { writeFileAtomic } from "../../core/atomic.js";
import { BackendError, ConfigError, InputFileError } from "../../core/errors.js";
import type { LanguageModel } from "../../core/language-model.js";
import { silentProgress, type Progress } from "../../core/progress.js";
import { forEachJsonlObject } from "../../formats/jsonl.js";
import type { ExpertSpec } from "../../formats/models-file.js";
import { ModelPool } from "../../models/pool.js";
import type { FpoUnit } from "./fpo-objective.js";
import { FPO_RECORD_FORMAT } from "./fpo-records.js";
import { fuseReference, type FpoFusion, type SourcePreferenceScore } from "./infifpo.js";
import { readTextFile } from "../../core/files.js";

export interface PreferencePair {
  prompt: string;
  chosen: string;
  rejected: string;
}

export interface InfiFpoRecord extends PreferencePair {
  format: typeof FPO_RECORD_FORMAT;
  /** What every value below is normalised by: the response's tokens (each source's own) or its UTF-8 bytes. */
  unit: FpoUnit;
  reference: { chosen: number; rejected: number };
  sources: { id: string; weight: number; chosen: number; rejected: number; chosen_tokens: number; rejected_tokens: number }[];
  pivot?: { chosen: number; rejected: number };
  fusion: FpoFusion;
}

export async function readPreferencePairs(file: string): Promise<PreferencePair[]> {
  const text = await readTextFile(file);
  const pairs: PreferencePair[] = [];
  forEachJsonlObject(text, file, "with string fields prompt, chosen and rejected", (r, line) => {
    for (const field of ["prompt", "chosen", "rejected"] as const) {
      if (typeof r[field] !== "string") throw new InputFileError(file, `field '${field}' must be a string`, line);
    }
    for (const field of ["chosen", "rejected"] as const) if ((r[field] as string).length === 0) throw new InputFileError(file, `field '${field}' is empty`, line);
    if (r.chosen === r.rejected) throw new InputFileError(file, "chosen and rejected are the same text", line);
    pairs.push({ prompt: r.prompt as string, chosen: r.chosen as string, rejected: r.rejected as string });
  });
  if (pairs.length === 0) throw new InputFileError(file, "holds no preference pairs");
  return pairs;
}

export interface DistillPrefsOptions {
  sources: ExpertSpec[];
  pairs: PreferencePair[];
  out: string;
  /** The model being trained, for probability clipping. */
  pivot?: ExpertSpec;
  fusion?: FpoFusion;
  /** Length normalisation of every value (default "token"). */
  unit?: FpoUnit;
  /** "weighted" fusion: per-source weights (default equal). */
  weights?: number[];
  pool?: ModelPool;
  progress?: Progress;
}

/** Mean log-probability of `response` after `prompt` per token or per byte, and its token count. */
async function normalised(model: LanguageModel, prompt: string, response: string, unit: FpoUnit): Promise<{ value: number; tokens: number }> {
  const scored = await model.logLikelihood(prompt, response);
  if (scored.tokens === 0) throw new BackendError(model.id, `the response ${JSON.stringify(response.slice(0, 40))} has no tokens of its own after the prompt`);
  // Bytes of the response itself, as the trainer divides (packContinuation), whatever token straddles the boundary.
  return { value: scored.logprob / (unit === "byte" ? Buffer.byteLength(response, "utf8") : scored.tokens), tokens: scored.tokens };
}

export async function distillPrefs(options: DistillPrefsOptions): Promise<{ out: string; records: InfiFpoRecord[]; seconds: number }> {
  const started = Date.now();
  const fusion = options.fusion ?? "max-margin";
  const unit = options.unit ?? "token";
  const problems: string[] = [];
  if (unit !== "token" && unit !== "byte") problems.push(`unit must be "token" or "byte" (got ${JSON.stringify(unit)})`);
  if (options.sources.length === 0) problems.push("no sources");
  if (options.weights && options.weights.length !== options.sources.length) problems.push(`--weights gives ${options.weights.length} numbers for ${options.sources.length} sources`);
  if (options.weights && fusion !== "weighted") problems.push("weights apply to 'weighted' fusion only");
  if (problems.length > 0) throw new ConfigError(problems, "distill prefs");
  const ownPool = options.pool ? undefined : new ModelPool();
  const pool = options.pool ?? ownPool!;
  const progress = options.progress ?? silentProgress;
  const models = [...options.sources, ...(options.pivot ? [options.pivot] : [])];
  const scores: { chosen: { value: number; tokens: number }; rejected: { value: number; tokens: number } }[][] = [];
  progress.start("prefs", models.length * options.pairs.length, "pairs");
  try {
    // One model at a time over every pair, so only one is loaded at once.
    for (const spec of models) {
      const column = await pool.use(spec, async (model) => {
        const out = [];
        for (const pair of options.pairs) {
          out.push({ chosen: await normalised(model, pair.prompt, pair.chosen, unit), rejected: await normalised(model, pair.prompt, pair.rejected, unit) });
          progress.tick(1);
        }
        return out;
      });
      await pool.evict(spec);
      scores.push(column);
    }
  } finally {
    await ownPool?.close();
  }
  const records = options.pairs.map((pair, p): InfiFpoRecord => {
    const perSource: SourcePreferenceScore[] = options.sources.map((s, i) => ({
      id: s.id, chosen: scores[i][p].chosen.value, rejected: scores[i][p].rejected.value,
      chosenTokens: scores[i][p].chosen.tokens, rejectedTokens: scores[i][p].rejected.tokens,
    }));
    const pivot = options.pivot ? { chosen: scores[models.length - 1][p].chosen.value, rejected: scores[models.length - 1][p].rejected.value } : undefined;
    const fused = fuseReference(perSource, { fusion, pivot, weights: options.weights });
    return {
      format: FPO_RECORD_FORMAT,
      unit,
      ...pair,
      reference: fused.reference,
      sources: perSource.map((s, i) => ({ id: s.id, weight: fused.weights[i], chosen: s.chosen, rejected: s.rejected, chosen_tokens: s.chosenTokens, rejected_tokens: s.rejectedTokens })),
      ...(pivot ? { pivot } : {}),
      fusion,
    };
  });
  await writeFileAtomic(options.out, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  progress.done(`${records.length} records`);
  return { out: options.out, records, seconds: (Date.now() - started) / 1000 };
}
