/** Simulated per-item results from a known 2PL model, for tests. */
import { Rng } from "../../src/core/rng.js";
import type { ItemResult } from "../../src/core/evidence.js";

export interface Simulation {
  results: ItemResult[];
  /** True ability per model and domain: theta[domain][model]. */
  theta: number[][];
  a: number[];
  b: number[];
  models: string[];
}

/**
 * `domainSizes[d]` items in domain d; each model has an ability per domain that mixes a general
 * ability with a domain-specific one (weight `specialisation`).
 */
export function simulate(options: {
  models: number;
  domainSizes: number[];
  seed: number;
  missing?: number;
  specialisation?: number;
}): Simulation {
  const rng = new Rng(options.seed);
  const spec = options.specialisation ?? 0;
  const models = Array.from({ length: options.models }, (_, m) => `model-${String(m).padStart(3, "0")}`);
  const general = models.map(() => rng.normal());
  const theta = options.domainSizes.map(() => general.map((g) => Math.sqrt(1 - spec) * g + Math.sqrt(spec) * rng.normal()));
  const results: ItemResult[] = [];
  const a: number[] = [];
  const b: number[] = [];
  options.domainSizes.forEach((size, d) => {
    for (let k = 0; k < size; k++) {
      const ai = 0.5 + 1.5 * rng.next();
      const bi = 1.2 * rng.normal();
      a.push(ai);
      b.push(bi);
      for (let m = 0; m < models.length; m++) {
        if (options.missing && rng.next() < options.missing) continue;
        const p = 1 / (1 + Math.exp(-ai * (theta[d][m] - bi)));
        results.push({ model: models[m], item: `d${d}-q${k}`, domain: `domain-${d}`, score: rng.next() < p ? 1 : 0 });
      }
    }
  });
  return { results, theta, a, b, models };
}

export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const rx = ranks(x);
  const ry = ranks(y);
  const n = rx.length;
  const mean = (n - 1) / 2;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (rx[i] - mean) * (ry[i] - mean);
    sxx += (rx[i] - mean) ** 2;
    syy += (ry[i] - mean) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

function ranks(x: ArrayLike<number>): number[] {
  const order = Array.from({ length: x.length }, (_, i) => i).sort((i, j) => x[i] - x[j]);
  const r = new Array<number>(x.length);
  for (let k = 0; k < order.length; ) {
    let e = k;
    while (e + 1 < order.length && x[order[e + 1]] === x[order[k]]) e++;
    for (let t = k; t <= e; t++) r[order[t]] = (k + e) / 2;
    k = e + 1;
  }
  return r;
}

/** Kendall's τ-b between two score vectors. */
export function kendallTau(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let concordant = 0;
  let discordant = 0;
  let tx = 0;
  let ty = 0;
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) {
      const dx = Math.sign(x[i] - x[j]);
      const dy = Math.sign(y[i] - y[j]);
      if (dx === 0 && dy === 0) continue;
      if (dx === 0) tx++;
      else if (dy === 0) ty++;
      else if (dx === dy) concordant++;
      else discordant++;
    }
  }
  return (concordant - discordant) / Math.sqrt((concordant + discordant + tx) * (concordant + discordant + ty));
}
