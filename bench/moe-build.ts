/**
 * `cogen moe` on a generated 8-expert config against merely reading every input once: wall time,
 * CPU time and peak memory (max RSS), each in its own child process, median of several runs,
 * inputs in the page cache for all, dirty pages flushed (`sync`) before each so one run's
 * writeback does not slow the next. Experts and base are random bf16 llama folders
 * (src/zoo/random-llama.ts) with a real tokenizer, gates from hidden states (the base's forward
 * pass on one prompt each, ≈ 15 tokens). Goals (issue 11): peak RSS ≤ 256 MiB + the largest
 * output tensor; time ≤ 1.5× the read. A third reference reads the bytes the mixture takes and
 * writes them to one file, one tensor at a time (a naive I/O floor of any tool that writes the
 * output). Both output formats are built (`--format hf,gguf`), and once more the folder with the
 * gates' forward pass on `--threads` worker threads (default 2; 1 skips it), beside the goal rows.
 * The default shape is ≈ 0.1B
 * parameters per expert (--layers 12); smaller with --layers. `--inputs DIR` keeps the generated
 * models in DIR and reuses them on the next run (same shape flags).
 *
 *   npx tsx bench/moe-build.ts [--layers 12] [--runs 3] [--format hf,gguf] [--threads 2] [--inputs DIR]
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
    format: { type: "string", default: "hf,gguf" },
    inputs: { type: "string" },
    threads: { type: "string", default: "2" },
  },
});
const runs = Number(values.runs);
const formats = values.format!.split(",");
const here = path.dirname(fileURLToPath(import.meta.url));
const tsx = path.join(here, "..", "node_modules", ".bin", "tsx");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const DOMAINS = ["The heart pumps blood", "A contract binds the parties", "The bank raised interest rates", "The compiler emits code",
  "The river flows to the sea", "Bread is baked in an oven", "The court heard the appeal", "The patient had a fever"];

interface Measured { seconds: number; cpuSeconds: number; bytes: number; gateSeconds: number; gateCpuSeconds: number; maxRssMiB: number }

function child(args: string[]): Measured {
  execFileSync("sync");
  return JSON.parse(execFileSync(tsx, [path.join(here, "moe-build-child.ts"), ...args], { maxBuffer: 1 << 20 }).toString().trim().split("\n").pop()!);
}

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
  // The largest output tensor: the embeddings in a Mixtral folder; one layer's stacked experts in a GGUF.
  const largest: Record<string, number> = {
    hf: Math.max(shape.vocabSize * shape.hiddenSize, shape.hiddenSize * shape.intermediateSize) * 2,
    gguf: Math.max(shape.vocabSize * shape.hiddenSize, DOMAINS.length * shape.hiddenSize * shape.intermediateSize) * 2,
  };
  console.log(`${reuse ? "reused" : "generated"} 9 models × ${(params / 1e6).toFixed(0)}M parameters (bf16) in ${((Date.now() - started) / 1000).toFixed(0)}s; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores`);
  await fs.writeFile(yml, ["base_model: base", "gate_mode: hidden", "experts_per_token: 2", "experts:",
    ...DOMAINS.flatMap((p, i) => [`  - source_model: e${i}`, `    positive_prompts: [${JSON.stringify(p)}]`])].join("\n") + "\n");
  child(["raw", ...dirs]); // warm the page cache
  const reads: Measured[] = [];
  const copies: Measured[] = [];
  const threads = Number(values.threads);
  const builds: Record<string, Measured[]> = Object.fromEntries(formats.map((f) => [f, []]));
  const threaded: Measured[] = [];
  for (let r = 0; r < runs; r++) {
    reads.push(child(["raw", ...dirs]));
    copies.push(child(["copy", path.join(root, "copy.bin"), ...dirs]));
    for (const format of formats) {
      const out = path.join(root, "out");
      builds[format].push(child(["moe", yml, out, format]));
      await fs.rm(out, { recursive: true, force: true });
    }
    if (threads > 1) {
      threaded.push(child(["moe", yml, path.join(root, "out"), "hf", String(threads)]));
      await fs.rm(path.join(root, "out"), { recursive: true, force: true });
    }
  }
  const m = (xs: Measured[], key: keyof Measured) => median(xs.map((x) => x[key]));
  const read = m(reads, "seconds");
  const readCpu = m(reads, "cpuSeconds");
  const copy = m(copies, "seconds");
  const s = (x: number) => `${x.toFixed(2)} s`;
  const verdict = (ok: boolean) => (ok ? "met" : "missed");
  console.log(`8 experts + base, ${(reads[0].bytes / 1e9).toFixed(2)} GB of inputs (cogen moe reads ${(Object.values(builds)[0][0].bytes / 1e9).toFixed(2)} GB of them), median of ${runs}; load average now ${os.loadavg()[0].toFixed(1)}`);
  console.log(`reference: read every input once          wall ${s(read)}  CPU ${s(readCpu)}  peak RSS ${m(reads, "maxRssMiB").toFixed(0)} MiB`);
  console.log(`reference: read + write the output's bytes wall ${s(copy)}  CPU ${s(m(copies, "cpuSeconds"))}  (naive I/O floor, ${(copy / read).toFixed(2)}× the read)`);
  for (const format of formats) {
    const b = builds[format];
    const wall = m(b, "seconds");
    const gates = m(b, "gateSeconds");
    const assembly = median(b.map((x) => x.seconds - x.gateSeconds));
    const assemblyCpu = median(b.map((x) => x.cpuSeconds - x.gateCpuSeconds));
    const rss = m(b, "maxRssMiB");
    const rssGoal = 256 + largest[format] / 2 ** 20;
    console.log(`cogen moe --out-format ${format}: wall ${s(wall)} (hidden gates ${s(gates)}, CPU ${s(m(b, "gateCpuSeconds"))}; assembly ${s(assembly)}, CPU ${s(assemblyCpu)})`);
    console.log(`  goal time, assembly (gates excluded): ${s(assembly)} vs read ${s(read)} = ${(assembly / read).toFixed(2)}× (goal ≤ 1.5×) ${verdict(assembly <= 1.5 * read)}; ${(assembly / copy).toFixed(2)}× the I/O floor; CPU ${(assemblyCpu / readCpu).toFixed(2)}× the read's`);
    console.log(`  goal time, in all (hidden gates):     ${s(wall)} vs read ${s(read)} = ${(wall / read).toFixed(2)}× (goal ≤ 1.5×) ${verdict(wall <= 1.5 * read)}`);
    console.log(`  goal memory: peak RSS ${rss.toFixed(0)} MiB vs ${rssGoal.toFixed(0)} MiB (256 MiB + largest output tensor ${(largest[format] / 2 ** 20).toFixed(1)} MiB) ${verdict(rss <= rssGoal)}`);
  }
  if (threaded.length) {
    const wall = m(threaded, "seconds");
    console.log(`cogen moe --out-format hf --threads ${threads}: wall ${s(wall)} = ${(wall / read).toFixed(2)}× the read (hidden gates ${s(m(threaded, "gateSeconds"))}, CPU ${s(m(threaded, "gateCpuSeconds"))}), peak RSS ${m(threaded, "maxRssMiB").toFixed(0)} MiB (not a goal row: the default is 1 thread)`);
  }
} finally {
  if (values.inputs) await fs.rm(path.join(root, "out"), { recursive: true, force: true });
  else await fs.rm(root, { recursive: true, force: true });
}
