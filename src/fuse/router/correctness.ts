import { argmax } from "../../core/argmax.js";
import { ConfigError } from "../../core/errors.js";
import { Rng } from "../../core/rng.js";
import { choleskySolve } from "../../rank/pairwise/newton.js";

/**
 * Per expert, an L2-regularised logistic regression of its score (a 0/1 result, or a soft one in
 * [0, 1]) on that expert's feature vector for an item: a trained "will this expert get it right"
 * scorer. The penalty is chosen by cross-validation inside the training items, on what routing
 * needs — the mean score of the expert each held-out item would be routed to — not on log loss.
 */
export interface CorrectnessScorerOptions {
  /** Penalties tried, on standardised features (default 1, 0.3, 0.1, 0.03, 0.01; the largest wins ties). */
  l2?: readonly number[];
  /** Cross-validation folds (default 3). */
  folds?: number;
  /** Seed of the fold assignment (default 0). */
  seed?: number;
}

export interface CorrectnessExample {
  /** Per expert, in a fixed expert order, its feature vector for this item (all the same length). */
  features: readonly Float64Array[];
  /** Per expert, its score on the item in [0, 1]; undefined: not evaluated. */
  scores: readonly (number | undefined)[];
}

interface Fit {
  /** Per expert: weights on the standardised features, then the bias. */
  weights: Float64Array[];
}

const DEFAULT_L2 = [1, 0.3, 0.1, 0.03, 0.01];
const NEWTON_STEPS = 30;

export class CorrectnessScorer {
  private constructor(
    private readonly fit: Fit,
    private readonly mean: Float64Array[],
    private readonly sd: Float64Array[],
    /** The penalty chosen. */
    readonly l2: number,
    /** Per penalty tried: the cross-validated mean score of the experts routed to. */
    readonly crossValidation: { l2: number; value: number }[],
  ) {}

  /** Fits one logistic regression per expert, the penalty chosen by cross-validation. */
  static fit(examples: readonly CorrectnessExample[], options: CorrectnessScorerOptions = {}): CorrectnessScorer {
    const l2s = [...(options.l2 ?? DEFAULT_L2)].sort((a, b) => b - a);
    const folds = options.folds ?? 3;
    validate(examples, l2s, folds);
    const experts = examples[0].features.length;
    const rng = new Rng(options.seed ?? 0);
    const fold = new Int32Array(examples.length);
    rng.shuffle(examples.map((_, i) => i)).forEach((item, position) => (fold[item] = position % folds));
    const crossValidation = l2s.map((l2) => {
      let total = 0;
      let counted = 0;
      for (let f = 0; f < folds; f++) {
        const train = examples.filter((_, i) => fold[i] !== f);
        const { mean, sd } = moments(train, experts);
        const fit = fitAll(train, mean, sd, l2);
        examples.forEach((example, i) => {
          if (fold[i] !== f) return;
          const chosen = argmax(logitsOf(fit, mean, sd, example.features));
          const score = example.scores[chosen];
          if (score === undefined) return;
          total += score;
          counted++;
        });
      }
      return { l2, value: counted > 0 ? total / counted : 0 };
    });
    const best = crossValidation.reduce((a, b) => (b.value > a.value ? b : a));
    const { mean, sd } = moments(examples, experts);
    return new CorrectnessScorer(fitAll(examples, mean, sd, best.l2), mean, sd, best.l2, crossValidation);
  }

  /** Per expert, the log-odds that it gets this item right. */
  logits(features: readonly Float64Array[]): Float64Array {
    if (features.length !== this.fit.weights.length) throw new ConfigError([`correctness scorer: ${features.length} feature vectors for ${this.fit.weights.length} experts`]);
    features.forEach((x, e) => {
      if (x.length !== this.mean[e].length) throw new ConfigError([`correctness scorer: expert ${e} has ${x.length} features, trained on ${this.mean[e].length}`]);
    });
    return logitsOf(this.fit, this.mean, this.sd, features);
  }
}

function validate(examples: readonly CorrectnessExample[], l2s: readonly number[], folds: number): void {
  const problems: string[] = [];
  if (l2s.length === 0 || l2s.some((l2) => !(l2 > 0) || !Number.isFinite(l2))) problems.push(`l2: penalties must be positive and finite (got ${l2s.join(", ") || "none"})`);
  if (!Number.isInteger(folds) || folds < 2) problems.push(`folds: must be an integer of at least 2 (got ${folds})`);
  if (examples.length === 0) throw new ConfigError([...problems, "no training examples"]);
  if (examples.length < folds) problems.push(`${examples.length} training examples for ${folds} folds`);
  const experts = examples[0].features.length;
  if (experts === 0) problems.push("examples have no experts");
  const widths = examples[0].features.map((x) => x.length);
  examples.forEach((example, i) => {
    if (example.features.length !== experts || example.scores.length !== experts) {
      problems.push(`example ${i}: ${example.features.length} feature vectors and ${example.scores.length} scores for ${experts} experts`);
      return;
    }
    example.features.forEach((x, e) => {
      if (x.length !== widths[e]) problems.push(`example ${i}, expert ${e}: ${x.length} features, not ${widths[e]}`);
      else if (x.some((v) => !Number.isFinite(v))) problems.push(`example ${i}, expert ${e}: a feature is not a finite number`);
    });
    example.scores.forEach((s, e) => {
      if (s !== undefined && !(s >= 0 && s <= 1)) problems.push(`example ${i}, expert ${e}: score ${s} is outside [0, 1]`);
    });
  });
  for (let e = 0; e < experts; e++) if (examples.every((x) => x.scores[e] === undefined)) problems.push(`expert ${e} has no score on any example`);
  if (problems.length > 0) throw new ConfigError(problems.slice(0, 20).concat(problems.length > 20 ? [`… and ${problems.length - 20} more`] : []));
}

/** Per expert, each feature's mean and standard deviation (1 where constant) over the examples. */
function moments(examples: readonly CorrectnessExample[], experts: number): { mean: Float64Array[]; sd: Float64Array[] } {
  const mean: Float64Array[] = [];
  const sd: Float64Array[] = [];
  for (let e = 0; e < experts; e++) {
    const d = examples[0].features[e].length;
    const m = new Float64Array(d);
    const s = new Float64Array(d);
    for (const x of examples) for (let j = 0; j < d; j++) m[j] += x.features[e][j] / examples.length;
    for (const x of examples) for (let j = 0; j < d; j++) s[j] += (x.features[e][j] - m[j]) ** 2 / examples.length;
    for (let j = 0; j < d; j++) s[j] = Math.sqrt(s[j]) > 1e-12 ? Math.sqrt(s[j]) : 1;
    mean.push(m);
    sd.push(s);
  }
  return { mean, sd };
}

function fitAll(examples: readonly CorrectnessExample[], mean: Float64Array[], sd: Float64Array[], l2: number): Fit {
  return {
    weights: mean.map((m, e) => {
      const rows: Float64Array[] = [];
      const labels: number[] = [];
      for (const x of examples) {
        const y = x.scores[e];
        if (y === undefined) continue;
        rows.push(standardised(x.features[e], m, sd[e]));
        labels.push(y);
      }
      return fitLogistic(rows, labels, l2);
    }),
  };
}

/** Row with a trailing 1 for the bias. */
function standardised(x: Float64Array, mean: Float64Array, sd: Float64Array): Float64Array {
  const z = new Float64Array(x.length + 1);
  for (let j = 0; j < x.length; j++) z[j] = (x[j] - mean[j]) / sd[j];
  z[x.length] = 1;
  return z;
}

/**
 * Newton's method on mean log loss + l2/2 |w|² (the bias unpenalised), halving a step that does
 * not lower the loss. Soft labels are fine: the loss is convex in w for any y in [0, 1].
 */
export function fitLogistic(rows: readonly Float64Array[], labels: readonly number[], l2: number): Float64Array {
  const d = rows[0].length;
  const n = rows.length;
  let w = new Float64Array(d);
  const loss = (v: Float64Array) => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const z = dot(v, rows[i]);
      sum += softplus(z) - labels[i] * z;
    }
    let penalty = 0;
    for (let j = 0; j < d - 1; j++) penalty += v[j] * v[j];
    return sum / n + (l2 / 2) * penalty;
  };
  let current = loss(w);
  for (let step = 0; step < NEWTON_STEPS; step++) {
    const gradient = new Float64Array(d);
    const hessian = new Float64Array(d * d);
    for (let i = 0; i < n; i++) {
      const x = rows[i];
      const p = sigmoid(dot(w, x));
      const r = (p - labels[i]) / n;
      const h = (p * (1 - p)) / n;
      for (let a = 0; a < d; a++) {
        gradient[a] += r * x[a];
        const hx = h * x[a];
        for (let b = 0; b <= a; b++) hessian[a * d + b] += hx * x[b];
      }
    }
    for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) hessian[b * d + a] = hessian[a * d + b];
    for (let j = 0; j < d - 1; j++) {
      gradient[j] += l2 * w[j];
      hessian[j * d + j] += l2;
    }
    hessian[d * d - 1] += 1e-9;
    const direction = Float64Array.from(gradient);
    choleskySolve(hessian, direction, d);
    let scale = 1;
    let next = w;
    let nextLoss = current;
    for (let halvings = 0; halvings < 20; halvings++, scale /= 2) {
      next = w.map((v, j) => v - scale * direction[j]);
      nextLoss = loss(next);
      if (nextLoss <= current) break;
    }
    if (!(nextLoss <= current)) break;
    const improvement = current - nextLoss;
    w = next;
    current = nextLoss;
    if (improvement < 1e-12) break;
  }
  return w;
}

function logitsOf(fit: Fit, mean: Float64Array[], sd: Float64Array[], features: readonly Float64Array[]): Float64Array {
  return Float64Array.from(fit.weights, (w, e) => dot(w, standardised(features[e], mean[e], sd[e])));
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}
