/**
 * Exact binomial and multinomial draws from a seeded `Rng`.
 *
 * Binomial(n, p): for n·min(p, 1−p) < 10, inversion (walk the pmf up from 0 with one uniform;
 * expected n·p + 1 steps); otherwise Hörmann's transformed rejection with squeeze, "BTRS"
 * (W. Hörmann, "The generation of binomial random variates", J. Statist. Comput. Simul. 46,
 * 1993): O(1) expected time for any n. Most proposals are settled by its squeeze or, within 15
 * of the mode, by a product of pmf ratios (the device of Hörmann's BTRD), so logarithms are rare.
 * p > 1/2 draws n − Binomial(n, 1 − p), so the work depends only on the smaller tail.
 *
 * Multinomial(n, w): one binomial per category, each conditional on the ones before it
 * (x_c ~ Binomial(n − Σ_{d<c} x_d, w_c / Σ_{d≥c} w_d)), which is the multinomial exactly.
 */
import type { Rng } from "./rng.js";

/** Below this mean (n·min(p, 1−p)) inversion is cheaper than rejection; BTRS needs ≥ 10. */
const INVERSION_MEAN = 10;

/** Draw from Binomial(n, p): n a whole number ≥ 0 (up to 2^53), 0 ≤ p ≤ 1. */
export function binomial(rng: Rng, n: number, p: number): number {
  if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`binomial: n must be a whole number ≥ 0, got ${n}`);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`binomial: p must be in [0, 1], got ${p}`);
  if (p > 0.5) return n - binomialLowerHalf(rng, n, 1 - p);
  return binomialLowerHalf(rng, n, p);
}

/** p ≤ 1/2, arguments already checked. */
function binomialLowerHalf(rng: Rng, n: number, p: number): number {
  if (n === 0 || p === 0) return 0;
  return n * p < INVERSION_MEAN ? byInversion(rng, n, p) : byTransformedRejection(rng, n, p);
}

function byInversion(rng: Rng, n: number, p: number): number {
  const q = 1 - p;
  const odds = p / q;
  const first = Math.exp(n * Math.log1p(-p)); // P(X = 0) = q^n; ≥ e^−20 here, no underflow
  for (;;) {
    let u = rng.next();
    let pmf = first;
    let x = 0;
    // P(X = x) = P(X = x − 1) · (n − x + 1)/x · p/q. Rounding can leave u beyond the summed
    // mass (≈ 1e−15 of the time): draw again rather than return a value past the tail.
    while (u > pmf && x < n && pmf > 0) {
      u -= pmf;
      x++;
      pmf *= ((n - x + 1) / x) * odds;
    }
    if (u <= pmf) return x;
  }
}

/** Within this distance of the mode, f(k)/f(mode) is a product of pmf ratios (no logarithm). */
const RECURSIVE_RATIO_SPAN = 15;

function byTransformedRejection(rng: Rng, n: number, p: number): number {
  const q = 1 - p;
  const odds = p / q;
  const spq = Math.sqrt(n * p * q);
  // Hat constants from the paper (its Algorithm BTRS, step 0).
  const b = 1.15 + 2.53 * spq;
  const a = -0.0873 + 0.0248 * b + 0.01 * p;
  const c = n * p + 0.5;
  const squeeze = 0.92 - 4.2 / b;
  const alpha = (2.83 + 5.1 / b) * spq;
  const mode = Math.floor((n + 1) * p);
  // For the logarithmic test, ln f(k) − ln f(mode) = ln mode! + ln (n−mode)! − ln k! − ln (n−k)!
  // + (k − mode)·ln(p/q); the terms fixed per call are computed on first need.
  let logPmfMode = NaN;
  let logOdds = NaN;
  for (;;) {
    const u = rng.next() - 0.5;
    const v = rng.next();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + c);
    if (k < 0 || k > n) continue;
    if (us >= 0.07 && v <= squeeze) return k;
    // Accept when v, mapped under the hat, lies below f(k)/f(mode).
    const height = (v * alpha) / (a / (us * us) + b);
    if (Math.abs(k - mode) <= RECURSIVE_RATIO_SPAN) {
      // f(i)/f(i − 1) = (n − i + 1)/i · p/q, multiplied from the mode to k.
      let ratio = 1;
      if (k > mode) for (let i = mode + 1; i <= k; i++) ratio *= ((n - i + 1) / i) * odds;
      else for (let i = k + 1; i <= mode; i++) ratio /= ((n - i + 1) / i) * odds;
      if (height <= ratio) return k;
      continue;
    }
    if (Number.isNaN(logPmfMode)) {
      logPmfMode = -logFactorial(mode) - logFactorial(n - mode);
      logOdds = Math.log(odds);
    }
    if (Math.log(height) <= -logFactorial(k) - logFactorial(n - k) - logPmfMode + (k - mode) * logOdds) return k;
  }
}

/** ln k! by table below TABLE_SIZE and by Stirling's series (error < 1e−19) above. */
export function logFactorial(k: number): number {
  if (k < TABLE_SIZE) return LOG_FACTORIAL[k];
  const z = k + 1;
  const z2 = z * z;
  return (z - 0.5) * Math.log(z) - z + HALF_LOG_2PI + (1 / 12 - (1 / 360 - 1 / (1260 * z2)) / z2) / z;
}

const TABLE_SIZE = 256;
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);
const LOG_FACTORIAL = (() => {
  const table = new Float64Array(TABLE_SIZE);
  for (let k = 2; k < TABLE_SIZE; k++) table[k] = table[k - 1] + Math.log(k);
  return table;
})();

/**
 * Draw counts for n trials over categories with weights `w` (≥ 0, not all zero; need not sum to
 * 1) into `out` (same length), which is returned. A zero-weight category always gets 0.
 */
export function multinomial(rng: Rng, n: number, w: ArrayLike<number>, out: Float64Array | Int32Array): Float64Array | Int32Array {
  if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`multinomial: n must be a whole number ≥ 0, got ${n}`);
  if (out.length !== w.length) throw new RangeError(`multinomial: ${w.length} weights but ${out.length} outputs`);
  let mass = 0;
  for (let c = 0; c < w.length; c++) {
    if (!(w[c] >= 0 && Number.isFinite(w[c]))) throw new RangeError(`multinomial: weight ${c} must be finite and ≥ 0, got ${w[c]}`);
    mass += w[c];
  }
  if (!(mass > 0) && n > 0) throw new RangeError("multinomial: the weights sum to zero");
  let last = w.length - 1;
  while (last > 0 && w[last] === 0) last--;
  let remaining = n;
  for (let c = 0; c < w.length; c++) {
    const weight = w[c];
    if (weight === 0 || remaining === 0) {
      out[c] = 0;
      continue;
    }
    // The last category takes what is left, so rounding in `mass` (fractional weights) can
    // neither lose nor invent a trial.
    const x = c === last || weight >= mass ? remaining : binomial(rng, remaining, weight / mass);
    out[c] = x;
    remaining -= x;
    mass -= weight;
  }
  return out;
}
