/**
 * Damped Newton ascent for the smooth concave log-likelihoods of the pairwise models. One
 * coordinate can be held fixed (an anchor) because these likelihoods are invariant to shifting
 * all strengths; the remaining Hessian block is then negative definite and is solved by a dense
 * Cholesky factorisation (O(k³) per step: fine for hundreds of models).
 */

/** Fills `grad` and `hess` (k×k row-major) at `x` when given, and returns the objective. */
export type Objective = (x: Float64Array, grad: Float64Array | null, hess: Float64Array | null) => number;

export interface NewtonOptions {
  /** Index of a coordinate held at its starting value. */
  fixed?: number;
  /** Stop when the largest Newton step component is below this. */
  tolerance?: number;
  maxIterations?: number;
}

export interface NewtonResult {
  x: Float64Array;
  value: number;
  iterations: number;
  converged: boolean;
}

/** Converged when the Newton step is below this (in natural-log strength units). */
export const NEWTON_TOLERANCE = 1e-11;
const MAX_ITERATIONS = 200;
const MIN_STEP_FRACTION = 2 ** -40;
/** First ridge tried when −H is not numerically positive definite. */
const RIDGE_START = 1e-9;

export function maximizeNewton(start: Float64Array, objective: Objective, options: NewtonOptions = {}): NewtonResult {
  const k = start.length;
  const tolerance = options.tolerance ?? NEWTON_TOLERANCE;
  const maxIterations = options.maxIterations ?? MAX_ITERATIONS;
  const free: number[] = [];
  for (let c = 0; c < k; c++) if (c !== options.fixed) free.push(c);
  const f = free.length;
  let x = Float64Array.from(start);
  let grad = new Float64Array(k);
  let hess = new Float64Array(k * k);
  let trialGrad = new Float64Array(k);
  let trialHess = new Float64Array(k * k);
  const a = new Float64Array(f * f);
  const step = new Float64Array(f);
  let trial = new Float64Array(k);
  let value = objective(x, grad, hess);
  for (let iteration = 1; iteration <= maxIterations; iteration++) {
    // Solve (−H) step = grad on the free coordinates.
    // A nearly separated model (a bootstrap round where it barely lost) can make −H singular in
    // floating point; a growing ridge then gives a shorter ascent step (Levenberg's damping).
    for (let ridge = 0; ; ridge = ridge === 0 ? RIDGE_START : ridge * 100) {
      for (let r = 0; r < f; r++) {
        step[r] = grad[free[r]];
        for (let c = 0; c < f; c++) a[r * f + c] = -hess[free[r] * k + free[c]];
        a[r * f + r] += ridge;
      }
      if (tryCholeskySolve(a, step, f)) break;
      if (ridge > 1e12) throw new Error("the Newton system stays singular with damping");
    }
    let largest = 0;
    for (let r = 0; r < f; r++) largest = Math.max(largest, Math.abs(step[r]));
    // Backtrack until the objective does not decrease (beyond rounding). The full step, almost
    // always accepted, is evaluated with its derivatives so they are not computed twice — unless
    // it is the last step, whose derivatives would never be used.
    let t = 1;
    let next = -Infinity;
    let withDerivatives = largest >= tolerance;
    while (t >= MIN_STEP_FRACTION) {
      trial.set(x);
      for (let r = 0; r < f; r++) trial[free[r]] += t * step[r];
      next = withDerivatives ? objective(trial, trialGrad, trialHess) : objective(trial, null, null);
      if (next >= value - 1e-13 * Math.abs(value)) break;
      t /= 2;
      withDerivatives = false;
    }
    if (t < MIN_STEP_FRACTION) return { x, value, iterations: iteration, converged: largest < tolerance * 1e3 };
    [x, trial] = [trial, x];
    if (largest * t < tolerance) return { x, value: next, iterations: iteration, converged: true };
    if (withDerivatives) {
      [grad, trialGrad] = [trialGrad, grad];
      [hess, trialHess] = [trialHess, hess];
      value = next;
    } else {
      value = objective(x, grad, hess);
    }
  }
  return { x, value, iterations: maxIterations, converged: false };
}

/**
 * Solve A·x = b in place (b becomes x) for a symmetric positive definite A (n×n, row-major,
 * overwritten by its Cholesky factor). Throws if A is not positive definite.
 */
export function choleskySolve(a: Float64Array, b: Float64Array, n: number): void {
  if (!tryCholeskySolve(a, b, n)) throw new Error("matrix is not positive definite");
}

/** choleskySolve that reports a matrix that is not positive definite by returning false. */
function tryCholeskySolve(a: Float64Array, b: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let p = 0; p < j; p++) d -= a[j * n + p] * a[j * n + p];
    if (!(d > 0)) return false;
    d = Math.sqrt(d);
    a[j * n + j] = d;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let p = 0; p < j; p++) s -= a[i * n + p] * a[j * n + p];
      a[i * n + j] = s / d;
    }
  }
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let p = 0; p < i; p++) s -= a[i * n + p] * b[p];
    b[i] = s / a[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i];
    for (let p = i + 1; p < n; p++) s -= a[p * n + i] * b[p];
    b[i] = s / a[i * n + i];
  }
  return true;
}
