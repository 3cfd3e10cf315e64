import { ConfigError } from "../../core/errors.js";
import { Rng } from "../../core/rng.js";
import { TfIdf, type SparseVector } from "../text-features.js";

/**
 * A matrix-factorisation correctness scorer (after RouteLLM's MF router): a question's embedding
 * is a learned linear map of its hashed TF-IDF features (text-features.ts), each model has a
 * learned embedding and bias, and the log-odds that a model gets a question right is
 *   bias[model] + difficulty(question) + embedding(question) · embedding[model],
 * with difficulty another linear read-out of the features. It is fitted by seeded SGD on the
 * logistic loss over every (item, model) result in the evidence — every model with results, not
 * only the ones a router chooses among: the text → embedding map is shared, so results of
 * models outside the pool teach it which text features tell models apart.
 */
export interface MfScorerOptions {
  /** Embedding dimensions (default 8). */
  dimensions?: number;
  /** Passes over the items (default 5). */
  epochs?: number;
  /** Initial step size; it decays as 1 / (1 + epoch) (default 0.1). */
  learningRate?: number;
  /**
   * L2 penalty on the text map and the model embeddings, per item and pass (default 1e-3): a text
   * bucket decays by the whole pass's penalty over the items that have it, since hashed n-grams
   * seen in one question would otherwise memorise it.
   */
  l2?: number;
  /** Seed of the model embeddings' initialisation and the item order (default 0). */
  seed?: number;
}

/** One evaluated item: its text and each model's score on it in [0, 1] (missing: not evaluated). */
export interface MfItem {
  text: string;
  scores: Readonly<Record<string, number>>;
}

const DEFAULTS = { dimensions: 8, epochs: 5, learningRate: 0.1, l2: 1e-3, seed: 0 };

export class MfScorer {
  private constructor(
    private readonly tfidf: TfIdf,
    /** The models it was fitted on, in a fixed order. */
    readonly models: readonly string[],
    private readonly dimensions: number,
    /** Per bucket: the difficulty weight, then `dimensions` embedding weights. */
    private readonly textMap: Float32Array,
    /** Per model: `dimensions` embedding values. */
    private readonly modelEmbedding: Float64Array,
    private readonly bias: Float64Array,
  ) {}

  /** Fits the scorer on items' texts and every model's results on them. */
  static fit(items: readonly MfItem[], options: MfScorerOptions = {}): MfScorer {
    const o = { ...DEFAULTS, ...options };
    const models = [...new Set(items.flatMap((item) => Object.keys(item.scores)))].sort();
    validate(items, models, o);
    const d = o.dimensions;
    const width = d + 1;
    const m = models.length;
    const tfidf = new TfIdf(items.map((item) => item.text));
    // Scores as one item × model matrix, NaN where missing.
    const scores = new Float64Array(items.length * m);
    items.forEach((item, i) => models.forEach((model, j) => (scores[i * m + j] = item.scores[model] ?? NaN)));
    const bias = new Float64Array(m);
    for (let j = 0; j < m; j++) {
      let sum = 0;
      let n = 0;
      for (let i = 0; i < items.length; i++) {
        if (Number.isNaN(scores[i * m + j])) continue;
        sum += scores[i * m + j];
        n++;
      }
      const mean = Math.min(Math.max(sum / Math.max(n, 1), 1e-3), 1 - 1e-3);
      bias[j] = Math.log(mean / (1 - mean));
    }
    const rng = new Rng(o.seed);
    // The text map starts at zero (its gradient is not: the model embeddings start random).
    const modelEmbedding = Float64Array.from({ length: m * d }, () => (rng.next() - 0.5) * 0.2);
    const textMap = new Float32Array(tfidf.buckets * width);
    const df = tfidf.documentFrequency;
    const u = new Float64Array(width);
    const gu = new Float64Array(width);
    const order = items.map((_, i) => i);
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      const lr = o.learningRate / (1 + epoch);
      for (const i of rng.shuffle(order)) {
        const x = tfidf.vectors[i];
        embed(textMap, width, x, u);
        gu.fill(0);
        for (let j = 0; j < m; j++) {
          const s = scores[i * m + j];
          if (Number.isNaN(s)) continue;
          let z = bias[j] + u[0];
          for (let k = 0; k < d; k++) z += u[k + 1] * modelEmbedding[j * d + k];
          const g = s - 1 / (1 + Math.exp(-z));
          bias[j] += lr * g;
          gu[0] += g;
          for (let k = 0; k < d; k++) {
            const v = modelEmbedding[j * d + k];
            gu[k + 1] += g * v;
            modelEmbedding[j * d + k] = v + lr * (g * u[k + 1] - o.l2 * v);
          }
        }
        for (let t = 0; t < x.indices.length; t++) {
          const row = x.indices[t] * width;
          const xv = x.values[t];
          // A bucket is updated once per item that has it: its decay per update is the epoch's
          // penalty spread over those items, so a rare n-gram is pulled to zero as hard as a common one.
          const keep = 1 - Math.min(0.5, lr * o.l2 * (items.length / df[x.indices[t]]));
          for (let k = 0; k < width; k++) textMap[row + k] = keep * textMap[row + k] + lr * xv * gu[k];
        }
      }
    }
    return new MfScorer(tfidf, models, d, textMap, modelEmbedding, bias);
  }

  /** Per model of `models` (each one it was fitted on), the log-odds that it gets `text` right. */
  logits(text: string, models: readonly string[] = this.models): Float64Array {
    const index = models.map((model) => this.models.indexOf(model));
    const unknown = models.filter((_, i) => index[i] < 0);
    if (unknown.length > 0) throw new ConfigError([`matrix-factorisation scorer: no results were fitted for ${unknown.join(", ")}`]);
    const d = this.dimensions;
    const u = new Float64Array(d + 1);
    embed(this.textMap, d + 1, this.tfidf.vector(text), u);
    return Float64Array.from(index, (j) => {
      let z = this.bias[j] + u[0];
      for (let k = 0; k < d; k++) z += u[k + 1] * this.modelEmbedding[j * d + k];
      return z;
    });
  }
}

/** u = the text map applied to x: difficulty, then the embedding. */
function embed(textMap: Float32Array, width: number, x: SparseVector, u: Float64Array): void {
  u.fill(0);
  for (let t = 0; t < x.indices.length; t++) {
    const row = x.indices[t] * width;
    const xv = x.values[t];
    for (let k = 0; k < width; k++) u[k] += xv * textMap[row + k];
  }
}

function validate(items: readonly MfItem[], models: readonly string[], o: Required<MfScorerOptions>): void {
  const problems: string[] = [];
  if (items.length === 0) problems.push("no items to fit on");
  else if (models.length === 0) problems.push("no item has a score for any model");
  items.forEach((item, i) => {
    if (typeof item.text !== "string") problems.push(`item ${i}: text is not a string`);
    for (const [model, score] of Object.entries(item.scores)) {
      if (!(Number.isFinite(score) && score >= 0 && score <= 1)) problems.push(`item ${i}: score of ${model} is ${score}, not in [0, 1]`);
    }
  });
  if (!(Number.isInteger(o.dimensions) && o.dimensions >= 1)) problems.push(`dimensions: a positive integer (got ${o.dimensions})`);
  if (!(Number.isInteger(o.epochs) && o.epochs >= 1)) problems.push(`epochs: a positive integer (got ${o.epochs})`);
  if (!(Number.isFinite(o.learningRate) && o.learningRate > 0)) problems.push(`learningRate: a positive number (got ${o.learningRate})`);
  if (!(Number.isFinite(o.l2) && o.l2 >= 0)) problems.push(`l2: a number of at least 0 (got ${o.l2})`);
  if (!Number.isInteger(o.seed)) problems.push(`seed: an integer (got ${o.seed})`);
  if (problems.length > 0) throw new ConfigError(problems.slice(0, 20).concat(problems.length > 20 ? [`… and ${problems.length - 20} more`] : []));
}
