/**
 * CMA-ES (covariance matrix adaptation evolution strategy, Hansen's (μ/μ_w, λ) form with
 * cumulative step-size adaptation, rank-one and rank-μ updates; Hansen 2016, "The CMA Evolution
 * Strategy: A Tutorial", default constants of its Table 1). Seeded (core/rng), so a search is
 * reproducible. Box bounds: a candidate is evaluated at its projection into the box plus a
 * quadratic penalty on the distance, so the distribution is pulled back inside without the
 * sampler ever being biased by rejection.
 *
 * ask() returns λ points; tell() takes their objective values in the same order.
 */
import { ConfigError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { jacobiEigen } from "../merge/lora/svd.js";

export interface CmaEsOptions {
  /** Initial mean. */
  x0: readonly number[];
  /** Initial step size. */
  sigma0: number;
  seed: number;
  /** Population size (default 4 + ⌊3 ln n⌋). */
  lambda?: number;
  bounds?: { lower: number; upper: number };
}

export interface CmaEsResult {
  best: number[];
  bestValue: number;
  evaluations: number;
  generations: number;
}

export class CmaEs {
  readonly n: number;
  readonly lambda: number;
  private readonly mu: number;
  private readonly weights: Float64Array;
  private readonly mueff: number;
  private readonly cc: number;
  private readonly cs: number;
  private readonly c1: number;
  private readonly cmu: number;
  private readonly damps: number;
  private readonly chiN: number;
  private readonly rng: Rng;
  private readonly bounds?: { lower: number; upper: number };
  private mean: Float64Array;
  private sigma: number;
  private readonly pc: Float64Array;
  private readonly ps: Float64Array;
  private c: Float64Array;
  private b: Float64Array;
  private d: Float64Array;
  private generation = 0;
  private pending: { x: Float64Array; y: Float64Array }[] = [];
  best: { x: number[]; value: number } = { x: [], value: Infinity };
  evaluations = 0;

  constructor(options: CmaEsOptions) {
    const n = options.x0.length;
    const problems: string[] = [];
    if (n < 1) problems.push("x0 must have at least one coordinate");
    if (!(options.sigma0 > 0)) problems.push(`sigma0 must be positive (got ${options.sigma0})`);
    if (options.lambda !== undefined && !(Number.isInteger(options.lambda) && options.lambda >= 2)) problems.push(`lambda must be an integer ≥ 2 (got ${options.lambda})`);
    if (options.bounds && !(options.bounds.lower < options.bounds.upper)) problems.push("bounds.lower must be below bounds.upper");
    if (problems.length) throw new ConfigError(problems, "CMA-ES");
    this.n = n;
    this.lambda = options.lambda ?? defaultPopulation(n);
    this.mu = Math.floor(this.lambda / 2);
    const raw = Array.from({ length: this.mu }, (_, i) => Math.log((this.lambda + 1) / 2) - Math.log(i + 1));
    const sum = raw.reduce((s, w) => s + w, 0);
    this.weights = Float64Array.from(raw, (w) => w / sum);
    this.mueff = 1 / this.weights.reduce((s, w) => s + w * w, 0);
    this.cc = (4 + this.mueff / n) / (n + 4 + (2 * this.mueff) / n);
    this.cs = (this.mueff + 2) / (n + this.mueff + 5);
    this.c1 = 2 / ((n + 1.3) ** 2 + this.mueff);
    this.cmu = Math.min(1 - this.c1, (2 * (this.mueff - 2 + 1 / this.mueff)) / ((n + 2) ** 2 + this.mueff));
    this.damps = 1 + 2 * Math.max(0, Math.sqrt((this.mueff - 1) / (n + 1)) - 1) + this.cs;
    this.chiN = Math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n));
    this.rng = new Rng(options.seed);
    this.bounds = options.bounds;
    this.mean = Float64Array.from(options.x0);
    this.sigma = options.sigma0;
    this.pc = new Float64Array(n);
    this.ps = new Float64Array(n);
    this.c = identity(n);
    this.b = identity(n);
    this.d = new Float64Array(n).fill(1);
  }

  /** λ new candidates (inside the bounds when bounds are given). */
  ask(): number[][] {
    const n = this.n;
    this.pending = [];
    for (let k = 0; k < this.lambda; k++) {
      const z = Float64Array.from({ length: n }, () => this.rng.normal());
      const y = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let e = 0; e < n; e++) s += this.b[i * n + e] * this.d[e] * z[e];
        y[i] = s;
      }
      const x = Float64Array.from(y, (yi, i) => this.mean[i] + this.sigma * yi);
      this.pending.push({ x, y });
    }
    return this.pending.map((p) => Array.from(p.x, (v) => this.clip(v)));
  }

  /** The objective values of the last ask()'s candidates, in order. */
  tell(values: readonly number[]): void {
    const n = this.n;
    if (values.length !== this.pending.length) throw new ConfigError([`tell got ${values.length} values for ${this.pending.length} candidates`], "CMA-ES");
    const penalised = this.pending.map((p, k) => {
      if (!Number.isFinite(values[k])) return Infinity;
      let out = 0;
      for (const v of p.x) out += (v - this.clip(v)) ** 2;
      return values[k] + out;
    });
    this.pending.forEach((p, k) => {
      this.evaluations++;
      if (values[k] < this.best.value) this.best = { x: Array.from(p.x, (v) => this.clip(v)), value: values[k] };
    });
    const order = penalised.map((v, k) => [v, k] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, k]) => k);
    const selected = order.slice(0, this.mu).map((k) => this.pending[k]);
    const yw = new Float64Array(n);
    selected.forEach((p, i) => p.y.forEach((v, j) => (yw[j] += this.weights[i] * v)));
    for (let i = 0; i < n; i++) this.mean[i] += this.sigma * yw[i];
    // C^(-1/2) · yw = B D^-1 Bᵀ yw
    const bty = new Float64Array(n);
    for (let e = 0; e < n; e++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += this.b[i * n + e] * yw[i];
      bty[e] = s / this.d[e];
    }
    const csy = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let e = 0; e < n; e++) s += this.b[i * n + e] * bty[e];
      csy[i] = s;
    }
    const csFactor = Math.sqrt(this.cs * (2 - this.cs) * this.mueff);
    for (let i = 0; i < n; i++) this.ps[i] = (1 - this.cs) * this.ps[i] + csFactor * csy[i];
    const psNorm = Math.sqrt(this.ps.reduce((s, v) => s + v * v, 0));
    this.generation++;
    const hsig = psNorm / Math.sqrt(1 - (1 - this.cs) ** (2 * this.generation)) / this.chiN < 1.4 + 2 / (n + 1) ? 1 : 0;
    const ccFactor = Math.sqrt(this.cc * (2 - this.cc) * this.mueff);
    for (let i = 0; i < n; i++) this.pc[i] = (1 - this.cc) * this.pc[i] + hsig * ccFactor * yw[i];
    const deltaH = (1 - hsig) * this.cc * (2 - this.cc);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let rankMu = 0;
        selected.forEach((p, k) => (rankMu += this.weights[k] * p.y[i] * p.y[j]));
        this.c[i * n + j] = (1 - this.c1 - this.cmu) * this.c[i * n + j] + this.c1 * (this.pc[i] * this.pc[j] + deltaH * this.c[i * n + j]) + this.cmu * rankMu;
      }
    }
    this.sigma *= Math.exp((this.cs / this.damps) * (psNorm / this.chiN - 1));
    const { values: eig, vectors } = jacobiEigen(this.c, n);
    this.b = vectors;
    this.d = Float64Array.from(eig, (v) => Math.sqrt(Math.max(v, 1e-20)));
  }

  get stepSize(): number {
    return this.sigma;
  }

  get currentMean(): number[] {
    return Array.from(this.mean, (v) => this.clip(v));
  }

  private clip(v: number): number {
    return this.bounds ? Math.min(this.bounds.upper, Math.max(this.bounds.lower, v)) : v;
  }
}

/** Minimise `f` with CMA-ES for at most `maxEvaluations` evaluations (whole generations). */
/** Hansen's default population for n dimensions: 4 + ⌊3 ln n⌋. */
export function defaultPopulation(n: number): number {
  return 4 + Math.floor(3 * Math.log(n));
}

export async function cmaesMinimize(
  f: (x: number[]) => number | Promise<number>,
  options: CmaEsOptions & { maxEvaluations: number; onGeneration?: (es: CmaEs) => void },
): Promise<CmaEsResult> {
  const es = new CmaEs(options);
  while (es.evaluations + es.lambda <= options.maxEvaluations) {
    const xs = es.ask();
    const values: number[] = [];
    for (const x of xs) values.push(await f(x));
    es.tell(values);
    options.onGeneration?.(es);
    if (es.stepSize < 1e-12) break;
  }
  return { best: es.best.x, bestValue: es.best.value, evaluations: es.evaluations, generations: Math.round(es.evaluations / es.lambda) };
}

function identity(n: number): Float64Array {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}
