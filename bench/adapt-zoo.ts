/**
 * issue 12's goals measured on the zoo (family A), on one domain's held-out records:
 * - `adaptLora` from base-a on the domain's training records with the zoo experts' budget
 *   (rank 16, ≤ 200 steps, lr 4e-3, batch 16 × 64) against base-a and the zoo's own expert;
 * - `composeAdapters` from 20 of the domain's training records with the OTHER seven experts'
 *   adapters, against base-a and the uniform average of those seven.
 * Every model is scored by llama.cpp (base GGUF + runtime adapter at a scale) on the same
 * held-out records; bits per byte over all records, and the paired per-record difference against
 * base-a with its standard error. The default domain is the zoo's unseen one (music, zoo/unseen:
 * no zoo model trained on it; then compose uses all eight experts' adapters and there is no zoo
 * expert to compare); any of the eight can be named instead (then base-a saw it in its mixture).
 *
 *   npx tsx bench/adapt-zoo.ts [--domain music] [--steps 200 (0: no LoRA run)] [--evaluations 300] [--records 80] [--l1 0.05]
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { composeAdapters } from "../src/adapt/compose.js";
import { adaptLora } from "../src/adapt/lora.js";
import { openAdapterMix, type ScoredText } from "../src/models/llamacpp/adapter-mix.js";
import { readZooManifest } from "../src/zoo/build/manifest.js";
import { buildZooData } from "../src/zoo/corpora/write.js";

const { values } = parseArgs({
  options: { domain: { type: "string" }, steps: { type: "string" }, evaluations: { type: "string" }, records: { type: "string" }, l1: { type: "string" } },
});
const domainName = values.domain ?? "music";
const zoo = path.resolve(import.meta.dirname, "../zoo");
const baseHf = path.join(zoo, "a/base/hf");
const baseGguf = path.join(zoo, "a/base/model.gguf");
const work = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-adapt-zoo-"));

const data = await buildZooData({ seed: 0, perDomain: 8 });
const manifest = await readZooManifest(zoo);
const unseen = manifest.unseen?.name === domainName;
const domain = unseen ? await readUnseen() : data.corpus.domains.find((d) => d.name === domainName);
if (!domain) throw new Error(`no zoo domain ${domainName}`);
const heldOut: ScoredText[] = domain.heldOut.slice(0, Number(values.records ?? 80)).map((r) => ({ context: "", target: r.text }));

/** The unseen domain as committed: train lines and held-out records. */
async function readUnseen(): Promise<{ train: { text: string }[]; heldOut: { text: string }[] }> {
  const train = (await fs.readFile(path.join(zoo, manifest.unseen!.trainFile), "utf8")).split("\n").filter((l) => l !== "").map((text) => ({ text }));
  const held = (await fs.readFile(path.join(zoo, manifest.unseen!.heldOutFile), "utf8")).split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as { text: string });
  return { train, heldOut: held };
}
const trainFile = path.join(work, "train.jsonl");
await fs.writeFile(trainFile, domain.train.map((r) => JSON.stringify({ text: r.text })).join("\n") + "\n");

const steps = Number(values.steps ?? 200);
const t = Date.now();
// --steps 0 skips the LoRA run (to measure compose alone).
const lora = steps === 0 ? undefined : await adaptLora({ base: baseHf, data: trainFile, outDir: path.join(work, "lora"), steps, seed: 1 });
if (lora) console.log(`adapt lora: ${lora.stepsRun} steps (best ${lora.bestStep}) in ${((Date.now() - t) / 1000).toFixed(0)} s; own held-out split ${lora.heldOutBpbBefore.toFixed(3)} → ${lora.heldOutBpbAfter.toFixed(3)} bpb`);

const others = data.corpus.domains.map((d) => d.name).filter((d) => d !== domainName);
const examples = path.join(work, "few.jsonl");
await fs.writeFile(examples, domain.train.slice(0, 20).map((r) => JSON.stringify({ text: r.text })).join("\n") + "\n");
const composed = await composeAdapters({
  base: baseHf, adapters: others.map((d) => path.join(zoo, "a/experts", d, "lora")), examples, outDir: path.join(work, "composed"),
  maxEvaluations: Number(values.evaluations ?? 300), seed: 1, ...(values.l1 !== undefined ? { l1: Number(values.l1) } : {}),
});
console.log(`adapt compose: ${composed.evaluations} evaluations in ${composed.seconds.toFixed(1)} s = ${composed.evaluationsPerSecond.toFixed(2)} evaluations/s`);
console.log(`  weights ${others.map((d, i) => `${d} ${composed.weights[i].toFixed(2)}`).join(", ")}`);
console.log(`  on the 20 examples: base ${composed.examplesBpb.base.toFixed(3)}, uniform ${composed.examplesBpb.uniform.toFixed(3)}, composed ${composed.examplesBpb.composed.toFixed(3)} bpb`);

async function perRecord(adapters: string[], scales: number[]): Promise<{ bits: number; bytes: number }[]> {
  const mix = await openAdapterMix(baseGguf, adapters);
  try {
    return (await mix.score(heldOut, scales)).perText;
  } finally {
    await mix.close();
  }
}
const otherAdapters = others.map((d) => path.join(zoo, "a/experts", d, "lora.gguf"));
const rows: [string, { bits: number; bytes: number }[]][] = [
  ["base-a", await perRecord([path.join(work, "composed/adapter.gguf")], [0])],
  ...(lora ? [[`adapt lora (${lora.stepsRun} steps)`, await perRecord([path.join(work, "lora/adapter.gguf")], [1])] as [string, { bits: number; bytes: number }[]]] : []),
  ...(unseen ? [] : [[`zoo expert a-${domainName}`, await perRecord([path.join(zoo, "a/experts", domainName, "lora.gguf")], [1])] as [string, { bits: number; bytes: number }[]]]),
  [`uniform average of the ${unseen ? "eight" : "other 7"}`, await perRecord(otherAdapters, others.map(() => 1 / others.length))],
  ["adapt compose (20 examples)", await perRecord([path.join(work, "composed/adapter.gguf")], [1])],
];
const base = rows[0][1];
/** Paired per-record bits-per-byte difference a − b: mean and standard error. */
function paired(a: { bits: number; bytes: number }[], b: { bits: number; bytes: number }[]): { mean: number; se: number } {
  const d = a.map((x, i) => x.bits / x.bytes - b[i].bits / b[i].bytes);
  const mean = d.reduce((s, v) => s + v, 0) / d.length;
  return { mean, se: Math.sqrt(d.reduce((s, v) => s + (v - mean) ** 2, 0) / (d.length - 1) / d.length) };
}
const signed = (v: number) => `${v >= 0 ? "+" : ""}${v.toFixed(3)}`;
console.log(`\n${domainName}${unseen ? " (unseen by every zoo model)" : ""}: ${heldOut.length} held-out records, bits per byte (llama.cpp); Δ = per-record bpb minus base-a's, mean ± standard error`);
for (const [name, r] of rows) {
  const bpb = r.reduce((s, x) => s + x.bits, 0) / r.reduce((s, x) => s + x.bytes, 0);
  const { mean, se } = paired(r, base);
  console.log(`  ${name.padEnd(34)} ${bpb.toFixed(3)}   Δ ${signed(mean)} ± ${se.toFixed(3)}`);
}
const vsUniform = paired(rows[rows.length - 1][1], rows[rows.length - 2][1]);
console.log(`  compose − uniform average: ${signed(vsUniform.mean)} ± ${vsUniform.se.toFixed(3)} (${(Math.abs(vsUniform.mean) / vsUniform.se).toFixed(1)} standard errors)`);
await fs.rm(work, { recursive: true, force: true });
