/**
 * IRT at scale: 1,000 models × 20,000 items with 20% of responses missing (16 M responses),
 * simulated from a planted 2PL model straight into the sparse matrix. Prints the fit time, peak
 * memory (maxRSS) and, as the side-by-side reference, the time of one plain pass over the same
 * responses computing every model's mean score (the floor any estimator pays per iteration).
 *
 *   npx tsx bench/irt.ts [--models 1000] [--items 20000] [--missing 0.2] [--runs 3]
 */
import { parseArgs } from "node:util";
import { Rng } from "../src/core/rng.js";
import { fitIrt } from "../src/rank/irt.js";
import { meanScores, type ResponseMatrix } from "../src/rank/responses.js";

const { values } = parseArgs({
  options: {
    models: { type: "string", default: "1000" },
    items: { type: "string", default: "20000" },
    missing: { type: "string", default: "0.2" },
    runs: { type: "string", default: "3" },
  },
});
const nModels = Number(values.models);
const nItems = Number(values.items);
const missing = Number(values.missing);
const runs = Number(values.runs);

function simulateMatrix(seed: number): { matrix: ResponseMatrix; theta: Float64Array } {
  const rng = new Rng(seed);
  const theta = Float64Array.from({ length: nModels }, () => rng.normal());
  const capacity = Math.ceil(nModels * nItems * (1 - missing) * 1.01) + nModels;
  let model = new Int32Array(capacity);
  let score = new Float32Array(capacity);
  const itemStart = new Int32Array(nItems + 1);
  let pos = 0;
  for (let i = 0; i < nItems; i++) {
    const a = 0.5 + 1.5 * rng.next();
    const b = 1.2 * rng.normal();
    for (let m = 0; m < nModels; m++) {
      if (rng.next() < missing) continue;
      if (pos === model.length) {
        const grownModel = new Int32Array(model.length * 1.1);
        grownModel.set(model);
        model = grownModel;
        const grownScore = new Float32Array(score.length * 1.1);
        grownScore.set(score);
        score = grownScore;
      }
      model[pos] = m;
      score[pos] = rng.next() < 1 / (1 + Math.exp(-a * (theta[m] - b))) ? 1 : 0;
      pos++;
    }
    itemStart[i + 1] = pos;
  }
  const matrix: ResponseMatrix = {
    models: Array.from({ length: nModels }, (_, m) => `m${m}`),
    items: Array.from({ length: nItems }, (_, i) => `i${i}`),
    itemDomain: new Int32Array(nItems),
    domains: ["default"],
    itemStart,
    model: model.subarray(0, pos),
    score: score.subarray(0, pos),
  };
  return { matrix, theta };
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let mx = 0, my = 0;
  for (let i = 0; i < x.length; i++) { mx += x[i]; my += y[i]; }
  mx /= x.length; my /= y.length;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

const t0 = performance.now();
const { matrix, theta } = simulateMatrix(1);
const simSeconds = (performance.now() - t0) / 1000;
console.log(`${nModels} models × ${nItems} items, ${(missing * 100).toFixed(0)}% missing: ${matrix.model.length.toLocaleString()} responses (simulated in ${simSeconds.toFixed(1)} s)`);

const fitTimes: number[] = [];
const passTimes: number[] = [];
let iterations = 0;
let correlation = 0;
for (let r = 0; r < runs; r++) {
  const p0 = performance.now();
  meanScores(matrix);
  passTimes.push((performance.now() - p0) / 1000);
  const f0 = performance.now();
  const fit = fitIrt(matrix);
  fitTimes.push((performance.now() - f0) / 1000);
  iterations = fit.iterations;
  correlation = pearson(fit.theta, theta);
}
const fitMedian = median(fitTimes);
const passMedian = median(passTimes);
const rssGiB = process.resourceUsage().maxRSS / 1024 / 1024;
console.log(`fit: median ${fitMedian.toFixed(2)} s over ${runs} runs (${fitTimes.map((t) => t.toFixed(2)).join(", ")}), ${iterations} iterations`);
console.log(`reference (one pass computing mean scores): median ${(passMedian * 1000).toFixed(0)} ms; fit / pass = ${(fitMedian / passMedian).toFixed(0)}×`);
console.log(`budget: ${fitMedian.toFixed(1)} s of 60 s (${(fitMedian / 60).toFixed(2)}×); peak RSS ${rssGiB.toFixed(2)} GiB of 1.5 GiB (${(rssGiB / 1.5).toFixed(2)}×)`);
console.log(`recovery: Pearson(θ̂, θ) = ${correlation.toFixed(4)}`);
