/**
 * cogen's scoring overhead over node-llama-cpp, and multiple-choice throughput, on tiny random
 * llama models with 1 thread.
 *
 * 1. Overhead: the same log-likelihoods (pairs with distinct contexts, so no prefix can be
 *    reused) computed by cogen's llama.cpp backend and by a minimal direct node-llama-cpp loop
 *    (tokenize, clear the sequence, controlledEvaluate with probabilities at the continuation).
 *    Ratio = cogen time / direct time (target < 1.10). Interleaved pair by pair, alternating
 *    which goes first; median of --runs.
 * 2. Multiple choice: items/s of runEval (4 choices sharing one context) against the direct
 *    loop scoring the same choices from scratch.
 *
 *   npx tsx bench/eval-llamacpp.ts [--runs 5] [--pairs 60] [--items 30] [--hidden 128] [--layers 4]
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import type { Token } from "node-llama-cpp";
import { runEval } from "../src/eval/runner.js";
import { parseTasks } from "../src/formats/tasks.js";
import { createLlamaCppModel } from "../src/models/llamacpp/model.js";
import { llamaRuntime } from "../src/models/llamacpp/runtime.js";
import { ModelPool } from "../src/models/pool.js";
import { FIXTURE_TEXT, makeTinyLlama } from "../test/fixtures/tiny-llama.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    pairs: { type: "string", default: "60" },
    items: { type: "string", default: "30" },
    hidden: { type: "string", default: "128" },
    layers: { type: "string", default: "4" },
  },
});
const runs = Number(values.runs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const root = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-bench-"));
const hidden = Number(values.hidden);
const tiny = await makeTinyLlama(root, "byte-level", { hiddenSize: hidden, intermediateSize: hidden * 2, numLayers: Number(values.layers), numHeads: 4, numKvHeads: 2 });
const file = await tiny.gguf();
const words = FIXTURE_TEXT.replace(/\n/g, " ").split(" ");
const pairs: [string, string][] = Array.from({ length: Number(values.pairs) }, (_, i) => {
  const start = (i * 7) % (words.length - 12);
  return [words.slice(start, start + 6 + (i % 4)).join(" "), " " + words.slice(start + 10, start + 12).join(" ")];
});

const llama = await llamaRuntime(false);
const direct = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
const directContext = await direct.createContext({ contextSize: 256, threads: 1, sequences: 1 });
const sequence = directContext.getSequence();
async function directLogLikelihood(context: string, continuation: string): Promise<number> {
  const c = direct.tokenize(context, false);
  const w = direct.tokenize(context + continuation, false);
  let n = 0;
  while (n < c.length && c[n] === w[n]) n++;
  n = Math.max(n, 1);
  await sequence.clearHistory();
  const input = w.slice(0, -1).map((t, i) => (i >= n - 1 ? [t, { generateNext: { probabilities: true } }] as [Token, { generateNext: { probabilities: true } }] : t));
  const out = await sequence.controlledEvaluate(input);
  let lp = 0;
  for (let i = n; i < w.length; i++) lp += Math.log(out[i - 1]!.next.probabilities!.get(w[i])!);
  return lp;
}
const model = await createLlamaCppModel({ id: "tiny", path: file, contextSize: 256, threads: 1 });

// 1. Overhead on distinct contexts.
const cogenTimes: number[] = [];
const directTimes: number[] = [];
let maxDiff = 0;
for (const [c, x] of pairs.slice(0, 5)) {
  // Warm-up.
  await directLogLikelihood(c, x);
  await model.logLikelihood(c, x);
}
for (let r = 0; r < runs; r++) {
  // Interleaved pair by pair (alternating which goes first) so that load from other processes on
  // a shared machine falls on both sides alike.
  let directMs = 0;
  let cogenMs = 0;
  for (const [i, [c, x]] of pairs.entries()) {
    const timeDirect = async () => {
      const t = performance.now();
      const v = await directLogLikelihood(c, x);
      directMs += performance.now() - t;
      return v;
    };
    const timeCogen = async () => {
      const t = performance.now();
      const v = (await model.logLikelihood(c, x)).logprob;
      cogenMs += performance.now() - t;
      return v;
    };
    let a: number;
    let b: number;
    if ((i + r) % 2 === 0) {
      a = await timeDirect();
      b = await timeCogen();
    } else {
      b = await timeCogen();
      a = await timeDirect();
    }
    maxDiff = Math.max(maxDiff, Math.abs(a - b));
  }
  directTimes.push(directMs);
  cogenTimes.push(cogenMs);
}
console.log(`model: hidden ${hidden}, ${values.layers} layers, vocab ${tiny.config.vocabSize}, ${(await fs.stat(file)).size} bytes, 1 thread`);
console.log(`log-likelihood of ${pairs.length} pairs (distinct contexts), median of ${runs}:`);
console.log(`  direct node-llama-cpp  ${median(directTimes).toFixed(1)} ms`);
console.log(`  cogen backend          ${median(cogenTimes).toFixed(1)} ms`);
console.log(`  overhead ratio cogen/direct = ${(median(cogenTimes) / median(directTimes)).toFixed(3)} (target < 1.10); max |Δ logprob| = ${maxDiff.toExponential(2)}`);

// 2. Multiple-choice items/s through the whole runner.
const nItems = Number(values.items);
const itemsJsonl = Array.from({ length: nItems }, (_, i) => {
  const start = (i * 5) % (words.length - 16);
  const choices = [0, 1, 2, 3].map((k) => " " + words[(start + 8 + k * 3) % words.length]);
  return JSON.stringify({ id: `q${i}`, context: words.slice(start, start + 8).join(" "), choices, answer: 0 });
}).join("\n");
const items = parseTasks(itemsJsonl, "bench.jsonl");
const runnerTimes: number[] = [];
const directMcTimes: number[] = [];
const pool = new ModelPool();
const expert = { id: "tiny", backend: "llamacpp" as const, path: file, threads: 1, contextSize: 256, domains: [], tags: [] };
for (let r = 0; r < runs; r++) {
  let t = performance.now();
  for (const item of items) if (item.kind === "multiple_choice") for (const c of item.choices) await directLogLikelihood(item.context, c);
  directMcTimes.push(performance.now() - t);
  const out = path.join(root, `r${r}.jsonl`);
  t = performance.now();
  await runEval({ experts: [expert], items, out, pool });
  runnerTimes.push(performance.now() - t);
}
await pool.close();
const perSecond = (ms: number) => (nItems / (ms / 1000)).toFixed(1);
console.log(`multiple choice, ${nItems} items × 4 choices, median of ${runs}:`);
console.log(`  direct (each choice from scratch)  ${perSecond(median(directMcTimes))} items/s`);
console.log(`  cogen runEval (shared context KV)  ${perSecond(median(runnerTimes))} items/s  (ratio ${(median(directMcTimes) / median(runnerTimes)).toFixed(2)}× direct)`);

await model.close();
await directContext.dispose();
await direct.dispose();
await fs.rm(root, { recursive: true, force: true });
