/**
 * From bootstrap replicates to intervals and ranks, as Chatbot Arena's leaderboard does it:
 * percentile intervals, rank = 1 + the number of models whose lower bound is above this model's
 * upper bound, and a rank range from the best to the worst place the intervals allow.
 */

/** The q-quantile (0 ≤ q ≤ 1) of finite values, linear between order statistics (NumPy's default). */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Array.from(values).filter(Number.isFinite).sort((x, y) => x - y);
  if (sorted.length === 0) return NaN;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Rank and [best, worst] rank of each interval among the given ones. */
export function ranksFromIntervals(intervals: readonly (readonly [number, number])[]): { rank: number; rankRange: [number, number] }[] {
  return intervals.map(([lower, upper]) => {
    let surelyAbove = 0;
    let surelyBelow = 0;
    for (const [otherLower, otherUpper] of intervals) {
      if (otherLower > upper) surelyAbove++;
      if (otherUpper < lower) surelyBelow++;
    }
    return { rank: 1 + surelyAbove, rankRange: [1 + surelyAbove, intervals.length - surelyBelow] };
  });
}
