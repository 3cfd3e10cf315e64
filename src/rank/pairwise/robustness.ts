/**
 * How fragile is a ranking? The smallest set of votes whose removal flips the top model (or the
 * order of a named pair), in Bradley–Terry with ties as half a win.
 *
 * Influence (first order, implicit function theorem): at the MLE θ̂ the score Σ_k w_k g_k(θ̂) is
 * zero, so removing vote k (w_k: 1 → 0) moves θ̂ by about −A⁻¹ g_k, where A = −∇²ℓ(θ̂) and
 * g_k = (y_k − σ(θ_i − θ_j))·(e_i − e_j) with y_k = 1, ½ or 0 for a win of i, a tie, a win of j.
 * The gap θ_A − θ_B then moves by −(y_k − σ)(v_i − v_j) with v = A⁻¹(e_A − e_B): one linear
 * solve gives every vote's influence. Votes are removed greedily, most gap-closing first, until
 * the predicted gap is negative; the set is checked by refitting without it (re-linearising and
 * adding votes if the prediction fell short) and then trimmed to the shortest prefix of the greedy
 * order whose removal still flips the pair when refitted. The result is small but, the exact
 * problem being combinatorial, not proven minimal.
 */
import type { Comparison } from "../../core/evidence.js";
import { ConfigError } from "../../core/errors.js";
import { fitBradleyTerry, RATING_SCALE, SEPARATION_PRIOR, sigmoid } from "./bradley-terry.js";
import { checkSeparation, connectedComponents } from "./components.js";
import { cellsOf, countPairs, restrictCounts, withCells, type PairCounts } from "./counts.js";
import { choleskySolve } from "./newton.js";

export interface FragileVotesOptions {
  /** Flip this pair's order instead of the top model. */
  pair?: [string, string];
  /** Re-linearisation rounds when the first prediction falls short (default 10). */
  maxRounds?: number;
}

export interface FragileVotesReport {
  /** The model ahead now and the one that would overtake it. */
  leader: string;
  challenger: string;
  /** Rating gap leader − challenger now, in rating points. */
  gap: number;
  /** Indices into the comparisons of the votes to remove, ascending. */
  votes: number[];
  /** Gap after removing `votes` as predicted by the first-order influences at the full-data fit. */
  predictedGap: number;
  /** Gap after refitting without `votes`. */
  refittedGap: number;
  /** The refit confirms the flip (for the top model: the leader is no longer first). */
  confirmed: boolean;
}

const DEFAULT_ROUNDS = 10;
const CHALLENGERS_TRIED = 5;
/** A flip must beat fitting noise: strengths equal to within this (natural-log units) are a tie, not a flip. */
const FLIP_MARGIN = 1e-8;

export function findFragileVotes(comparisons: readonly Comparison[], options: FragileVotesOptions = {}): FragileVotesReport {
  if (comparisons.length === 0) throw new ConfigError(["no comparisons to analyse"], "robustness");
  const all = countPairs(comparisons);
  const components = connectedComponents(all);
  let members = components[0];
  if (options.pair) {
    const [a, b] = options.pair;
    const missing = [a, b].filter((m) => !all.models.includes(m));
    if (missing.length > 0) throw new ConfigError(missing.map((m) => `model "${m}" does not appear in the comparisons`), "robustness");
    if (a === b) throw new ConfigError([`the pair names "${a}" twice`], "robustness");
    const ia = all.models.indexOf(a);
    members = components.find((c) => c.includes(ia))!;
    if (!members.includes(all.models.indexOf(b))) {
      throw new ConfigError([`"${a}" and "${b}" are in disconnected groups of the comparison graph; their ratings cannot be compared`], "robustness");
    }
  }
  const counts = restrictCounts(all, members);
  if (counts.models.length < 2) throw new ConfigError(["the comparisons need at least two connected models"], "robustness");
  // Votes of each local cell, in file order.
  const local = new Int32Array(all.i.length).fill(-1);
  counts.pairMap.forEach((p, q) => (local[p] = q));
  const votesOfCell: number[][] = Array.from({ length: counts.i.length * 3 }, () => []);
  comparisons.forEach((_, k) => {
    const cell = all.cellOfVote[k];
    const q = local[(cell / 3) | 0];
    if (q >= 0) votesOfCell[q * 3 + (cell % 3)].push(k);
  });
  const baseCells = cellsOf(counts);
  const theta = fit(counts);
  const order = Array.from(theta.keys()).sort((x, y) => theta[y] - theta[x]);

  const attempt = (leader: number, challenger: number) => flipPair(counts, baseCells, theta, leader, challenger, votesOfCell, options.maxRounds ?? DEFAULT_ROUNDS, options.pair === undefined);
  let best: FragileVotesReport | undefined;
  if (options.pair) {
    let a = counts.models.indexOf(options.pair[0]);
    let b = counts.models.indexOf(options.pair[1]);
    if (theta[a] < theta[b]) [a, b] = [b, a];
    best = attempt(a, b);
  } else {
    const top = order[0];
    // Try the challengers that the first-order influence says are cheapest to promote.
    const ranked = order.slice(1).map((c) => ({ c, n: predictedCount(counts, theta, top, c) })).sort((x, y) => x.n - y.n);
    for (const { c } of ranked.slice(0, CHALLENGERS_TRIED)) {
      const report = attempt(top, c);
      if (!best || (report.confirmed && (!best.confirmed || report.votes.length < best.votes.length))) best = report;
    }
  }
  return best!;
}

function fit(counts: PairCounts, start?: Float64Array): Float64Array {
  const finite = checkSeparation(counts).finite;
  return fitBradleyTerry(counts, { prior: finite ? 0 : SEPARATION_PRIOR, start }).theta;
}

/** v = A⁻¹(e_a − e_b) with A = −∇²ℓ at θ, anchored at model 0 (differences of v are anchor-free). */
function influenceDirection(counts: PairCounts, theta: Float64Array, a: number, b: number): Float64Array {
  const m = counts.models.length;
  const f = m - 1;
  const mat = new Float64Array(f * f);
  const add = (r: number, c: number, x: number) => {
    if (r > 0 && c > 0) mat[(r - 1) * f + (c - 1)] += x;
  };
  const separated = !checkSeparation(counts).finite;
  for (let p = 0; p < counts.i.length; p++) {
    const i = counts.i[p];
    const j = counts.j[p];
    const n = counts.winsI[p] + counts.winsJ[p] + counts.ties[p] + (separated ? 2 * SEPARATION_PRIOR : 0);
    const s = sigmoid(theta[i] - theta[j]);
    const h = n * s * (1 - s);
    add(i, i, h);
    add(j, j, h);
    add(i, j, -h);
    add(j, i, -h);
  }
  const rhs = new Float64Array(f);
  if (a > 0) rhs[a - 1] += 1;
  if (b > 0) rhs[b - 1] -= 1;
  choleskySolve(mat, rhs, f);
  const v = new Float64Array(m);
  v.set(rhs, 1);
  return v;
}

/** Per-vote change of the gap θ_a − θ_b when one vote of each cell is removed. */
function cellInfluence(counts: PairCounts, theta: Float64Array, a: number, b: number): Float64Array {
  const v = influenceDirection(counts, theta, a, b);
  const out = new Float64Array(counts.i.length * 3);
  for (let p = 0; p < counts.i.length; p++) {
    const i = counts.i[p];
    const j = counts.j[p];
    const s = sigmoid(theta[i] - theta[j]);
    const dv = v[i] - v[j];
    out[p * 3] = -(1 - s) * dv;
    out[p * 3 + 1] = -(0 - s) * dv;
    out[p * 3 + 2] = -(0.5 - s) * dv;
  }
  return out;
}

/** Greedy removals (cell per vote) until the predicted gap is below zero, from the given cells. */
function greedy(influence: Float64Array, cells: Float64Array, gap: number): { removals: number[]; predicted: number } {
  const order = Array.from(influence.keys()).filter((c) => influence[c] < 0 && cells[c] >= 1).sort((x, y) => influence[x] - influence[y]);
  const removals: number[] = [];
  let predicted = gap;
  for (const c of order) {
    const take = Math.min(Math.floor(cells[c]), Math.ceil(predicted / -influence[c] + 1e-9));
    for (let t = 0; t < take; t++) removals.push(c);
    predicted += take * influence[c];
    if (predicted < 0) break;
  }
  return { removals, predicted };
}

function predictedCount(counts: PairCounts, theta: Float64Array, leader: number, challenger: number): number {
  const influence = cellInfluence(counts, theta, leader, challenger);
  const { removals, predicted } = greedy(influence, cellsOf(counts), theta[leader] - theta[challenger]);
  return predicted < 0 ? removals.length : Infinity;
}

function flipPair(
  counts: PairCounts,
  baseCells: Float64Array,
  theta: Float64Array,
  leader: number,
  challenger: number,
  votesOfCell: number[][],
  maxRounds: number,
  topMode: boolean,
): FragileVotesReport {
  const gap0 = theta[leader] - theta[challenger];
  const removals: number[] = [];
  const cells = Float64Array.from(baseCells);
  let current = theta;
  const influence0 = cellInfluence(counts, theta, leader, challenger);
  let flipped = false;
  const refit = (removed: readonly number[]): Float64Array => {
    const c = Float64Array.from(baseCells);
    for (const cell of removed) c[cell]--;
    return fit(withCells(counts, c), theta);
  };
  const flips = (t: Float64Array): boolean =>
    topMode ? t.some((x, k) => k !== leader && x > t[leader] + FLIP_MARGIN) : t[challenger] > t[leader] + FLIP_MARGIN;
  for (let round = 0; round < maxRounds && !flipped; round++) {
    const reduced = withCells(counts, cells);
    const influence = cellInfluence(reduced, current, leader, challenger);
    const step = greedy(influence, cells, current[leader] - current[challenger]);
    if (step.removals.length === 0) break;
    for (const cell of step.removals) {
      cells[cell]--;
      removals.push(cell);
    }
    current = fit(withCells(counts, cells), current);
    flipped = flips(current);
  }
  // Trim: the shortest prefix of the greedy order that still flips when refitted.
  let kept = removals.length;
  if (flipped) {
    let lo = 1;
    let hi = removals.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (flips(refit(removals.slice(0, mid)))) hi = mid;
      else lo = mid + 1;
    }
    kept = lo;
  }
  const chosen = removals.slice(0, kept);
  const predictedGap = chosen.reduce((g, cell) => g + influence0[cell], gap0);
  const final = refit(chosen);
  const taken = new Map<number, number>();
  const votes: number[] = [];
  for (const cell of chosen) {
    const t = taken.get(cell) ?? 0;
    votes.push(votesOfCell[cell][t]);
    taken.set(cell, t + 1);
  }
  votes.sort((x, y) => x - y);
  return {
    leader: counts.models[leader],
    challenger: counts.models[challenger],
    gap: gap0 * RATING_SCALE,
    votes,
    predictedGap: predictedGap * RATING_SCALE,
    refittedGap: (final[leader] - final[challenger]) * RATING_SCALE,
    confirmed: flips(final),
  };
}
