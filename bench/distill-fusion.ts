/**
 * Fusion cost: building a text's pivot targets from the sources' stored top-K (FuseLLM alignment
 * + mapping, InfiFusion ULD rows) against one pivot training step on those targets, side by side
 * in one process, medians of several runs. The step is the distillation step the zoo's pivots
 * take: base-a (d64 × 2 layers) with LoRA rank 16, λ·CLM + (1 − λ)·(aligned KL + ULD), batch 16 ×
 * 64 positions. The ratio is (fusion per text × texts per step) / step: the share of a step that
 * fusing its batch's texts costs if targets were built on the fly.
 *
 *   npx tsx bench/distill-fusion.ts [--zoo zoo] [--texts 64] [--runs 5] [--steps 5] [--k 8]
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { ExpertSpec } from "../src/formats/models-file.js";
import { readLlamaConfig } from "../src/formats/hf/config.js";
import { openHfWeights } from "../src/formats/safetensors/index.js";
import { buildPivotTargets, type BuildPivotTargetsOptions } from "../src/fuse/distill/build-pivot-targets.js";
import { parseDistillCorpus } from "../src/fuse/distill/corpus.js";
import type { SourceTopK } from "../src/fuse/distill/fusion.js";
import { kdObjective } from "../src/fuse/distill/kd-objective.js";
import { preparePivot, readPivotTokenizer } from "../src/fuse/distill/pivot.js";
import type { PivotTargets } from "../src/fuse/distill/pivot-targets.js";
import { distillTargets } from "../src/fuse/distill/targets.js";
import { openDistillTargets } from "../src/fuse/distill/targets-reader.js";
import { createAdamWState, DEFAULT_ADAMW, disposeAdamWState } from "../src/zoo/train/adamw.js";
import { initTrainingBackend } from "../src/zoo/train/backend.js";
import { createTrainModel, disposeTrainModel, trainableVariables } from "../src/zoo/train/model.js";
import { optimizerStep } from "../src/zoo/train/step.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const ZOO = path.resolve(arg("zoo", "zoo"));
const TEXTS = Number(arg("texts", "64"));
const RUNS = Number(arg("runs", "5"));
const STEPS = Number(arg("steps", "5"));
const K = Number(arg("k", "8"));
const BATCH = 16;
const SEQ = 64;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const lines: string[] = [];
for (const record of (await fs.readFile(path.join(ZOO, "items", "bits-per-byte.jsonl"), "utf8")).trim().split("\n")) {
  for (const line of (JSON.parse(record) as { text: string }).text.split("\n")) if (line.length >= 20 && Buffer.byteLength(line) <= 110 && lines.length < TEXTS) lines.push(line);
}
const corpus = parseDistillCorpus(Buffer.from(lines.join("\n") + "\n"), "bench.txt");
const source = (id: string, file: string): ExpertSpec => ({ id, backend: "llamacpp", path: path.join(ZOO, file), contextSize: 64, threads: 1, domains: [], tags: [] });
const sources = [
  source("a-base", "a/base/model.gguf"), source("a-expert-medicine", "a/experts/medicine/model.gguf"),
  source("b-base", "b/base/model.gguf"), source("b-expert-biology", "b/experts/biology/model.gguf"),
];
const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-bench-fusion-"));
const views: (SourceTopK | undefined)[][] = [];
try {
  await distillTargets({ sources, corpus, out: dir, k: K });
  const reader = await openDistillTargets(dir);
  for (let i = 0; i < lines.length; i++) views.push(await reader.forText(i));
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}
const pivotDir = path.join(ZOO, "a", "base", "hf");
const pivot = preparePivot(await readPivotTokenizer(pivotDir));

function fuseAll(options: BuildPivotTargetsOptions): { ms: number; targets: PivotTargets[] } {
  const started = performance.now();
  const targets = lines.map((text, i) => buildPivotTargets(pivot, text, views[i], { k: K, ...options })!);
  return { ms: (performance.now() - started) / lines.length, targets };
}

await initTrainingBackend();
const config = await readLlamaConfig(pivotDir);
const init = new Map<string, Float32Array>();
const weights = await openHfWeights(pivotDir);
for (const t of weights.list()) init.set(t.name, await weights.readF32(t.name));
await weights.close();
const { targets } = fuseAll({});
const bosId = pivot.tokenizer.vocab.bosId ?? pivot.tokenizer.vocab.eosId!;

function stepMs(run: number): number {
  const model = createTrainModel(config, { seed: run, init, lora: { rank: 16, alpha: 16 }, tokenizer: pivot.tokenizer });
  const vars = trainableVariables(model);
  const optimizer = createAdamWState(vars);
  const objective = kdObjective({ texts: targets, lambda: 0.5, batchSize: BATCH, seqLen: SEQ, seed: run, bosId });
  try {
    optimizerStep(vars, optimizer, () => objective.loss(model, 0, pivot.tokenizer), 1e-3, DEFAULT_ADAMW);
    const started = performance.now();
    for (let s = 1; s <= STEPS; s++) optimizerStep(vars, optimizer, () => objective.loss(model, s, pivot.tokenizer), 1e-3, DEFAULT_ADAMW);
    return (performance.now() - started) / STEPS;
  } finally {
    disposeAdamWState(optimizer);
    disposeTrainModel(model);
  }
}

const rows: Record<string, number[]> = { both: [], aligned: [], "aligned avg-ce": [], uld: [], step: [] };
fuseAll({});
for (let run = 0; run < RUNS; run++) {
  rows.both.push(fuseAll({}).ms);
  rows.aligned.push(fuseAll({ modes: ["aligned"] }).ms);
  rows["aligned avg-ce"].push(fuseAll({ modes: ["aligned"], combine: "avg-ce" }).ms);
  rows.uld.push(fuseAll({ modes: ["uld"] }).ms);
  rows.step.push(stepMs(run));
}
const step = median(rows.step);
const tokens = targets.reduce((s, t) => s + t.tokens.length, 0) / targets.length;
console.log(`${lines.length} texts (${tokens.toFixed(1)} pivot tokens each), ${sources.length} sources (2 tokenizer families), top-${K}; median of ${RUNS} runs`);
console.log(`pivot training step (LoRA 16, batch ${BATCH} × ${SEQ}, λ·CLM + aligned KL + ULD): ${step.toFixed(1)} ms`);
console.table(["both", "aligned", "aligned avg-ce", "uld"].map((mode) => ({
  fusion: mode === "both" ? "aligned (MinCE) + uld" : mode,
  "ms per text": median(rows[mode]).toFixed(3),
  [`× ${BATCH} texts / step (goal ≤ 15%)`]: `${((100 * median(rows[mode]) * BATCH) / step).toFixed(1)}%`,
  "per text / step": `${((100 * median(rows[mode])) / step).toFixed(2)}%`,
})));
