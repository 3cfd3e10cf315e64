/**
 * `buildPivotTargets`: one text's PivotTargets (pivot-targets.ts, the trainer's contract) from the
 * sources' top-K in their own tokenisations: the aligned (FuseLLM) and/or uld (InfiFusion)
 * targets of fusion.ts, with per-text source weights.
 */
import { alignTokens } from "./align.js";
import { alignedTarget, sourceWeights, uldTarget, type CombineRule, type SourceTopK } from "./fusion.js";
import { pivotText, type Pivot } from "./pivot.js";
import type { PivotTargets } from "./pivot-targets.js";

export type FusionMode = "aligned" | "uld";

export interface BuildPivotTargetsOptions {
  /** Default: both. */
  modes?: readonly FusionMode[];
  /** Candidates per position in the targets (default 8). */
  k?: number;
  /** How the aligned target combines sources (default "min-ce", FuseLLM's better rule). ULD always weighs them (avg-ce). */
  combine?: CombineRule;
  /** Per-source prior weight for this text (a ranking, the router's domain posterior); default equal. */
  priors?: Float64Array;
}

/** Undefined when no source scored the text or the pivot gives it no tokens. */
export function buildPivotTargets(pivot: Pivot, text: string, sources: readonly (SourceTopK | undefined)[], options: BuildPivotTargetsOptions = {}): PivotTargets | undefined {
  const present = sources.map((s) => (s && s.end.length > 0 ? s : undefined));
  if (present.every((s) => s === undefined)) return undefined;
  const view = pivotText(pivot, text);
  if (view.ids.length === 0) return undefined;
  const modes = options.modes ?? ["aligned", "uld"];
  const k = options.k ?? 8;
  const targets: PivotTargets = { tokens: view.ids };
  if (modes.includes("aligned")) {
    const weights = sourceWeights(present, options.combine ?? "min-ce", options.priors);
    const alignments = present.map((s, i) => (s && weights[i] > 0 ? alignTokens(Array.from(s.token, (x) => s.strings[x]), view.strings) : undefined));
    targets.aligned = alignedTarget(view, present, alignments, pivot.vocabulary, k, weights);
  }
  if (modes.includes("uld")) targets.uld = uldTarget(view, present, k, sourceWeights(present, "avg-ce", options.priors));
  return targets;
}
