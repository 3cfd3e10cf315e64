/**
 * Target production cost: time per text per source of `cogen distill targets` (whole-sequence
 * top-K, shards, manifest) against scoring the same texts' bits per byte with `cogen eval`'s
 * runner on the same model, side by side in one process (alternating, median of several runs;
 * both include opening the model). Also the bytes per position per source the shards take,
 * against the goal of 8·K + 16.
 *
 *   npx tsx bench/distill-targets.ts [--zoo zoo] [--texts 48] [--runs 3] [--k 8]
 *
 * Texts: lines of the zoo's bits-per-byte items (short enough for the zoo's 64-token context).
 * Sources: the zoo's two base models (two tokenizer families), llama.cpp on one thread.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runEval } from "../src/eval/runner.js";
import type { ExpertSpec } from "../src/formats/models-file.js";
import type { TaskItem } from "../src/formats/tasks.js";
import { parseDistillCorpus } from "../src/fuse/distill/corpus.js";
import { distillTargets } from "../src/fuse/distill/targets.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const ZOO = path.resolve(arg("zoo", "zoo"));
const TEXTS = Number(arg("texts", "48"));
const RUNS = Number(arg("runs", "3"));
const K = Number(arg("k", "8"));

const lines: string[] = [];
for (const record of (await fs.readFile(path.join(ZOO, "items", "bits-per-byte.jsonl"), "utf8")).trim().split("\n")) {
  for (const line of (JSON.parse(record) as { text: string }).text.split("\n")) if (line.length >= 20 && Buffer.byteLength(line) <= 110 && lines.length < TEXTS) lines.push(line);
}
const corpus = parseDistillCorpus(Buffer.from(lines.join("\n") + "\n"), "bench.txt");
const items: TaskItem[] = lines.map((text, i) => ({ kind: "bits_per_byte", id: `bench/${i}`, domain: "bench", task: "bench", text }));
const sources: ExpertSpec[] = ["a", "b"].map((family) => ({
  id: `${family}-base`, backend: "llamacpp", path: path.join(ZOO, family, "base", "model.gguf"), contextSize: 64, threads: 1, domains: [], tags: [],
}));

const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-bench-targets-"));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** Wall and CPU milliseconds per text (llama.cpp runs on this thread: CPU time is what an idle core would take). */
const times: Record<string, { eval: number[]; targets: number[]; evalCpu: number[]; targetsCpu: number[] }> = {};
const clock = () => ({ wall: performance.now(), cpu: process.cpuUsage() });
const since = (c: ReturnType<typeof clock>) => {
  const used = process.cpuUsage(c.cpu);
  return { wall: (performance.now() - c.wall) / lines.length, cpu: (used.user + used.system) / 1000 / lines.length };
};
const sizes: Record<string, { bytes: number; positions: number; arrays: number; skipped: number }> = {};
try {
  // Run −1 warms up (llama.cpp's runtime, the file cache) and is not counted.
  for (let run = -1; run < RUNS; run++) {
    for (const source of sources) {
      const fresh = () => ({ eval: [], targets: [], evalCpu: [], targetsCpu: [] });
      const t = run < 0 ? fresh() : (times[source.id] ??= fresh());
      const steps = [
        async () => {
          const started = clock();
          const report = await runEval({ experts: [source], items, out: path.join(dir, `eval-${run}-${source.id}.jsonl`) });
          if (report.failures.length) throw new Error(report.failures[0].error);
          const took = since(started);
          t.eval.push(took.wall);
          t.evalCpu.push(took.cpu);
        },
        async () => {
          const out = path.join(dir, `targets-${run}-${source.id}`);
          const started = clock();
          const report = await distillTargets({ sources: [source], corpus, out, k: K });
          if (!report.manifest) throw new Error(report.failures[0]?.error);
          const took = since(started);
          t.targets.push(took.wall);
          t.targetsCpu.push(took.cpu);
          let arrays = 0;
          for (const shard of report.manifest.shards) {
            const bytes = await fs.readFile(path.join(out, shard.file));
            arrays += bytes.length - 12 - bytes.readUInt32LE(8);
          }
          const skipped = Object.values(report.manifest.skips[source.id] ?? {}).reduce((s, n) => s + (n ?? 0), 0);
          sizes[source.id] = { bytes: report.manifest.shards.reduce((s, e) => s + e.bytes, 0), positions: report.manifest.shards.reduce((s, e) => s + e.positions, 0), arrays, skipped };
        },
      ];
      // Alternate which goes first, so load changes on the machine hit both alike.
      for (const step of run % 2 ? steps.reverse() : steps) await step();
    }
  }
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}
console.log(`${lines.length} texts, top-${K}, median of ${RUNS} runs (ms per text; both include opening the model)`);
console.table(sources.map((s) => {
  const t = times[s.id];
  const z = sizes[s.id];
  return {
    source: s.id,
    "eval bpb ms/text": median(t.eval).toFixed(2),
    "targets ms/text": median(t.targets).toFixed(2),
    "ratio wall (goal ≤ 1.25)": (median(t.targets) / median(t.eval)).toFixed(2),
    "eval CPU ms/text": median(t.evalCpu).toFixed(2),
    "targets CPU ms/text": median(t.targetsCpu).toFixed(2),
    "ratio CPU": (median(t.targetsCpu) / median(t.evalCpu)).toFixed(2),
    "bytes/position": (z.bytes / z.positions).toFixed(1),
    "arrays only": (z.arrays / z.positions).toFixed(1),
    [`goal 8K+16`]: 8 * K + 16,
    "skipped texts": z.skipped,
  };
}));
