/**
 * issue 12's evolve goal on the zoo: `evolveMerge` over the eight family-A experts (TIES on
 * base-a, weight ∈ [0, 1] and density ∈ [0.1, 1] per expert). By default without normalize,
 * starting from weight 1/8 and density 0.5 (so weights near 0 give back base-a); --normalize
 * starts from the demo's uniform TIES merge itself (weight 1, density 0.5, normalize), where the
 * weights only share out one whole task vector. The objective is the first --dev bits-per-byte
 * items of each domain (zoo/items/bits-per-byte.jsonl, by id); the report scores, side by side on
 * the next --test items of each domain (never seen by the search), base-a, a-control, the
 * uniform TIES merge and the evolved merge (rebuilt from OUT/merge.yml as `cogen merge` would):
 * macro bits per byte and ratios against uniform TIES and base-a.
 *
 * --demo-split takes both sides from the demo's split instead (src/unify/items.ts: passages cut at
 * 256 characters): the objective from the demo's dev side, the report on its test side (--test 10
 * is the demo table's bits-per-byte items), so the result can be judged in the demo beside every
 * other row. --save DIR writes the result there for the zoo: merge.yml (model paths relative to
 * the repository root), model.gguf (its merge, what the demo judges) and report.json; zoo/evolved/
 * was made so (its README.md names the command). --reuse judges OUT/result again without searching.
 *
 *   npx tsx bench/adapt-evolve.ts [--dev 2] [--test 6] [--evaluations 36] [--layer-groups 1] [--sigma 0.25] [--normalize]
 *                                 [--demo-split] [--queue redis://…] [--out DIR] [--reuse] [--save DIR]
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { evolveMerge, type EvolveReport } from "../src/adapt/evolve.js";
import { evolveJobId, executeEvolveJob, objectiveOf, type CandidateScore } from "../src/adapt/evolve-job.js";
import { bullMqEvolveQueue } from "../src/adapt/evolve-queue.js";
import { initialPoint, parseEvolveRecipe, renderCandidate } from "../src/adapt/evolve-recipe.js";
import { streamProgress } from "../src/core/progress.js";
import { evaluateItem } from "../src/eval/evaluate-item.js";
import { readTasksFile, type TaskItem } from "../src/formats/tasks.js";
import { runMerge } from "../src/merge/engine.js";
import { openModel } from "../src/models/open.js";
import { ZOO_DOMAINS } from "../src/zoo/corpora/domains.js";
import { DEMO_PASSAGE_CHARS } from "../src/demo/run.js";
import { splitItems } from "../src/unify/items.js";

const { values } = parseArgs({
  options: {
    dev: { type: "string" }, test: { type: "string" }, evaluations: { type: "string" }, "layer-groups": { type: "string" },
    queue: { type: "string" }, out: { type: "string" }, seed: { type: "string" }, sigma: { type: "string" }, normalize: { type: "boolean" },
    "demo-split": { type: "boolean" }, reuse: { type: "boolean" }, save: { type: "string" },
  },
});
const zoo = path.resolve(import.meta.dirname, "../zoo");
const out = path.resolve(values.out ?? ".cache/adapt-evolve");
await fs.mkdir(out, { recursive: true });
const dev = Number(values.dev ?? 2);
const test = Number(values.test ?? 6);

const all = await readTasksFile(path.join(zoo, "items/bits-per-byte.jsonl"));
const byDomain = ZOO_DOMAINS.map((d) => all.filter((i) => i.domain === d.name).sort((a, b) => (a.id < b.id ? -1 : 1)));
const demoSides = splitItems(all, { maxPassageChars: DEMO_PASSAGE_CHARS });
const firstPerDomain = (items: TaskItem[], n: number) => ZOO_DOMAINS.flatMap((d) => items.filter((i) => i.domain === d.name).slice(0, n));
const devItems = values["demo-split"] ? firstPerDomain(demoSides.dev, dev) : byDomain.flatMap((items) => items.slice(0, dev));
const testItems = values["demo-split"] ? firstPerDomain(demoSides.test, test) : byDomain.flatMap((items) => items.slice(dev, dev + test));
const toJsonl = (items: TaskItem[]) => items.map((i) => JSON.stringify({ id: i.id, domain: i.domain, task: i.task, text: (i as { text: string }).text })).join("\n") + "\n";
await fs.writeFile(path.join(out, "objective.jsonl"), toJsonl(devItems));

const recipeFile = path.join(out, "recipe.yml");
const recipeText = (layerGroups: number, initWeight: number, normalize: boolean) => [
  "merge_method: ties",
  `base_model: ${path.join(zoo, "a/base/hf")}`,
  "models:",
  ...ZOO_DOMAINS.map((d) => `  - ${path.join(zoo, "a/experts", d.name, "hf")}`),
  `layer_groups: ${layerGroups}`,
  "search:",
  `  weight: { min: 0, max: 1, init: ${initWeight} }`,
  "  density: { min: 0.1, max: 1, init: 0.5 }",
  `parameters: { normalize: ${normalize} }`,
  "dtype: float32",
].join("\n") + "\n";
await fs.writeFile(recipeFile, recipeText(Number(values["layer-groups"] ?? 1), values.normalize ? 1 : 1 / ZOO_DOMAINS.length, Boolean(values.normalize)));
// The demo's uniform TIES merge (weight 1, density 0.5, normalize), the reference.
const uniform = parseEvolveRecipe(recipeText(1, 1, true), "uniform TIES");

const resultDir = path.join(out, "result");
const evolved: EvolveReport = values.reuse
  ? JSON.parse(await fs.readFile(path.join(resultDir, "report.json"), "utf8")) as EvolveReport
  : await evolveMerge({
    recipe: recipeFile, objective: path.join(out, "objective.jsonl"), outDir: resultDir,
    evaluations: Number(values.evaluations ?? 36), seed: Number(values.seed ?? 0), progress: streamProgress(),
    ...(values.sigma ? { sigma0: Number(values.sigma) } : {}),
    ...(values.queue ? { queue: bullMqEvolveQueue(values.queue) } : {}),
  });
console.log(`evolve: ${evolved.evaluations} candidates (${evolved.dimensions} parameters, population ${evolved.population}) in ${evolved.seconds.toFixed(0)} s = ${evolved.candidatesPerMinute.toFixed(2)}/min`);
console.log(`  objective (${devItems.length} dev items, macro bpb): start ${evolved.start.objective.toFixed(4)} → evolved ${evolved.best.objective.toFixed(4)} (generation ${evolved.best.generation})`);

async function scoreGguf(file: string): Promise<CandidateScore> {
  const model = await openModel({ id: path.basename(path.dirname(file)), backend: "llamacpp", path: file, threads: 1, domains: [], tags: [] });
  try {
    const records = [];
    for (const item of testItems) records.push(await evaluateItem(model, item));
    return objectiveOf(records);
  } finally {
    await model.close();
  }
}
const scoreYaml = (yaml: string) => executeEvolveJob({ id: evolveJobId(yaml, testItems, 0), yaml, items: testItems, mergeSeed: 0 });
const recipe = parseEvolveRecipe(await fs.readFile(recipeFile, "utf8"), recipeFile);
const rows: [string, CandidateScore][] = [
  ["base-a", await scoreGguf(path.join(zoo, "a/base/model.gguf"))],
  ["a-control", await scoreGguf(path.join(zoo, "a/control/model.gguf"))],
  ["uniform TIES (demo's)", await scoreYaml(renderCandidate(uniform, initialPoint(uniform), 2))],
  ...(values.normalize ? [] : [["the search's start", await scoreYaml(renderCandidate(recipe, initialPoint(recipe), 2))] as [string, CandidateScore]]),
  ["evolved TIES (result/merge.yml)", await scoreYaml(await fs.readFile(path.join(out, "result/merge.yml"), "utf8"))],
];
const ties = rows[2][1].objective; // uniform TIES
const base = rows[0][1].objective;
console.log(`\nmacro bits per byte on ${testItems.length} held-out bits-per-byte items the search never saw (${test} per domain):`);
for (const [name, s] of rows) {
  console.log(`  ${name.padEnd(34)} ${s.objective.toFixed(4)}   × uniform TIES ${(s.objective / ties).toFixed(3)}   × base-a ${(s.objective / base).toFixed(3)}`);
}
const best = await fs.readFile(path.join(out, "result/merge.yml"), "utf8");
console.log(`\nevolved recipe:\n${best}`);
await fs.writeFile(path.join(out, "bench.json"), JSON.stringify({ evolved, rows: Object.fromEntries(rows) }, null, 2) + "\n");
if (values.save) {
  // For the zoo: paths relative to the repository root (where `cogen merge` resolves them), and the merged GGUF.
  const save = path.resolve(values.save);
  const repo = path.resolve(import.meta.dirname, "..");
  const portable = best.replaceAll(`${repo}/`, "").replace(/^# Rebuild the scored model: .*$/m, "# Rebuild the scored model (from the repository root): cogen merge zoo/evolved/merge.yml OUT_DIR --out-format gguf --seed 0");
  await fs.mkdir(save, { recursive: true });
  const built = await fs.mkdtemp(path.join(out, "save-"));
  await runMerge({ config: best, configName: "merge.yml", outDir: path.join(built, "merged"), outFormat: "gguf", seed: 0 });
  await fs.copyFile(path.join(built, "merged/model.gguf"), path.join(save, "model.gguf"));
  await fs.rm(built, { recursive: true, force: true });
  await fs.writeFile(path.join(save, "merge.yml"), portable);
  const relative = (x: unknown) => JSON.parse(JSON.stringify(x).replaceAll(`${repo}/`, ""));
  await fs.writeFile(path.join(save, "report.json"), JSON.stringify({ search: relative({ ...evolved, workers: undefined }), judged: Object.fromEntries(rows), testItems: testItems.map((i) => i.id) }, null, 2) + "\n");
  console.log(`saved ${save}: merge.yml, model.gguf, report.json`);
}
