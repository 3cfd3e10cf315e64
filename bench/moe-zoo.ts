/**
 * The zoo's family-A experts as one mixture of experts (`cogen moe`, hidden-state gates), judged
 * like every demo row: held-out macro bits per byte through llama.cpp on the demo's test items,
 * against every single zoo model; plus gate quality (the share of each domain's test tokens whose
 * top-1 expert is that domain's, per layer, from the TypeScript forward pass).
 * Positive prompts are lines of each domain's TRAINING text (never held-out records), chosen by a
 * seeded shuffle and cut at a word to fit the base's 64-token context; `--write-config` writes
 * them as zoo/moe/hidden.yml.
 *
 *   npx tsx bench/moe-zoo.ts [--prompts 32] [--variants hidden:base,hidden:average,hidden_avg:base] [--write-config]
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { Rng } from "../src/core/rng.js";
import { splitItems, cutAtWord } from "../src/unify/items.js";
import { loadDemoZoo } from "../src/demo/zoo.js";
import { evaluateModels } from "../src/unify/evaluate-models.js";
import { scoreRows } from "../src/unify/scoreboard.js";
import { silentProgress } from "../src/core/progress.js";
import { buildMoe } from "../src/fuse/moe/build.js";
import { readLlamaConfig } from "../src/formats/hf/config.js";
import { openHfWeights } from "../src/formats/safetensors/index.js";
import { createLlamaCppModel } from "../src/models/llamacpp/model.js";
import { llamaForward } from "../src/models/llama-forward.js";
import { buildZooData } from "../src/zoo/corpora/write.js";
import { readZooManifest } from "../src/zoo/build/manifest.js";
import { readBpeTokenizer } from "../src/zoo/train/tokenize.js";
import type { LanguageModel } from "../src/core/language-model.js";

const { values } = parseArgs({
  options: {
    prompts: { type: "string", default: "32" },
    variants: { type: "string", default: "hidden:base,hidden:average,hidden_avg:base" },
    "write-config": { type: "boolean", default: false },
  },
});
const zooDir = "zoo";
const manifest = await readZooManifest(zooDir);
const zoo = await loadDemoZoo(zooDir);
const domains = zoo.domains;
const baseHf = "zoo/a/base/hf";
const tokenizer = await readBpeTokenizer(baseHf);
const baseConfig = await readLlamaConfig(baseHf);

// Training text only: the corpus split the zoo was built from (its hashes are checked).
const data = await buildZooData({ seed: manifest.data.seed, perDomain: manifest.plan.itemsPerDomain });
const { createHash } = await import("node:crypto");
const prompts = new Map<string, string[]>();
for (const d of data.corpus.domains) {
  const recorded = manifest.data.domains.find((x) => x.name === d.name);
  if (recorded?.trainHash !== createHash("sha256").update(d.trainText).digest("hex")) throw new Error(`training text of ${d.name} differs from the zoo's`);
  const lines = new Rng(7).shuffle(d.trainText.split("\n").filter((l) => l.trim().length > 20));
  const chosen: string[] = [];
  for (const line of lines) {
    let text = line;
    for (let max = 240; 1 + tokenizer.encode(text).length > baseConfig.maxPositions; max -= 20) text = cutAtWord(line, max);
    chosen.push(text);
    if (chosen.length >= Number(values.prompts)) break;
  }
  prompts.set(d.name, chosen);
}

function configFor(gate: string, nonExpert: string): string {
  return stringify({
    base_model: baseHf,
    gate_mode: gate,
    experts_per_token: 2,
    dtype: "float32",
    cogen_non_expert: nonExpert,
    experts: domains.map((d) => ({ source_model: `${baseHf}+zoo/a/experts/${d}/lora`, positive_prompts: prompts.get(d) })),
  }, { lineWidth: 0 });
}
if (values["write-config"]) {
  await fs.mkdir("zoo/moe", { recursive: true });
  const header = "# cogen moe zoo/moe/hidden.yml OUT (from the repository root): the 8 family-A experts, gates from\n# token-averaged hidden states (hidden_avg: the best of the gate modes measured) of lines of each domain's TRAINING text (bench/moe-zoo.ts --write-config).\n";
  await fs.writeFile("zoo/moe/hidden.yml", header + configFor("hidden_avg", "base"));
}

const { test } = splitItems(zoo.items, { perDomainAndKind: 10, maxPassageChars: 256 });
const bpbItems = test.filter((i) => i.kind === "bits_per_byte");
const work = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-moe-zoo-"));
const opened: LanguageModel[] = [];
try {
  const moes: { id: string; hf: string }[] = [];
  for (const variant of values.variants!.split(",")) {
    const [gate, nonExpert] = variant.split(":");
    const id = `moe-${gate}-${nonExpert}`;
    const started = Date.now();
    const report = await buildMoe({ config: configFor(gate, nonExpert), outDir: path.join(work, id), outFormat: "gguf" });
    await buildMoe({ config: configFor(gate, nonExpert), outDir: path.join(work, `${id}-hf`) });
    console.log(`${id}: built in ${((Date.now() - started) / 1000).toFixed(1)}s (gates ${report.gateSeconds.toFixed(1)}s)${report.warnings.length ? `, ${report.warnings.length} warnings` : ""}`);
    moes.push({ id, hf: path.join(work, `${id}-hf`) });
    opened.push(await createLlamaCppModel({ id, path: path.join(work, id, "model.gguf"), threads: 1 }));
  }
  for (const m of zoo.models) opened.push(await createLlamaCppModel({ id: m.id, path: m.gguf, threads: 1 }));
  const started = Date.now();
  const records = await evaluateModels(opened, bpbItems, silentProgress, "bpb");
  const rows = scoreRows(records, domains, opened.map((m) => m.id)).sort((a, b) => a.macroBpb! - b.macroBpb!);
  console.log(`\nheld-out macro bits per byte (demo test items: ${bpbItems.length} passages, llama.cpp, ${((Date.now() - started) / 1000).toFixed(0)}s)`);
  for (const r of rows) console.log(`  ${r.model.padEnd(28)} ${r.macroBpb!.toFixed(3)}   ${domains.map((d) => `${d.slice(0, 4)} ${r.domains[d].bpb!.toFixed(2)}`).join("  ")}`);
  const bestSingle = rows.find((r) => !r.model.startsWith("moe-"))!;
  for (const m of moes) {
    const row = rows.find((r) => r.model === m.id)!;
    console.log(`${m.id}: ${row.macroBpb!.toFixed(3)} vs best single ${bestSingle.model} ${bestSingle.macroBpb!.toFixed(3)} (Δ ${(row.macroBpb! - bestSingle.macroBpb!).toFixed(3)})`);
  }

  // Gate quality: share of each domain's test tokens whose top-1 expert is the domain's own.
  for (const m of moes) {
    const config = await readLlamaConfig(m.hf);
    const w = await openHfWeights(m.hf);
    const cache = new Map<string, Float32Array>();
    for (const t of w.list()) cache.set(t.name, await w.readF32(t.name));
    await w.close();
    const shares: string[] = [];
    for (const [e, domain] of domains.entries()) {
      const hits = Array.from({ length: config.numLayers }, () => 0);
      let total = 0;
      for (const item of bpbItems.filter((i) => i.domain === domain)) {
        const tokens = [1, ...tokenizer.encode(item.text ?? "")].slice(0, config.maxPositions);
        llamaForward(config, (n) => cache.get(n)!, tokens, { onRouting: (layer, _p, chosen) => { if (chosen[0] === e) hits[layer]++; } });
        total += tokens.length;
      }
      shares.push(`${domain} ${hits.map((h) => (h / total * 100).toFixed(0) + "%").join("/")}`);
    }
    console.log(`${m.id} top-1 routed to the domain's expert (per layer): ${shares.join(", ")}`);
  }
} finally {
  for (const m of opened) await m.close();
  await fs.rm(work, { recursive: true, force: true });
}
