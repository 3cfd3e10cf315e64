/**
 * Ranking from pairwise votes: Bradley–Terry (Chatbot Arena's method) or Davidson's tie model,
 * per connected component of the comparison graph, with seeded bootstrap intervals and ranks.
 */
import type { Comparison, RankedModel } from "../../core/evidence.js";
import type { Progress } from "../../core/progress.js";
import { ConfigError } from "../../core/errors.js";
import { BOOTSTRAP_TOLERANCE, bootstrapStrengths } from "./bootstrap.js";
import { fitBradleyTerry, SEPARATION_PRIOR, toRating } from "./bradley-terry.js";
import { checkSeparation, connectedComponents } from "./components.js";
import { countPairs, restrictCounts, type PairCounts } from "./counts.js";
import { fitDavidson } from "./davidson.js";
import { quantile, ranksFromIntervals } from "./rank-intervals.js";

export { SEPARATION_PRIOR } from "./bradley-terry.js";
export { findFragileVotes } from "./robustness.js";
export type { FragileVotesOptions, FragileVotesReport } from "./robustness.js";

export type TieModel = "half" | "davidson";

export interface RankComparisonsOptions {
  /** Bootstrap rounds for the intervals (default 100; 0 gives point intervals). */
  bootstrap?: number;
  /** Seed of the bootstrap resampling (default 0). */
  seed?: number;
  /** "half": a tie is half a win each way (Arena; default). "davidson": Davidson's tie model. */
  ties?: TieModel;
  progress?: Progress;
}

export interface PairwiseRanking {
  /** Sorted best first within each component; components in the order of `components`. */
  models: RankedModel[];
  warnings: string[];
  /** Connected components of the comparison graph (model names), largest first. */
  components: string[][];
  /** Davidson's ν (of the largest component) when ties = "davidson". */
  tieParameter?: number;
}

const LOWER_QUANTILE = 0.025;
const UPPER_QUANTILE = 0.975;

export function rankComparisons(comparisons: readonly Comparison[], options: RankComparisonsOptions = {}): PairwiseRanking {
  const rounds = options.bootstrap ?? 100;
  const seed = options.seed ?? 0;
  const ties = options.ties ?? "half";
  const problems: string[] = [];
  if (!Number.isInteger(rounds) || rounds < 0) problems.push(`bootstrap must be a whole number ≥ 0, got ${rounds}`);
  if (!Number.isInteger(seed)) problems.push(`seed must be an integer, got ${seed}`);
  if (ties !== "half" && ties !== "davidson") problems.push(`ties must be "half" or "davidson", got ${JSON.stringify(ties)}`);
  if (comparisons.length === 0) problems.push("no comparisons to rank");
  if (problems.length > 0) throw new ConfigError(problems, "rank (pairwise)");

  const all = countPairs(comparisons);
  const components = connectedComponents(all);
  const warnings: string[] = [];
  if (components.length > 1) {
    warnings.push(
      `the comparisons form ${components.length} disconnected groups of models; each is rated on its own and ratings are not comparable across groups (sizes ${components.map((c) => c.length).join(", ")})`,
    );
  }
  const parts = components.map((members) => restrictCounts(all, members));

  const models: RankedModel[] = [];
  let tieParameter: number | undefined;
  const bootstrapped = parts.filter((c) => c.models.length > 1).length;
  options.progress?.start("bootstrap", rounds * bootstrapped, "rounds");
  let priorRounds = 0;
  parts.forEach((counts, index) => {
    const separation = checkSeparation(counts);
    if (!separation.finite) warnings.push(separationWarning(counts, separation.neverWon, separation.neverLost));
    let useDavidson = ties === "davidson";
    if (useDavidson) {
      const tieCount = counts.ties.reduce((s, t) => s + t, 0);
      if (tieCount === 0 && counts.models.length > 1) {
        warnings.push(`${groupName(counts, components.length)} has no ties, so the Davidson tie model reduces to Bradley–Terry (ν = 0)`);
        useDavidson = false;
        if (index === 0) tieParameter = 0;
      }
    }
    let theta: Float64Array;
    let nu: number | undefined;
    if (counts.models.length === 1) theta = new Float64Array(1);
    else if (useDavidson) {
      const result = fitDavidson(counts, { prior: separation.finite ? 0 : SEPARATION_PRIOR });
      theta = result.theta;
      nu = result.nu;
      if (index === 0) tieParameter = result.nu;
    } else {
      theta = fitBradleyTerry(counts, { prior: separation.finite ? 0 : SEPARATION_PRIOR }).theta;
    }
    // Bootstrap rounds start from the full-data fit.
    const fit = (c: PairCounts, prior: number): Float64Array =>
      useDavidson
        ? fitDavidson(c, { prior, start: theta, startNu: nu, tolerance: BOOTSTRAP_TOLERANCE }).theta
        : fitBradleyTerry(c, { prior, start: theta, tolerance: BOOTSTRAP_TOLERANCE }).theta;
    const m = counts.models.length;
    let intervals: [number, number][];
    if (rounds > 0 && m > 1) {
      const replicates = bootstrapStrengths(counts, (c) => {
        const finite = checkSeparation(c).finite;
        if (!finite) priorRounds++;
        return fit(c, finite ? 0 : SEPARATION_PRIOR);
      }, { rounds, seed: seed + index, progress: options.progress });
      intervals = counts.models.map((_, k) => {
        const column = new Float64Array(rounds);
        for (let r = 0; r < rounds; r++) column[r] = replicates[r * m + k];
        return [toRating(quantile(column, LOWER_QUANTILE)), toRating(quantile(column, UPPER_QUANTILE))];
      });
    } else {
      intervals = counts.models.map((_, k) => [toRating(theta[k]), toRating(theta[k])]);
    }
    const ranks = ranksFromIntervals(intervals);
    const ranked = counts.models.map((model, k) => ({ model, rating: toRating(theta[k]), ci: intervals[k], rank: ranks[k].rank, rankRange: ranks[k].rankRange }));
    ranked.sort((x, y) => y.rating - x.rating || (x.model < y.model ? -1 : 1));
    models.push(...ranked);
  });
  options.progress?.done();
  if (priorRounds > 0) {
    warnings.push(
      `${priorRounds} of ${rounds * bootstrapped} bootstrap rounds resampled a model that never lost or never won; those rounds used a tiny prior (${SEPARATION_PRIOR} virtual wins each way per pair), which widens the intervals of rarely compared models`,
    );
  }
  const ranking: PairwiseRanking = { models, warnings, components: parts.map((c) => c.models) };
  if (tieParameter !== undefined) ranking.tieParameter = tieParameter;
  return ranking;
}

function groupName(counts: PairCounts, groups: number): string {
  return groups > 1 ? `the group of ${counts.models[0]} (${counts.models.length} models)` : "the data";
}

function separationWarning(counts: PairCounts, neverWon: number[], neverLost: number[]): string {
  const names = (list: number[]) => list.map((k) => counts.models[k]).join(", ");
  const parts: string[] = [];
  if (neverLost.length > 0) parts.push(`never lost: ${names(neverLost)}`);
  if (neverWon.length > 0) parts.push(`never won: ${names(neverWon)}`);
  const who = parts.length > 0 ? parts.join("; ") : "a group of models never lost (or never won) against the rest";
  return `maximum-likelihood ratings would be infinite (${who}); a tiny prior of ${SEPARATION_PRIOR} virtual wins each way per compared pair was added, so these ratings are only bounds`;
}
