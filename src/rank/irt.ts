/**
 * Two-parameter logistic item response theory: model j answers item i correctly with probability
 * P = σ(a_i (θ_j − b_i)), θ the model's ability, b the item's difficulty, a its discrimination.
 *
 * Estimator: regularised joint maximum likelihood (a MAP estimate) by alternating Newton steps —
 * one 2×2 step per item on the slope–intercept form a·θ + c (c = −a·b; the item's log-likelihood
 * is concave there) with the abilities fixed, then one step per model on θ with the items fixed,
 * then θ is standardised to mean 0, sd 1 (a and c transformed so the likelihood is unchanged). A fractional score y ∈ [0, 1] is a Bernoulli weight: it contributes
 * y·log P + (1 − y)·log(1 − P). Missing responses are absent. Priors keep every estimate finite:
 * a ~ N(1, 1²) (negative discrimination stays possible, so a wrong answer key shows up as a < 0),
 * c ~ N(0, 4²), and θ_j ~ N(0, 1/(τ·n_j)) whose precision grows with the n_j responses of the
 * model, so that duplicating every item leaves the optimum unchanged.
 *
 * Items that cannot tell models apart (fewer than two responses, or every response the same score)
 * are left out of the fit: they carry no information about relative ability, so adding any number
 * of them changes nothing. Their a and b are NaN.
 *
 * Intervals: the standard error of θ_j is 1/√(Fisher information at the estimate) — the sum of
 * a_i² P(1 − P) over its responses plus the prior precision — with the item parameters treated
 * as known (so it is somewhat optimistic).
 */
import type { Progress } from "../core/progress.js";
import type { ResponseMatrix } from "./responses.js";

export interface IrtOptions {
  maxIterations?: number;
  /** Stop when no ability moves by more than this between iterations. */
  tolerance?: number;
  /** Prior mean and sd of the discrimination a. */
  discriminationPrior?: { mean: number; sd: number };
  /** Prior sd of the intercept c = −a·b (mean 0). */
  interceptPriorSd?: number;
  /** Prior precision of θ per response (τ). */
  abilityPrecisionPerResponse?: number;
  progress?: Progress;
}

export interface IrtFit {
  /** Standardised ability per model (NaN for a model without informative responses). */
  theta: Float64Array;
  /** Standard error of θ from the Fisher information. */
  thetaSe: Float64Array;
  /** Discrimination and difficulty per item (NaN for items left out); b = −c/a. */
  a: Float64Array;
  b: Float64Array;
  /** Intercept per item: the logit is a·θ + c. */
  c: Float64Array;
  /** Standard error of a from the item's 2×2 information (abilities treated as known). */
  aSe: Float64Array;
  /** 1 for items used in the fit. */
  informative: Uint8Array;
  iterations: number;
  converged: boolean;
}

export const IRT_DEFAULTS = {
  maxIterations: 300,
  tolerance: 1e-6,
  discriminationPrior: { mean: 1, sd: 1 },
  interceptPriorSd: 4,
  abilityPrecisionPerResponse: 0.005,
} as const;

/** The largest change of a or b in one scoring step (keeps early iterations stable). */
const MAX_ITEM_STEP = 1;
/** The largest change of θ in one Newton step. */
const MAX_ABILITY_STEP = 1;
/** Scores this close to each other count as the same (for "every response the same"). */
const SAME_SCORE = 1e-9;

export function fitIrt(matrix: ResponseMatrix, options: IrtOptions = {}): IrtFit {
  const maxIterations = options.maxIterations ?? IRT_DEFAULTS.maxIterations;
  const tolerance = options.tolerance ?? IRT_DEFAULTS.tolerance;
  const aPrior = options.discriminationPrior ?? IRT_DEFAULTS.discriminationPrior;
  const aPrec = 1 / (aPrior.sd * aPrior.sd);
  const cSd = options.interceptPriorSd ?? IRT_DEFAULTS.interceptPriorSd;
  const cPrec = 1 / (cSd * cSd);
  const tau = options.abilityPrecisionPerResponse ?? IRT_DEFAULTS.abilityPrecisionPerResponse;

  const nModels = matrix.models.length;
  const nItems = matrix.items.length;
  const { itemStart, model, score } = matrix;

  // Which items inform the fit, and how many informative responses each model has.
  const informative = new Uint8Array(nItems);
  const nResp = new Float64Array(nModels);
  const sumScore = new Float64Array(nModels);
  const a = new Float64Array(nItems).fill(NaN);
  const c = new Float64Array(nItems).fill(NaN);
  for (let i = 0; i < nItems; i++) {
    const from = itemStart[i];
    const to = itemStart[i + 1];
    if (to - from < 2) continue;
    let lo = Infinity;
    let hi = -Infinity;
    let sum = 0;
    for (let p = from; p < to; p++) {
      const y = score[p];
      if (y < lo) lo = y;
      if (y > hi) hi = y;
      sum += y;
    }
    if (hi - lo <= SAME_SCORE) continue;
    informative[i] = 1;
    for (let p = from; p < to; p++) {
      nResp[model[p]]++;
      sumScore[model[p]] += score[p];
    }
    const mean = clamp(sum / (to - from), 0.02, 0.98);
    a[i] = 1;
    c[i] = Math.log(mean / (1 - mean));
  }

  // Start from the standardised logit of each model's mean score.
  const theta = new Float64Array(nModels).fill(NaN);
  for (let m = 0; m < nModels; m++) {
    if (nResp[m] === 0) continue;
    const mean = clamp(sumScore[m] / nResp[m], 0.02, 0.98);
    theta[m] = Math.log(mean / (1 - mean));
  }
  standardise(theta, a, c);

  const grad = new Float64Array(nModels);
  const hess = new Float64Array(nModels);
  const previous = new Float64Array(nModels);
  let iterations = 0;
  let converged = false;
  options.progress?.start("irt", maxIterations, "iterations");

  while (iterations < maxIterations) {
    iterations++;
    previous.set(theta);

    // Items: one Newton step on (a, c) with abilities fixed; the logit is a·θ + c, in which the
    // log-likelihood is concave (a logistic regression), so the steps do not cycle.
    for (let i = 0; i < nItems; i++) {
      if (!informative[i]) continue;
      const ai = a[i];
      const ci = c[i];
      let ga = -(ai - aPrior.mean) * aPrec;
      let gc = -ci * cPrec;
      let iaa = aPrec;
      let icc = cPrec;
      let iac = 0;
      for (let p = itemStart[i], to = itemStart[i + 1]; p < to; p++) {
        const t = theta[model[p]];
        const prob = 1 / (1 + Math.exp(-(ai * t + ci)));
        const r = score[p] - prob;
        const w = prob * (1 - prob);
        ga += r * t;
        gc += r;
        iaa += w * t * t;
        icc += w;
        iac += w * t;
      }
      const det = iaa * icc - iac * iac;
      if (!(det > 0)) continue;
      a[i] = ai + clamp((icc * ga - iac * gc) / det, -MAX_ITEM_STEP, MAX_ITEM_STEP);
      c[i] = ci + clamp((iaa * gc - iac * ga) / det, -MAX_ITEM_STEP, MAX_ITEM_STEP);
    }

    // Models: one Newton step on θ with items fixed, accumulated item by item.
    accumulateAbilityTerms(matrix, informative, theta, a, c, grad, hess);
    for (let m = 0; m < nModels; m++) {
      if (nResp[m] === 0) continue;
      const prec = tau * nResp[m];
      const g = grad[m] - prec * theta[m];
      const h = hess[m] + prec;
      theta[m] += clamp(g / h, -MAX_ABILITY_STEP, MAX_ABILITY_STEP);
    }
    standardise(theta, a, c);

    let change = 0;
    for (let m = 0; m < nModels; m++) {
      if (nResp[m] === 0) continue;
      const c = Math.abs(theta[m] - previous[m]);
      if (c > change) change = c;
    }
    options.progress?.tick(1, `Δθ ${change.toExponential(1)}`);
    if (change < tolerance) {
      converged = true;
      break;
    }
  }
  options.progress?.done(`${iterations} iterations${converged ? "" : " (not converged)"}`);

  // Standard errors from the Fisher information at the estimate.
  accumulateAbilityTerms(matrix, informative, theta, a, c, grad, hess);
  const thetaSe = new Float64Array(nModels).fill(NaN);
  for (let m = 0; m < nModels; m++) {
    if (nResp[m] === 0) continue;
    thetaSe[m] = 1 / Math.sqrt(hess[m] + tau * nResp[m]);
  }
  const b = new Float64Array(nItems).fill(NaN);
  const aSe = new Float64Array(nItems).fill(NaN);
  for (let i = 0; i < nItems; i++) {
    if (!informative[i]) continue;
    b[i] = -c[i] / a[i];
    let iaa = aPrec;
    let icc = cPrec;
    let iac = 0;
    for (let p = itemStart[i], to = itemStart[i + 1]; p < to; p++) {
      const t = theta[model[p]];
      const prob = 1 / (1 + Math.exp(-(a[i] * t + c[i])));
      const w = prob * (1 - prob);
      iaa += w * t * t;
      icc += w;
      iac += w * t;
    }
    aSe[i] = Math.sqrt(icc / (iaa * icc - iac * iac));
  }
  return { theta, thetaSe, a, b, c, aSe, informative, iterations, converged };
}

/** Gradient Σ a(y − P) and information Σ a² P(1 − P) of each model's log-likelihood in θ. */
function accumulateAbilityTerms(
  matrix: ResponseMatrix,
  informative: Uint8Array,
  theta: Float64Array,
  a: Float64Array,
  c: Float64Array,
  grad: Float64Array,
  hess: Float64Array,
): void {
  const { itemStart, model, score } = matrix;
  grad.fill(0);
  hess.fill(0);
  for (let i = 0; i < informative.length; i++) {
    if (!informative[i]) continue;
    const ai = a[i];
    const ci = c[i];
    const aa = ai * ai;
    for (let p = itemStart[i], to = itemStart[i + 1]; p < to; p++) {
      const m = model[p];
      const prob = 1 / (1 + Math.exp(-(ai * theta[m] + ci)));
      grad[m] += ai * (score[p] - prob);
      hess[m] += aa * prob * (1 - prob);
    }
  }
}

/**
 * Rescale θ to mean 0, sd 1 over the models that have one, transforming a and c so that
 * a·θ + c is unchanged; flip the sign of the scale if the discriminations are mostly negative.
 */
function standardise(theta: Float64Array, a: Float64Array, c: Float64Array): void {
  let n = 0;
  let sum = 0;
  for (const t of theta) if (!Number.isNaN(t)) {
    n++;
    sum += t;
  }
  if (n === 0) return;
  const mean = sum / n;
  let ss = 0;
  for (const t of theta) if (!Number.isNaN(t)) ss += (t - mean) ** 2;
  let sd = n > 1 ? Math.sqrt(ss / n) : 1;
  if (!(sd > 1e-12)) sd = 1;
  let aSum = 0;
  for (const x of a) if (!Number.isNaN(x)) aSum += x;
  const sign = aSum < 0 ? -1 : 1;
  const scale = sign / sd;
  for (let m = 0; m < theta.length; m++) theta[m] = (theta[m] - mean) * scale;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i])) continue;
    c[i] += a[i] * mean;
    a[i] /= scale;
  }
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
