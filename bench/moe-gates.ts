/**
 * One gate-training variant of the zoo's mixture (from zoo/moe/a-hidden/hf, the committed
 * hidden-state gates), judged as the demo judges it: held-out macro bits per byte through llama.cpp
 * (top-2 and top-1) on the demo's dev items (which choose a recipe) and test items (which only
 * report it), and gate quality on held-out records. Training
 * text only (the zoo corpora's train side); the held-out side only measures.
 *
 *   npx tsx bench/moe-gates.ts [--steps 120] [--lr 0.05] [--train-shared] [--shared-lr 1e-3]
 *       [--domain-coef 0] [--aux 0.01] [--batch 8] [--seq-len 64] [--seed 7] [--keep DIR]
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { silentProgress } from "../src/core/progress.js";
import { loadDemoZoo } from "../src/demo/zoo.js";
import { parseMoeConfig } from "../src/formats/moe-config.js";
import { gateQuality } from "../src/fuse/moe/gate-quality.js";
import { trainGates, writeTrainedMoe } from "../src/fuse/moe/train-gates.js";
import { createLlamaCppModel } from "../src/models/llamacpp/model.js";
import { evaluateModels } from "../src/unify/evaluate-models.js";
import { splitItems } from "../src/unify/items.js";
import { scoreRows } from "../src/unify/scoreboard.js";
import { buildCorpus } from "../src/zoo/corpora/build.js";
import { readZooManifest } from "../src/zoo/build/manifest.js";
import { disposeTrainModel } from "../src/zoo/train/model.js";

const { values } = parseArgs({
  options: {
    steps: { type: "string", default: "120" },
    lr: { type: "string", default: "0.05" },
    "train-shared": { type: "boolean", default: false },
    "shared-lr": { type: "string" },
    "domain-coef": { type: "string", default: "0" },
    aux: { type: "string", default: "0.01" },
    batch: { type: "string", default: "8" },
    "seq-len": { type: "string", default: "64" },
    seed: { type: "string", default: "7" },
    keep: { type: "string" },
  },
});
const moeDir = "zoo/moe/a-hidden/hf";
const zoo = await loadDemoZoo("zoo");
const manifest = await readZooManifest("zoo");
const corpus = await buildCorpus({ seed: manifest.data.seed });
const expertDomains = parseMoeConfig(await fs.readFile("zoo/moe/hidden.yml", "utf8"), "zoo/moe/hidden.yml").experts.map(({ model }) => /\/experts\/([^/]+)\//.exec(model.text)![1]);
const domainOf = (name: string) => corpus.domains.find((d) => d.name === name)!;
const texts = expertDomains.map((d) => ({ domain: d, text: domainOf(d).trainText }));
const heldOut = expertDomains.map((d) => {
  const out: string[] = [];
  let size = 0;
  for (const r of domainOf(d).heldOut) {
    if (size >= 6000) break;
    out.push(r.text);
    size += Buffer.byteLength(r.text) + 1;
  }
  return { domain: d, text: out.join("\n") };
});
const settings = {
  steps: Number(values.steps), lr: Number(values.lr), batchSize: Number(values.batch), seqLen: Number(values["seq-len"]), seed: Number(values.seed),
  routerAuxLossCoef: Number(values.aux), trainShared: values["train-shared"], domainLossCoef: Number(values["domain-coef"]),
  ...(values["shared-lr"] ? { sharedLr: Number(values["shared-lr"]) } : {}),
};
console.log(JSON.stringify(settings));
const cpu0 = process.cpuUsage();
const result = await trainGates({ moeDir, texts, ...settings, expertsPerToken: 2, expertDomains, progress: silentProgress });
const cpu = process.cpuUsage(cpu0);
const n = result.losses.ce.length;
const tail = (xs: number[]) => xs.slice(Math.floor(0.9 * n)).reduce((a, b) => a + b, 0) / Math.max(1, n - Math.floor(0.9 * n));
console.log(`trained ${result.step} steps in ${result.seconds.toFixed(0)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s CPU; last 10%: ce ${tail(result.losses.ce).toFixed(3)} balance ${tail(result.losses.balance).toFixed(3)} routing ${tail(result.losses.domain).toFixed(3)}`);
const quality = await gateQuality(result.model, result.tokenizer, heldOut, { expertDomains, seqLen: settings.seqLen });
console.log(`gate quality ${quality.macroShare.toFixed(3)}: ${Object.entries(quality.domains).map(([d, q]) => `${d} ${q.share.toFixed(2)}`).join(", ")}`);
const work = values.keep ?? (await fs.mkdtemp(path.join(os.tmpdir(), "cogen-moe-gates-")));
try {
  for (const k of [2, 1]) await writeTrainedMoe(result.model, path.join(work, `top${k}`), "gguf", k);
  disposeTrainModel(result.model);
  // Dev items choose a recipe; test items (the demo's) only report it.
  const split = splitItems(zoo.items, { perDomainAndKind: 10, maxPassageChars: 256 });
  const models = [];
  for (const k of [2, 1]) models.push(await createLlamaCppModel({ id: `top${k}`, path: path.join(work, `top${k}`, "model.gguf"), threads: 1 }));
  try {
    for (const side of ["dev", "test"] as const) {
      const items = split[side].filter((i) => i.kind === "bits_per_byte");
      const rows = scoreRows(await evaluateModels(models, items, silentProgress, "bpb"), zoo.domains, models.map((m) => m.id));
      for (const r of rows) console.log(`  ${side} ${r.model} ${r.macroBpb!.toFixed(3)}   ${zoo.domains.map((d) => `${d.slice(0, 4)} ${r.domains[d].bpb!.toFixed(3)}`).join("  ")}`);
    }
  } finally {
    for (const m of models) await m.close();
  }
} finally {
  if (!values.keep) await fs.rm(work, { recursive: true, force: true });
}
