/**
 * `cogen adapt compose`'s cost: candidate evaluations per second on the zoo (base-a with the
 * seven other family-A experts' adapters, 20 training records of a domain as the examples).
 * Measured side by side: the runtime mix (models/llamacpp/adapter-mix.ts: base and adapters
 * loaded once, each candidate a fresh small context with its scales) against the same scoring
 * with the base and adapters loaded again for every candidate (what a loop over
 * "load the model with these adapters" costs). Medians of --runs runs of --candidates candidates.
 *
 *   npx tsx bench/adapt-compose.ts [--runs 3] [--candidates 10] [--domain law]
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { Rng } from "../src/core/rng.js";
import { writeLoraGguf } from "../src/merge/lora/gguf-adapter.js";
import { openAdapterMix, type ScoredText } from "../src/models/llamacpp/adapter-mix.js";
import { buildZooData } from "../src/zoo/corpora/write.js";

const { values } = parseArgs({ options: { runs: { type: "string" }, candidates: { type: "string" }, domain: { type: "string" } } });
const runs = Number(values.runs ?? 3);
const candidates = Number(values.candidates ?? 10);
const domainName = values.domain ?? "law";
const zoo = path.resolve(import.meta.dirname, "../zoo");
const baseGguf = path.join(zoo, "a/base/model.gguf");
const data = await buildZooData({ seed: 0, perDomain: 8 });
const domain = data.corpus.domains.find((d) => d.name === domainName)!;
const examples: ScoredText[] = domain.train.slice(0, 20).map((r) => ({ context: "", target: r.text }));
const others = data.corpus.domains.map((d) => d.name).filter((d) => d !== domainName);
// The runtime adapters as compose writes them (from the PEFT folders).
const work = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-bench-compose-"));
const adapters: string[] = [];
for (const d of others) {
  const file = path.join(work, `${d}.gguf`);
  await writeLoraGguf(path.join(zoo, "a/experts", d, "lora"), path.join(zoo, "a/base/hf"), file);
  adapters.push(file);
}
const rng = new Rng(1);
const scales = Array.from({ length: candidates }, () => adapters.map(() => 3 * rng.next() - 1.5));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const shared: number[] = [];
const reload: number[] = [];
for (let r = 0; r < runs; r++) {
  let t = performance.now();
  const mix = await openAdapterMix(baseGguf, adapters);
  for (const s of scales) await mix.score(examples, s);
  await mix.close();
  shared.push(candidates / ((performance.now() - t) / 1000));
  t = performance.now();
  for (const s of scales) {
    const fresh = await openAdapterMix(baseGguf, adapters);
    await fresh.score(examples, s);
    await fresh.close();
  }
  reload.push(candidates / ((performance.now() - t) / 1000));
}
console.log(`compose candidates/s on zoo family A (${adapters.length} adapters, ${examples.length} examples of ${domainName}, median of ${runs}):`);
console.log(`  runtime scales, one load   ${median(shared).toFixed(2)}/s`);
console.log(`  reload base + adapters     ${median(reload).toFixed(2)}/s`);
console.log(`  ratio                      ${(median(shared) / median(reload)).toFixed(2)}×`);
await fs.rm(work, { recursive: true, force: true });
