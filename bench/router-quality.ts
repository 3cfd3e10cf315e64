/**
 * Routing quality on real evidence (issue 15): MMLU-Pro questions with the published per-question
 * 0/1 results of 29 models (shared/data/reference/mmlu-pro-routing). Per pool (eight models, one
 * drawn from each eighth of the models ordered by accuracy) and seed (a domain-stratified 70/30
 * evidence/test split), accuracy on the test questions of:
 *   - the router (cogen's Router over the evidence; item text = the question) and opt-in variants:
 *     option text in the features, other k, a per-expert logistic regression on the same hashed
 *     TF-IDF features trained on the evidence ("linear"), and the StackedRouter ("stacked": a
 *     per-expert logistic correctness scorer over kNN votes at 16/64/256 neighbours, the domain
 *     prior and the answer format, the request carrying its options as lettered lines), and the
 *     MfRouter ("mf", "mf-best", "mf-pool": the kNN vote blended with a matrix-factorisation
 *     scorer trained on the evidence results of all 29 models or of the pool's 8, see below);
 *   - the best single model (chosen on evidence), the best model per domain (chosen on evidence
 *     with the true domain label), the best per sub-domain (`src`) with hindsight (chosen on the
 *     test questions), and the per-item oracle;
 * and the share of the single→oracle gap each closes. Two references put the goal in context:
 * the best per sub-domain chosen on the evidence (the true `src` label, no hindsight), and a
 * ceiling that is no router at all — the pool's results predicted from the other 21 models'
 * results on the very question (see otherModelsCeiling). Two bounds say how much per-question
 * signal there is for a router to find: a kNN vote whose neighbours are the questions with the most
 * similar results of those other models (outsideResultsKnn: the best a similarity can do) and the
 * question's true difficulty × domain (trueDifficultyByDomain: what difficulty alone is worth).
 * Prints a row per run and variant, then
 * the medians (every reference's accuracy and gap closed are in the medians table) and one goal
 * line per variant (measured, reference, met/missed).
 *
 *   npx tsx bench/router-quality.ts [--pools 2] [--seeds 3] [--test N] [--variants a,b,...]
 *
 * --test samples the test questions scored per run (default 1,000 of about 3,600; the sub-domain
 * hindsight choice still sees every test question); variants (default: router, which keeps the
 * run under ~3 minutes on a quiet machine): router, router+options, linear, linear+options, stacked,
 * mf, mf-best, mf-pool (each 1–2 minutes a run quiet, 6 loaded), and
 * kNN settings kN (neighbours), pW (prior weight) or both (k64p0.25). Exits 3 when the data is absent.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { parseArgs } from "node:util";
import { Rng } from "../src/core/rng.js";
import { choleskySolve } from "../src/rank/pairwise/newton.js";
import type { LabelledItem } from "../src/fuse/router/knn.js";
import { Router } from "../src/fuse/router/router.js";
import { StackedRouter } from "../src/fuse/router/stacked-router.js";
import { MfRouter, type MfBlendChoice } from "../src/fuse/router/mf-router.js";
import { TfIdf, type SparseVector } from "../src/fuse/text-features.js";
import { referenceFile } from "../test/reference-data.js";

const ALL_VARIANTS = ["router", "router+options", "linear", "linear+options", "stacked", "mf", "mf-best", "mf-pool"];
const { values } = parseArgs({
  options: {
    pools: { type: "string", default: "2" },
    seeds: { type: "string", default: "3" },
    test: { type: "string", default: "1000" },
    variants: { type: "string", default: "router" },
  },
});
const variants = values.variants.split(",");
for (const [name, value] of [["pools", values.pools], ["seeds", values.seeds], ["test", values.test]]) {
  if (!(value === "all" && name === "test") && !(Number.isInteger(Number(value)) && Number(value) > 0)) throw new Error(`--${name} must be a positive integer${name === "test" ? " or all" : ""}, not ${value}`);
}
/** kNN settings of a variant: "k64" (neighbours), "p0.25" (prior weight), or both ("k64p0.25"). */
const KNN_VARIANT = /^(?:k(\d+))?(?:p(\d+(?:\.\d+)?))?$/;
for (const v of variants) if (!ALL_VARIANTS.includes(v) && !(KNN_VARIANT.test(v) && v !== "")) throw new Error(`unknown variant ${v} (known: ${ALL_VARIANTS.join(", ")}, kN, pW, kNpW)`);

const data = referenceFile("mmlu-pro-routing", "mmlu-pro-items.jsonl.gz");
if (!data.available) {
  console.error(`skipped: the shared reference data (mmlu-pro-routing/mmlu-pro-items.jsonl.gz) is not beside the repository (${data.path})`);
  process.exit(3);
}

interface Question {
  id: string;
  domain: string;
  src: string;
  question: string;
  options: string[];
  scores: Record<string, number>;
}

const questions: Question[] = gunzipSync(readFileSync(data.path))
  .toString("utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => JSON.parse(line) as Question);

/** The text a request carries: the question, optionally with its options as lettered lines. */
function requestText(q: Question, withOptions: boolean): string {
  if (!withOptions) return q.question;
  return [q.question, ...q.options.map((o, i) => `${String.fromCharCode(65 + i)}. ${o.replace(/\s*\n\s*/g, " ")}`)].join("\n");
}

// Models with a result on every question, ordered by accuracy (best first).
const models = Object.keys(questions[0].scores)
  .filter((m) => questions.every((q) => q.scores[m] !== undefined))
  .map((m) => ({ m, acc: questions.reduce((s, q) => s + q.scores[m], 0) / questions.length }))
  .sort((a, b) => b.acc - a.acc)
  .map((x) => x.m);

/** Eight models of different strengths: one drawn at random from each eighth of the accuracy order. */
function pool(seed: number): string[] {
  const rng = new Rng(1000 + seed);
  const picked: string[] = [];
  for (let band = 0; band < 8; band++) {
    const lo = Math.floor((band * models.length) / 8);
    const hi = Math.floor(((band + 1) * models.length) / 8);
    picked.push(models[lo + rng.below(hi - lo)]);
  }
  return picked;
}

/** Domain-stratified split: per domain, a seeded 70% of the questions are evidence, the rest test. */
function split(seed: number): { evidence: Question[]; test: Question[] } {
  const rng = new Rng(seed);
  const byDomain = new Map<string, Question[]>();
  for (const q of questions) byDomain.set(q.domain, [...(byDomain.get(q.domain) ?? []), q]);
  const evidence: Question[] = [];
  const test: Question[] = [];
  for (const domain of [...byDomain.keys()].sort()) {
    const qs = rng.shuffle([...byDomain.get(domain)!]);
    const cut = Math.round(qs.length * 0.7);
    evidence.push(...qs.slice(0, cut));
    test.push(...qs.slice(cut));
  }
  return { evidence, test };
}

/** The model with the highest accuracy on `qs` (ties: first in pool order). */
function best(qs: readonly Question[], pool: readonly string[]): string {
  let top = pool[0];
  let topSum = -1;
  for (const m of pool) {
    const sum = qs.reduce((s, q) => s + q.scores[m], 0);
    if (sum > topSum) [top, topSum] = [m, sum];
  }
  return top;
}

function groupBest(evidence: readonly Question[], key: (q: Question) => string, pool: readonly string[]): Map<string, string> {
  const groups = new Map<string, Question[]>();
  for (const q of evidence) groups.set(key(q), [...(groups.get(key(q)) ?? []), q]);
  return new Map([...groups].map(([g, qs]) => [g, best(qs, pool)]));
}

/**
 * Per expert, logistic regression of its 0/1 result on the question's hashed TF-IDF features
 * (SGD, a few epochs, L2): the item embedding is the feature vector itself, each expert a linear
 * read-out of it. Returns a chooser: the expert with the highest predicted probability of being right.
 */
function fitLinear(texts: readonly string[], results: readonly Float64Array[], experts: number, seed: number): (text: string) => number {
  const tfidf = new TfIdf(texts);
  const buckets = tfidf.buckets;
  const w = Array.from({ length: experts }, () => new Float32Array(buckets));
  const bias = new Float64Array(experts);
  for (let e = 0; e < experts; e++) {
    const mean = results.reduce((s, r) => s + r[e], 0) / results.length;
    bias[e] = Math.log((mean + 1e-3) / (1 - mean + 1e-3));
  }
  const rng = new Rng(seed);
  const order = texts.map((_, i) => i);
  const epochs = 6;
  const l2 = 1e-4;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const lr = 0.5 / (1 + epoch);
    for (const i of rng.shuffle(order)) {
      const x = tfidf.vectors[i];
      for (let e = 0; e < experts; e++) {
        const we = w[e];
        let z = bias[e];
        for (let j = 0; j < x.indices.length; j++) z += we[x.indices[j]] * x.values[j];
        const g = results[i][e] - 1 / (1 + Math.exp(-z));
        bias[e] += lr * 0.1 * g;
        for (let j = 0; j < x.indices.length; j++) {
          const h = x.indices[j];
          we[h] += lr * (g * x.values[j] - l2 * we[h]);
        }
      }
    }
  }
  return (text) => {
    const x: SparseVector = tfidf.vector(text);
    let top = 0;
    let topZ = -Infinity;
    for (let e = 0; e < experts; e++) {
      let z = bias[e];
      for (let j = 0; j < x.indices.length; j++) z += w[e][x.indices[j]] * x.values[j];
      if (z > topZ) [top, topZ] = [e, z];
    }
    return top;
  };
}

/**
 * Not a router — how much per-question signal there is to find: each pool model's 0/1 result
 * ridge-regressed (on the evidence) on the results of the models outside the pool on the same
 * question, then applied to a test question's own results of those models. A text router knows
 * less about a question than this.
 */
function otherModelsCeiling(evidence: readonly Question[], pool: readonly string[]): (q: Question) => string {
  const others = models.filter((m) => !pool.includes(m));
  const d = others.length + 1;
  const features = (q: Question) => [1, ...others.map((m) => q.scores[m])];
  const gram = new Float64Array(d * d);
  for (const q of evidence) {
    const x = features(q);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) gram[i * d + j] += x[i] * x[j];
  }
  for (let i = 0; i < d; i++) gram[i * d + i] += 1;
  const weights = pool.map((m) => {
    const b = new Float64Array(d);
    for (const q of evidence) features(q).forEach((x, i) => (b[i] += x * q.scores[m]));
    choleskySolve(Float64Array.from(gram), b, d);
    return b;
  });
  return (q) => {
    const x = features(q);
    const predicted = weights.map((w) => x.reduce((sum, xi, i) => sum + xi * w[i], 0));
    return pool[predicted.indexOf(Math.max(...predicted))];
  };
}

/** Outside the pool: the complete-result models a pool does not use, and their results as a question's vector. */
function outsideModels(pool: readonly string[]): string[] {
  return models.filter((m) => !pool.includes(m));
}

/**
 * Not a router — an upper bound on what a kNN router could find if its similarity were as good as
 * it gets: a test question's neighbours are the evidence questions whose results of the models
 * outside the pool (centred on the evidence means, cosine) are most like its own, and they vote
 * through the Router's own `decide` (the same closeness weights and domain prior). A text router's
 * neighbours know less about a question than its actual results from 18 other models.
 */
function outsideResultsKnn(evidence: readonly Question[], pool: readonly string[], k: number): (q: Question) => string {
  const others = outsideModels(pool);
  const router = new Router(
    evidence.map((q) => ({ id: q.id, text: q.question, domain: q.domain, scores: Object.fromEntries(pool.map((m) => [m, q.scores[m]])) })),
    { experts: pool, calibrationItems: 2 },
  );
  const means = others.map((m) => evidence.reduce((s, q) => s + q.scores[m], 0) / evidence.length);
  const unit = (q: Question) => {
    const v = Float64Array.from(others, (m, j) => q.scores[m] - means[j]);
    const norm = Math.hypot(...v);
    return norm > 0 ? v.map((x) => x / norm) : v;
  };
  const vectors = evidence.map(unit);
  return (q) => {
    const x = unit(q);
    const similarity = vectors.map((v) => v.reduce((s, vi, j) => s + vi * x[j], 0));
    const nearest = similarity
      .map((_, i) => i)
      .sort((a, b) => similarity[b] - similarity[a] || a - b)
      .slice(0, k);
    return router.decide(nearest.map((index) => ({ item: router.index.items[index], index, similarity: similarity[index] }))).ranked[0].expert;
  };
}

/**
 * Not a router either — what a question's difficulty alone is worth: its true difficulty (the mean
 * result of the models outside the pool on it, in quintiles of the evidence's) × its domain, the
 * best model per cell chosen on the evidence.
 */
function trueDifficultyByDomain(evidence: readonly Question[], pool: readonly string[]): (q: Question) => string {
  const others = outsideModels(pool);
  const difficulty = (q: Question) => others.reduce((s, m) => s + q.scores[m], 0) / others.length;
  const sorted = evidence.map(difficulty).sort((a, b) => a - b);
  const edges = [1, 2, 3, 4].map((i) => sorted[Math.floor((i * sorted.length) / 5)]);
  const cell = (q: Question) => `${q.domain}/${edges.filter((e) => difficulty(q) >= e).length}`;
  const perCell = groupBest(evidence, cell, pool);
  const perDomain = groupBest(evidence, (q) => q.domain, pool);
  return (q) => perCell.get(cell(q)) ?? perDomain.get(q.domain)!;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Goal (issue 15): the router closes this share of the single→oracle gap, at or above per-domain selection on every run. */
const GOAL_GAP = 0.15;
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const rows = new Map<string, { acc: number[]; gap: number[]; belowPerDomain: number }>();
const baselines = [
  "best single",
  "per domain (evidence)",
  "per sub-domain (hindsight)",
  "oracle",
  "per sub-domain (evidence)",
  "ceiling: other models' results",
  "bound: kNN on other models' results (k 256)",
  "bound: domain × true difficulty",
];

const started = performance.now();
console.log("| pool | seed | variant | router | best single | per domain | per sub-domain (hindsight) | oracle | gap closed | per domain's gap | goal (≥ 15% and ≥ per domain) |");
console.log("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|");
for (let p = 0; p < Number(values.pools); p++) {
  const experts = pool(p);
  console.error(`pool ${p}: ${experts.join(", ")}`);
  for (let s = 0; s < Number(values.seeds); s++) {
    const { evidence, test: fullTest } = split(s);
    const test = values.test === "all" ? fullTest : new Rng(99 + s).shuffle([...fullTest]).slice(0, Number(values.test));
    const accuracy = (choose: (q: Question) => string) => test.reduce((sum, q) => sum + q.scores[choose(q)], 0) / test.length;
    const single = best(evidence, experts);
    const perDomain = groupBest(evidence, (q) => q.domain, experts);
    const perSrc = groupBest(fullTest, (q) => q.src, experts);
    const perSrcEvidence = groupBest(evidence, (q) => q.src, experts);
    const base = [
      accuracy(() => single),
      accuracy((q) => perDomain.get(q.domain) ?? single),
      accuracy((q) => perSrc.get(q.src)!),
      test.reduce((sum, q) => sum + Math.max(...experts.map((m) => q.scores[m])), 0) / test.length,
      accuracy((q) => perSrcEvidence.get(q.src) ?? perDomain.get(q.domain)!),
      accuracy(otherModelsCeiling(evidence, experts)),
      accuracy(outsideResultsKnn(evidence, experts, 256)),
      accuracy(trueDifficultyByDomain(evidence, experts)),
    ];
    const [singleAcc, perDomainAcc, , oracleAcc] = base;
    const gapOf = (acc: number) => (acc - singleAcc) / (oracleAcc - singleAcc);
    const record = (name: string, acc: number) => {
      const row = rows.get(name) ?? { acc: [], gap: [], belowPerDomain: 0 };
      row.acc.push(acc);
      row.gap.push(gapOf(acc));
      if (acc < perDomainAcc) row.belowPerDomain++;
      rows.set(name, row);
    };
    baselines.forEach((name, i) => record(name, base[i]));
    for (const variant of variants) {
      const withOptions = variant.endsWith("+options");
      const t0 = performance.now();
      let choose: (q: Question) => string;
      if (variant === "stacked") {
        // Options ride along as lettered lines: they feed the format features, not the kNN.
        const items: LabelledItem[] = evidence.map((q) => ({ id: q.id, text: requestText(q, true), domain: q.domain, scores: Object.fromEntries(experts.map((m) => [m, q.scores[m]])) }));
        const router = new StackedRouter(items, { experts, scorer: { seed: s } });
        choose = (q) => router.route(requestText(q, true)).ranked[0].expert;
      } else if (variant.startsWith("mf")) {
        // MfRouter. "mf": its MF scorer trains on every model's evidence results (the test
        // questions' results of no model are seen) and a blend must beat the kNN vote alone by 2
        // standard errors on held-out evidence; "mf-best": the best cross-validated blend, no
        // bar; "mf-pool": the same on the pool's results only — what the other models add.
        const everyModel = variant !== "mf-pool";
        const items: LabelledItem[] = evidence.map((q) => ({ id: q.id, text: q.question, domain: q.domain, scores: everyModel ? q.scores : Object.fromEntries(experts.map((m) => [m, q.scores[m]])) }));
        const router = new MfRouter(items, { experts, seed: s, minimumGain: variant === "mf" ? undefined : 0 });
        const top = router.crossValidation.reduce((a, b) => (b.value > a.value ? b : a));
        const kind = (c: MfBlendChoice) => `weight ${c.weight}, penalty ${c.l2}: ${c.value.toFixed(3)}, gain ${c.gain.toFixed(4)} ± ${c.standardError.toFixed(4)}`;
        console.error(`pool ${p} seed ${s} ${variant}: chose ${kind(router.chosen)}; best cross-validated ${kind(top)}`);
        choose = (q) => router.route(q.question).ranked[0].expert;
      } else if (variant.startsWith("linear")) {
        const pick = fitLinear(
          evidence.map((q) => requestText(q, withOptions)),
          evidence.map((q) => Float64Array.from(experts, (m) => q.scores[m])),
          experts.length,
          s,
        );
        choose = (q) => experts[pick(requestText(q, withOptions))];
      } else {
        const knn = KNN_VARIANT.exec(variant);
        const k = knn?.[1] === undefined ? undefined : Number(knn[1]);
        const priorWeight = knn?.[2] === undefined ? undefined : Number(knn[2]);
        const items: LabelledItem[] = evidence.map((q) => ({ id: q.id, text: requestText(q, withOptions), domain: q.domain, scores: Object.fromEntries(experts.map((m) => [m, q.scores[m]])) }));
        const router = new Router(items, { experts, k, priorWeight });
        choose = (q) => router.route(requestText(q, withOptions)).ranked[0].expert;
      }
      const acc = accuracy(choose);
      record(variant, acc);
      const met = gapOf(acc) >= GOAL_GAP && acc >= perDomainAcc;
      const cells = [p, s, `${variant} (${((performance.now() - t0) / 1000).toFixed(0)} s)`, acc.toFixed(3), ...base.slice(0, 4).map((b) => b.toFixed(3)), pct(gapOf(acc)), pct(gapOf(perDomainAcc)), met ? "met" : "missed"];
      console.log(`| ${cells.join(" | ")} |`);
    }
  }
}

const runs = Number(values.pools) * Number(values.seeds);
console.log(`\nmedians over ${values.pools} pools × ${values.seeds} seeds, ${values.test} test questions each (${((performance.now() - started) / 1000).toFixed(0)} s):`);
console.log("| | accuracy | gap closed | min gap closed | runs below per domain | goal (median ≥ 15%, never below per domain) |\n|---|---:|---:|---:|---:|---|");
for (const [name, { acc, gap, belowPerDomain }] of rows) {
  const goal = baselines.includes(name) ? "" : median(gap) >= GOAL_GAP && belowPerDomain === 0 ? "met" : "missed";
  console.log(`| ${name} | ${median(acc).toFixed(3)} | ${pct(median(gap))} | ${pct(Math.min(...gap))} | ${belowPerDomain} of ${runs} | ${goal} |`);
}
const runNames = Array.from({ length: runs }, (_, i) => `pool ${Math.floor(i / Number(values.seeds))} seed ${i % Number(values.seeds)}`);
console.log(`\ngap closed per run:\n| | ${runNames.join(" | ")} |\n|---|${runNames.map(() => "---:").join("|")}|`);
for (const [name, { gap }] of rows) console.log(`| ${name} | ${gap.map(pct).join(" | ")} |`);
const perDomainGap = median(rows.get("per domain (evidence)")!.gap);
console.log(`\ngoal (issue 15): median gap closed ≥ ${pct(GOAL_GAP)} and never below per-domain selection (per domain closes ${pct(perDomainGap)} median)`);
for (const [name, { gap, belowPerDomain }] of rows) {
  if (baselines.includes(name)) continue;
  const met = median(gap) >= GOAL_GAP && belowPerDomain === 0;
  console.log(`goal ${name}: measured ${pct(median(gap))} (min ${pct(Math.min(...gap))}), reference ${pct(GOAL_GAP)}, below per domain on ${belowPerDomain} of ${runs} runs: ${met ? "met" : "missed"}`);
}
