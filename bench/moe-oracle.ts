/**
 * What the zoo's mixture of experts could reach with perfect gates, and where given mixtures are:
 * held-out macro bits per byte on the demo's test items (llama.cpp, the demo's split).
 *
 * Oracle: every token of a domain's passage goes to that domain's expert, i.e. each domain's
 * passages are scored by a dense model = the mixture's shared weights (attention, norms,
 * embeddings: the base's or the experts' average) + that domain's expert FFN. Measured for
 * `cogen_non_expert: base` and `average` of zoo/moe/hidden.yml, and for any `--moe HF_DIR`
 * (e.g. one whose shared weights were trained). `--gguf ID=FILE` adds mixtures scored as they
 * route (every test item: bits per byte and cloze), `--singles` the zoo's own models.
 *
 *   npx tsx bench/moe-oracle.ts [--moe DIR]... [--gguf ID=FILE]... [--singles] [--no-oracle] [--split dev|test]
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { silentProgress } from "../src/core/progress.js";
import { convertHfToGguf } from "../src/formats/convert/hf-to-gguf.js";
import { readLlamaConfig } from "../src/formats/hf/config.js";
import type { LanguageModel } from "../src/core/language-model.js";
import { buildMoe } from "../src/fuse/moe/build.js";
import { loadDemoZoo } from "../src/demo/zoo.js";
import { createLlamaCppModel } from "../src/models/llamacpp/model.js";
import { evaluateModels } from "../src/unify/evaluate-models.js";
import { splitItems } from "../src/unify/items.js";
import { scoreRows } from "../src/unify/scoreboard.js";
import { exportHf } from "../src/zoo/train/export.js";
import { readMixtralFolder } from "../src/zoo/train/mixtral-hf.js";
import { createTrainModel, disposeTrainModel } from "../src/zoo/train/model.js";
import { readBpeTokenizer } from "../src/zoo/train/tokenize.js";
import { initTrainingBackend } from "../src/zoo/train/backend.js";
import { parseMoeConfig } from "../src/formats/moe-config.js";

const { values } = parseArgs({
  options: {
    moe: { type: "string", multiple: true, default: [] },
    gguf: { type: "string", multiple: true, default: [] },
    singles: { type: "boolean", default: false },
    "no-oracle": { type: "boolean", default: false },
    // dev chooses recipes; test (the demo's items) reports them.
    split: { type: "string", default: "test" },
  },
});
await initTrainingBackend();
const zoo = await loadDemoZoo("zoo");
if (values.split !== "dev" && values.split !== "test") throw new Error(`--split must be dev or test (got ${values.split})`);
const test = splitItems(zoo.items, { perDomainAndKind: 10, maxPassageChars: 256 })[values.split];
const items = test.filter((i) => i.kind === "bits_per_byte");
const yaml = await fs.readFile("zoo/moe/hidden.yml", "utf8");
const expertDomains = parseMoeConfig(yaml, "zoo/moe/hidden.yml").experts.map(({ model }) => /\/experts\/([^/]+)\//.exec(model.text)![1]);
const baseConfig = await readLlamaConfig("zoo/a/base/hf");
const tokenizer = await readBpeTokenizer("zoo/a/base/hf");
const work = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-moe-oracle-"));
const f = (x: number | undefined) => (x === undefined ? "  n/a" : x.toFixed(3));

/** Each domain's items scored by shared weights + its own expert's FFN. */
async function oracle(label: string, moeDir: string): Promise<void> {
  const { weights } = await readMixtralFolder(moeDir);
  const records = [];
  for (const [e, domain] of expertDomains.entries()) {
    const dense = new Map<string, Float32Array>();
    for (const [name, w] of weights) {
      const m = /^model\.layers\.(\d+)\.block_sparse_moe\.experts\.(\d+)\.(w[123])\.weight$/.exec(name);
      if (m) {
        if (Number(m[2]) === e) dense.set(`model.layers.${m[1]}.mlp.${{ w1: "gate_proj", w2: "down_proj", w3: "up_proj" }[m[3]]}.weight`, w);
      } else if (!name.includes(".block_sparse_moe.gate.")) dense.set(name, w);
    }
    const model = createTrainModel(baseConfig, { seed: 0, init: dense, tokenizer });
    const dir = path.join(work, `${label}-${domain}`);
    await exportHf(model, path.join(dir, "hf"));
    disposeTrainModel(model);
    await convertHfToGguf(path.join(dir, "hf"), path.join(dir, "model.gguf"), { dtype: "f32", name: `${label}-${domain}` });
    const llm = await createLlamaCppModel({ id: label, path: path.join(dir, "model.gguf"), threads: 1 });
    try {
      records.push(...(await evaluateModels([llm], items.filter((i) => i.domain === domain), silentProgress, "bpb")));
    } finally {
      await llm.close();
    }
  }
  print(scoreRows(records, zoo.domains, [label]));
}

function print(rows: ReturnType<typeof scoreRows>): void {
  for (const r of rows) {
    const cloze = r.macroAcc === undefined ? "" : `   cloze ${f(r.macroAcc)} ± ${f(r.macroAccSe)}`;
    console.log(`  ${r.model.padEnd(30)} ${f(r.macroBpb)}   ${zoo.domains.map((d) => `${d.slice(0, 4)} ${f(r.domains[d].bpb)}`).join("  ")}${cloze}`);
  }
}

try {
  const started = Date.now();
  console.log(`held-out macro bits per byte (demo ${values.split} items: ${items.length} passages, llama.cpp)`);
  if (!values["no-oracle"]) {
    for (const nonExpert of ["base", "average"]) {
      const dir = path.join(work, `moe-${nonExpert}`);
      await buildMoe({ config: yaml.replace(/^cogen_non_expert: .*$/m, `cogen_non_expert: ${nonExpert}`), outDir: dir, outFormat: "hf", progress: silentProgress });
      await oracle(`oracle, ${nonExpert} shared`, dir);
    }
  }
  for (const dir of values.moe!) await oracle(`oracle, ${path.basename(dir)}`, dir);
  const opened: LanguageModel[] = [];
  try {
    for (const spec of values.gguf!) {
      const [id, file] = spec.split("=");
      opened.push(await createLlamaCppModel({ id, path: file, threads: 1 }));
    }
    if (values.singles) for (const m of zoo.models) opened.push(await createLlamaCppModel({ id: m.id, path: m.gguf, threads: 1 }));
    // Mixtures and singles: every test item, bits per byte and cloze, as the demo judges them.
    if (opened.length) print(scoreRows(await evaluateModels(opened, test, silentProgress, "test items"), zoo.domains, opened.map((m) => m.id)).sort((a, b) => a.macroBpb! - b.macroBpb!));
  } finally {
    for (const m of opened) await m.close();
  }
  console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s)`);
} finally {
  await fs.rm(work, { recursive: true, force: true });
}
