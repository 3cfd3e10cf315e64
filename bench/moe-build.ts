/**
 * `cogen moe` on a generated 8-expert config against merely reading every input once: wall time
 * and peak memory (max RSS), each in its own child process, median of several runs, inputs in the
 * page cache for both. Experts and base are random bf16 llama folders (src/zoo/random-llama.ts)
 * with a real tokenizer, gates from hidden states (the base's forward pass on one prompt each).
 * Goals (issue 11): peak RSS ≤ 256 MiB + the largest output tensor; time ≤ 1.5× the read. A
 * third reference reads the bytes the mixture takes and writes them to one file (the I/O floor
 * of any tool that writes the output).
 * The default shape is ≈ 0.1B parameters per expert (--layers 12); smaller with --layers.
 *
 *   npx tsx bench/moe-build.ts [--layers 12] [--runs 3] [--format hf|gguf]
 */
import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { trainBpe, tokenizerFiles } from "../src/zoo/bpe-train.js";
import { writeRandomLlama, llamaTensorShapes } from "../src/zoo/random-llama.js";

const { values } = parseArgs({
  options: {
    layers: { type: "string", default: "12" },
    hidden: { type: "string", default: "768" },
    inter: { type: "string", default: "2048" },
    vocab: { type: "string", default: "8000" },
    runs: { type: "string", default: "3" },
    format: { type: "string", default: "hf" },
    inputs: { type: "string" },
  },
});
const runs = Number(values.runs);
const here = path.dirname(fileURLToPath(import.meta.url));
const tsx = path.join(here, "..", "node_modules", ".bin", "tsx");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const DOMAINS = ["The heart pumps blood", "A contract binds the parties", "The bank raised interest rates", "The compiler emits code",
  "The river flows to the sea", "Bread is baked in an oven", "The court heard the appeal", "The patient had a fever"];

function child(args: string[]): { seconds: number; bytes: number; gateSeconds: number; maxRssMiB: number } {
  return JSON.parse(execFileSync(tsx, [path.join(here, "moe-build-child.ts"), ...args], { maxBuffer: 1 << 20 }).toString().trim().split("\n").pop()!);
}

// --inputs DIR keeps the generated models there and reuses them on the next run (same shape flags).
const root = values.inputs ? path.resolve(values.inputs) : await fs.mkdtemp(path.join(os.tmpdir(), "cogen-bench-moe-"));
try {
  const tokenizer = tokenizerFiles(trainBpe(DOMAINS.join("\n"), 40, "byte-fallback"));
  const shape = {
    hiddenSize: Number(values.hidden), intermediateSize: Number(values.inter), numLayers: Number(values.layers),
    numHeads: 12, vocabSize: Number(values.vocab), dtype: "BF16" as const, tokenizer, bosTokenId: 1, eosTokenId: 2,
  };
  const dirs = ["base", ...DOMAINS.map((_, i) => `e${i}`)].map((d) => path.join(root, d));
  const started = Date.now();
  const yml = path.join(root, "moe.yml");
  const reuse = Boolean(values.inputs) && (await fs.stat(yml).then(() => true, () => false));
  if (!reuse) for (const [i, dir] of dirs.entries()) await writeRandomLlama(dir, { ...shape, seed: i + 1, maxShardBytes: 2e9 });
  const config = await writeRandomLlama(path.join(root, "probe"), { ...shape, numLayers: 1, seed: 0 });
  const perLayer = llamaTensorShapes(config).filter((t) => t.name.startsWith("model.layers.0.")).reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
  const params = perLayer * shape.numLayers + 2 * shape.vocabSize * shape.hiddenSize;
  const largest = shape.vocabSize * shape.hiddenSize * 2;
  console.log(`${reuse ? "reused" : "generated"} 9 models × ${(params / 1e6).toFixed(0)}M parameters (bf16) in ${((Date.now() - started) / 1000).toFixed(0)}s`);
  await fs.writeFile(yml, ["base_model: base", "gate_mode: hidden", "experts_per_token: 2", "experts:",
    ...DOMAINS.flatMap((p, i) => [`  - source_model: e${i}`, `    positive_prompts: [${JSON.stringify(p)}]`])].join("\n") + "\n");
  child(["raw", ...dirs]); // warm the page cache
  const reads = [];
  const copies = [];
  const builds = [];
  for (let r = 0; r < runs; r++) {
    reads.push(child(["raw", ...dirs]));
    copies.push(child(["copy", path.join(root, "copy.bin"), ...dirs]));
    const out = path.join(root, "out");
    builds.push(child(["moe", yml, out, values.format!]));
    await fs.rm(out, { recursive: true, force: true });
  }
  const read = median(reads.map((x) => x.seconds));
  const build = median(builds.map((x) => x.seconds));
  const rss = median(builds.map((x) => x.maxRssMiB));
  const goal = 256 + largest / 2 ** 20;
  console.log(`8 experts + base, ${(reads[0].bytes / 1e9).toFixed(2)} GB of inputs, output ${values.format}, median of ${runs} (cogen moe reads ${(builds[0].bytes / 1e9).toFixed(2)} GB of them)`);
  console.log(`read every input once  ${read.toFixed(1)} s   peak RSS ${median(reads.map((x) => x.maxRssMiB)).toFixed(0)} MiB`);
  const copy = median(copies.map((x) => x.seconds));
  console.log(`read + write the output's bytes (I/O floor)  ${copy.toFixed(1)} s   peak RSS ${median(copies.map((x) => x.maxRssMiB)).toFixed(0)} MiB`);
  console.log(`cogen moe              ${build.toFixed(1)} s   peak RSS ${rss.toFixed(0)} MiB (gates ${median(builds.map((x) => x.gateSeconds)).toFixed(1)} s)`);
  const assembly = median(builds.map((x) => x.seconds - x.gateSeconds));
  console.log(`time ratio moe / read  ${(build / read).toFixed(2)}× in all, ${(assembly / read).toFixed(2)}× without the gates' forward pass (goal ≤ 1.5×); ${(assembly / copy).toFixed(2)}× the I/O floor   peak RSS ${rss.toFixed(0)} MiB vs goal ${goal.toFixed(0)} MiB (256 MiB + largest output tensor ${(largest / 2 ** 20).toFixed(1)} MiB)`);
} finally {
  if (values.inputs) await fs.rm(path.join(root, "out"), { recursive: true, force: true });
  else await fs.rm(root, { recursive: true, force: true });
}
