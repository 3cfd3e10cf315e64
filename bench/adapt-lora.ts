/**
 * `cogen adapt lora`'s training speed against the zoo trainer's own (issue 12: same code path, no
 * slower): steps per second of `adaptLora` (one round, so no intermediate evaluation; the
 * held-out evaluations, checkpoint and exports are timed apart by the trainer's own clock)
 * against `trainLanguageModel` alone with the zoo experts' settings on base-a, side by side,
 * medians of --runs runs.
 *
 *   npx tsx bench/adapt-lora.ts [--runs 3] [--steps 30]
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { adaptLora } from "../src/adapt/lora.js";
import type { Progress } from "../src/core/progress.js";
import { disposeTrainModel } from "../src/zoo/train/model.js";
import { trainLanguageModel } from "../src/zoo/train/train.js";
import { buildZooData } from "../src/zoo/corpora/write.js";

const { values } = parseArgs({ options: { runs: { type: "string" }, steps: { type: "string" } } });
const runs = Number(values.runs ?? 3);
const steps = Number(values.steps ?? 30);
const baseHf = path.resolve(import.meta.dirname, "../zoo/a/base/hf");
const work = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-bench-adapt-lora-"));
const domain = (await buildZooData({ seed: 0, perDomain: 8 })).corpus.domains.find((d) => d.name === "law")!;
const data = path.join(work, "law.jsonl");
await fs.writeFile(data, domain.train.map((r) => JSON.stringify({ text: r.text })).join("\n") + "\n");
const settings = { rank: 16, steps, lr: 4e-3, batchSize: 16, seqLen: 64, seed: 1 };

/** Seconds between the first and the last training tick, as the trainer's own steps/s counts them. */
function tickClock(): { progress: Progress; stepsPerSecond: () => number } {
  let first = 0;
  let last = 0;
  let ticks = 0;
  return {
    progress: { start() {}, tick(n = 1) { if (n > 0) { if (!first) first = performance.now(); last = performance.now(); ticks += n; } }, done() {} },
    stepsPerSecond: () => (ticks - 1) / ((last - first) / 1000),
  };
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const adapt: number[] = [];
const zoo: number[] = [];
for (let r = 0; r < runs; r++) {
  const a = tickClock();
  await adaptLora({ base: baseHf, data, outDir: path.join(work, `run-${r}`), ...settings, evalEvery: steps, progress: a.progress });
  adapt.push(a.stepsPerSecond());
  const z = tickClock();
  const result = await trainLanguageModel({ init: baseHf, trainText: domain.trainText, lora: { rank: 16, alpha: 16 }, ...settings, progress: z.progress });
  disposeTrainModel(result.model);
  zoo.push(z.stepsPerSecond());
}
console.log(`LoRA training steps/s on zoo base-a (rank 16, batch 16 × 64, median of ${runs}):`);
console.log(`  cogen adapt lora        ${median(adapt).toFixed(2)}`);
console.log(`  zoo trainer alone       ${median(zoo).toFixed(2)}`);
console.log(`  ratio                   ${(median(adapt) / median(zoo)).toFixed(2)}×`);
await fs.rm(work, { recursive: true, force: true });
