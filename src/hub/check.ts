/**
 * Submitted evidence is checked, not trusted: the hub re-runs a seeded random sample of the
 * submitted items and compares means. They disagree when |submitted − rerun| exceeds
 * z·√(se_s² + se_r²) (z = 1.96: a two-sided 95% test on the difference of two means), where
 * each se is the sample standard error of the mean over the same sampled items.
 */
import { Rng } from "../core/rng.js";
import { Z95 } from "../rank/ranking.js";

/** A pure floor so that two identical, zero-variance samples of 0/1 scores still compare equal. */
const MIN_STDERR = 1e-9;

export function meanAndStderr(scores: readonly number[]): { mean: number; stderr: number } {
  const n = scores.length;
  if (n === 0) return { mean: 0, stderr: 0 };
  const mean = scores.reduce((s, x) => s + x, 0) / n;
  if (n === 1) return { mean, stderr: 0 };
  const variance = scores.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1);
  return { mean, stderr: Math.sqrt(variance / n) };
}

/** `size` distinct ids drawn from `ids` (sorted first, so the draw depends on the set and seed only). */
export function sampleItems(ids: readonly string[], size: number, seed: number): string[] {
  const sorted = [...ids].sort();
  const rng = new Rng(seed);
  for (let i = sorted.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [sorted[i], sorted[j]] = [sorted[j], sorted[i]];
  }
  return sorted.slice(0, Math.min(size, sorted.length));
}

export interface Comparison {
  submittedMean: number;
  submittedStderr: number;
  rerunMean: number;
  rerunStderr: number;
  disagrees: boolean;
}

export function compareSubmitted(submitted: readonly number[], rerun: readonly number[], z = Z95): Comparison {
  const s = meanAndStderr(submitted);
  const r = meanAndStderr(rerun);
  const se = Math.max(MIN_STDERR, Math.sqrt(s.stderr ** 2 + r.stderr ** 2));
  return { submittedMean: s.mean, submittedStderr: s.stderr, rerunMean: r.mean, rerunStderr: r.stderr, disagrees: Math.abs(s.mean - r.mean) > z * se };
}
