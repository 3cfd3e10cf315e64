/**
 * TIES with a base and three models on 4096×4096 float32 tensors: cogen's implementation (linear-
 * time radix top-k, one fused pass for election and mixing) against the same algorithm written as
 * mergekit runs it in PyTorch on the CPU (bench/merge-ties-reference.py: argsort-based top-k),
 * side by side on the same data. Prints the median of several runs of each, their ratio, and the
 * largest difference between the two outputs.
 *
 *   npx tsx bench/merge-ties.ts [--size 4096] [--models 3] [--density 0.5] [--runs 3] [--python /usr/bin/python3]
 */
import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Rng } from "../src/core/rng.js";
import { ties } from "../src/merge/methods/ties.js";
import { kthLargestAbs } from "../src/merge/methods/topk.js";

const { values } = parseArgs({
  options: {
    size: { type: "string", default: "4096" },
    models: { type: "string", default: "3" },
    density: { type: "string", default: "0.5" },
    runs: { type: "string", default: "3" },
    python: { type: "string", default: "/usr/bin/python3" },
  },
});
const size = Number(values.size);
const count = Number(values.models);
const density = Number(values.density);
const runs = Number(values.runs);
const n = size * size;
const reference = path.join(path.dirname(fileURLToPath(import.meta.url)), "merge-ties-reference.py");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// The reference needs NumPy and PyTorch; without them there is nothing to compare against (bench/run.ts: exit 3 = skipped).
try {
  execFileSync(values.python!, ["-c", "import numpy, torch"], { stdio: "ignore" });
} catch {
  console.error(`skipped: ${values.python} cannot import numpy and torch, which the reference (merge-ties-reference.py) needs; pass --python`);
  process.exit(3);
}

const rng = new Rng(1);
const base = new Float32Array(n);
for (let i = 0; i < n; i++) base[i] = rng.normal() * 0.02;
const models = Array.from({ length: count }, () => {
  const m = new Float32Array(n);
  for (let i = 0; i < n; i++) m[i] = base[i] + rng.normal() * 0.002;
  return m;
});
const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-bench-ties-"));
try {
  await fs.writeFile(path.join(dir, "base.f32"), base);
  for (let i = 0; i < count; i++) await fs.writeFile(path.join(dir, `m${i}.f32`), models[i]);
  const weights = Array.from({ length: count }, () => 1 / count);
  const input = {
    tensors: models, base, shape: [size, size], rng: new Rng(0),
    modelParams: weights.map((weight) => ({ weight, density })),
    global: { normalize: true, rescale: false, lambda: 1, int8_mask: false },
  };
  const ms: number[] = [];
  let out: Float32Array = new Float32Array(0);
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    out = ties.merge(input);
    ms.push(performance.now() - t);
  }
  const ref = JSON.parse(execFileSync(values.python!, [reference, dir, String(size), String(size), String(count), String(density), String(runs)], { maxBuffer: 1 << 20 }).toString()) as { ms: number; impl: string };
  const theirs = new Float32Array((await fs.readFile(path.join(dir, "ref-out.f32"))).buffer.slice(0));
  let maxDiff = 0;
  let differing = 0;
  for (let i = 0; i < n; i++) {
    const diff = Math.abs(out[i] - theirs[i]);
    maxDiff = Math.max(maxDiff, diff);
    if (diff > 1e-6) differing++;
  }
  // Entries whose |d| equals the k-th largest, beyond the one at rank k: where tie-breaking matters.
  let tied = 0;
  for (const m of models) {
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) d[i] = m[i] - base[i];
    const { threshold } = kthLargestAbs(d, Math.trunc(density * n));
    const bits = new Uint32Array(d.buffer);
    let equal = 0;
    for (let i = 0; i < n; i++) if ((bits[i] & 0x7fffffff) === threshold) equal++;
    tied += equal - 1;
  }
  const ours = median(ms);
  console.log(`TIES, base + ${count} models, ${size}×${size} float32, density ${density}, median of ${runs} runs`);
  console.log(`cogen     ${ours.toFixed(0)} ms`);
  console.log(`reference ${ref.ms.toFixed(0)} ms (${ref.impl}, argsort top-k as mergekit)`);
  console.log(`speed-up  ${(ref.ms / ours).toFixed(1)}×`);
  console.log(`outputs: ${differing} of ${n} elements differ by > 1e-6 (max ${maxDiff.toExponential(2)}); ${tied} entries tie with the top-k threshold, where argsort and cogen (lowest index first) may choose differently`);
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}
