/**
 * InfiFPO's fused reference for one preference pair, from each source's length-normalised
 * log-probabilities of the chosen and rejected responses (nats per token of the source's own
 * tokenisation, InfiFPO's, or per UTF-8 byte of the response; one unit for all). Pure.
 *
 * - Probability clipping: a source may not make the reference worse than the pivot itself on a
 *   pair — its chosen log-probability is raised to the pivot's where lower, its rejected one
 *   lowered to the pivot's where higher (an underperforming source then adds no noise). Without a
 *   pivot, log-probabilities are only floored at −`floor` nats per unit.
 * - Fusion: "max-margin" puts all weight on the source with the largest clipped margin
 *   ℓ(chosen) − ℓ(rejected), the one that separates the pair most clearly; "weighted" uses the
 *   given weights (a ranking, the router's domain posterior; equal by default).
 * reference = Σ_s w_s · ℓ̂_s (a weighted product of the sources' normalised sequence probabilities).
 */
export type FpoFusion = "max-margin" | "weighted";

export interface SourcePreferenceScore {
  id: string;
  /** Length-normalised log-probabilities (nats per token or per byte) and the source's token counts. */
  chosen: number;
  rejected: number;
  chosenTokens: number;
  rejectedTokens: number;
}

export interface FusedReference {
  reference: { chosen: number; rejected: number };
  /** Per source, in input order. */
  weights: number[];
  /** The clipped values the reference combines. */
  clipped: { chosen: number; rejected: number }[];
}

/** Length-normalised log-probabilities below this many nats per unit are floored (no pivot given). */
export const DEFAULT_FPO_FLOOR = 10;

export function fuseReference(
  scores: readonly SourcePreferenceScore[],
  options: { fusion: FpoFusion; pivot?: { chosen: number; rejected: number }; weights?: readonly number[]; floor?: number },
): FusedReference {
  if (scores.length === 0) throw new RangeError("no source scores");
  const floor = -(options.floor ?? DEFAULT_FPO_FLOOR);
  const clipped = scores.map((s) => {
    let chosen = Math.max(floor, s.chosen);
    let rejected = Math.max(floor, s.rejected);
    if (options.pivot) {
      chosen = Math.max(chosen, options.pivot.chosen);
      rejected = Math.min(rejected, options.pivot.rejected);
    }
    return { chosen, rejected };
  });
  let weights: number[];
  if (options.fusion === "max-margin") {
    let best = 0;
    clipped.forEach((c, i) => {
      if (c.chosen - c.rejected > clipped[best].chosen - clipped[best].rejected) best = i;
    });
    weights = clipped.map((_, i) => (i === best ? 1 : 0));
  } else {
    const raw = options.weights ?? scores.map(() => 1);
    if (raw.length !== scores.length || raw.some((w) => !(w >= 0)) || !raw.some((w) => w > 0)) throw new RangeError("weights must be one non-negative number per source, not all 0");
    const total = raw.reduce((a, b) => a + b, 0);
    weights = raw.map((w) => w / total);
  }
  const reference = {
    chosen: clipped.reduce((s, c, i) => s + weights[i] * c.chosen, 0),
    rejected: clipped.reduce((s, c, i) => s + weights[i] * c.rejected, 0),
  };
  return { reference, weights, clipped };
}
