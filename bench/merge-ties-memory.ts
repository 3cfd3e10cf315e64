/**
 * Peak memory of a TIES merge of one 32000×2048 embedding, base + 3 models, stored as bf16
 * safetensors: `cogen merge` (runMerge in a child process, bench/merge-full-child.ts, which
 * reports its own maxRSS) in the default chunked path against the in-memory path (whole float32
 * tensors), side by side, with wall times. Also checks that both outputs are byte-identical.
 * Goal (issue 15): peak RSS ≤ 1 GiB with the same result as the in-memory path.
 *
 *   npx tsx bench/merge-ties-memory.ts [--rows 32000] [--cols 2048] [--density 0.5] [--runs 3]
 */
import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { f32ToBf16 } from "../src/core/half.js";
import { Rng } from "../src/core/rng.js";
import { writeSafetensorsFile } from "../src/formats/safetensors/index.js";

const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "32000" },
    cols: { type: "string", default: "2048" },
    density: { type: "string", default: "0.5" },
    runs: { type: "string", default: "3" },
  },
});
const rows = Number(values.rows);
const cols = Number(values.cols);
const density = Number(values.density);
const runs = Number(values.runs);
const n = rows * cols;
const GOAL_MIB = 1024;
const here = path.dirname(fileURLToPath(import.meta.url));
const child = path.join(here, "merge-full-child.ts");
const tsx = path.join(here, "..", "node_modules", ".bin", "tsx");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-bench-ties-memory-"));
try {
  // One model at a time, so the generator's own memory stays small.
  const rng = new Rng(7);
  const base = new Float32Array(n);
  for (let i = 0; i < n; i++) base[i] = rng.normal() * 0.02;
  for (const name of ["base", "m0", "m1", "m2"]) {
    const x = new Float32Array(n);
    if (name === "base") x.set(base);
    else for (let i = 0; i < n; i++) x[i] = base[i] + rng.normal() * 0.002;
    await fs.mkdir(path.join(dir, name));
    await writeSafetensorsFile(path.join(dir, name, "model.safetensors"), [
      { name: "model.embed_tokens.weight", dtype: "BF16", shape: [rows, cols], data: f32ToBf16(x) },
    ], { format: "pt" });
  }
  const config = path.join(dir, "ties.yaml");
  await fs.writeFile(config, [
    "merge_method: ties", "base_model: base", "dtype: bfloat16", "models:",
    ...["m0", "m1", "m2"].map((m) => `  - {model: ${m}, parameters: {weight: 0.33, density: ${density}}}`), "",
  ].join("\n"));

  const measure = (inMemory: boolean, out: string) => {
    const text = execFileSync(tsx, [child, "merge", config, out], {
      env: { ...process.env, IN_MEMORY: inMemory ? "1" : "0", THREADS: "1" }, maxBuffer: 1 << 20,
    }).toString();
    return JSON.parse(text.trim().split("\n").pop()!) as { seconds: number; maxRssMiB: number };
  };
  const chunked = { s: [] as number[], rss: [] as number[] };
  const whole = { s: [] as number[], rss: [] as number[] };
  for (let r = 0; r < runs; r++) {
    for (const [inMemory, acc] of [[false, chunked], [true, whole]] as const) {
      const out = path.join(dir, `out-${inMemory ? "whole" : "chunked"}`);
      await fs.rm(out, { recursive: true, force: true });
      const m = measure(inMemory, out);
      acc.s.push(m.seconds);
      acc.rss.push(m.maxRssMiB);
    }
  }
  const a = await fs.readFile(path.join(dir, "out-chunked", "model.safetensors"));
  const b = await fs.readFile(path.join(dir, "out-whole", "model.safetensors"));
  const inputMiB = (4 * n * 2) / 2 ** 20;
  console.log(`TIES, ${rows}×${cols} embedding, base + 3 models, bf16 in and out, density ${density}; inputs ${inputMiB.toFixed(0)} MiB; median of ${runs} runs, each in its own process`);
  console.log(`chunked (default)  peak RSS ${median(chunked.rss).toFixed(0)} MiB  (goal ≤ ${GOAL_MIB} MiB: ${median(chunked.rss) <= GOAL_MIB ? "met" : "NOT met"})  wall ${median(chunked.s).toFixed(2)} s`);
  console.log(`in-memory          peak RSS ${median(whole.rss).toFixed(0)} MiB  wall ${median(whole.s).toFixed(2)} s`);
  console.log(`ratio chunked/in-memory: RSS ${(median(chunked.rss) / median(whole.rss)).toFixed(2)}×, time ${(median(chunked.s) / median(whole.s)).toFixed(2)}×`);
  console.log(`outputs byte-identical: ${a.equals(b) ? "yes" : "NO"}`);
  if (!a.equals(b)) process.exitCode = 1;
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}
