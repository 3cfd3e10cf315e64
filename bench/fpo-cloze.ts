/**
 * FPO on the zoo, judged on the demo's DEV cloze items (its test items only with `--test`, for
 * the final report): diagnoses preference records and pivots, and trains FPO recipes from
 * zoo/pivots/all side by side, each judged against pivots/all on the same items (paired z).
 *
 *   npx tsx bench/fpo-cloze.ts --models zoo/pivots/all/hf,zoo/pivots/fpo/hf [--test]
 *     cloze accuracy of Hugging Face folders, and each one's paired difference to the first
 *   npx tsx bench/fpo-cloze.ts --diagnose [--per-domain 30]
 *     the records' reference accuracy (how often the fused experts prefer the true word) per
 *     record recipe, and the pivots' accuracy on those TRAINING pairs
 *   npx tsx bench/fpo-cloze.ts --recipes "unit=byte,ref=domain,distractors=3,per=120,beta=2,lr=2e-3,steps=60,lambda=0.2,batch=8;…"
 *     trains each recipe (LoRA r16 from pivots/all) and prints its loss, its accuracy on its
 *     training pairs and dev cloze accuracy against pivots/all (`control=shuffle|flip` swaps
 *     every other pair's or every pair's labels: runs of the same length without the signal)
 *   npx tsx bench/fpo-cloze.ts --gguf zoo/pivots/all/model.gguf,zoo/pivots/fpo/model.gguf [--test]
 *     the same in llama.cpp, exactly as the demo scores its FPO goal (its split, its model
 *     settings, evaluateModels): on --test, the demo's "cloze before and after FPO" z
 *   `--limit N` judges only the first N cloze items (a smoke run)
 *
 * Cloze accuracy is lm-eval's acc as the demo computes it (sum of the continuation's
 * log-probabilities, the continuation split and a long context cut as llama.cpp does), here in
 * cogen's forward pass.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { splitItems } from "../src/unify/items.js";
import { pairedAccuracy } from "../src/unify/paired.js";
import { loadDemoZoo } from "../src/demo/zoo.js";
import { DEMO_PASSAGE_CHARS } from "../src/demo/run.js";
import { openModel } from "../src/models/open.js";
import { evaluateModels } from "../src/unify/evaluate-models.js";
import { silentProgress } from "../src/core/progress.js";
import type { TaskItem } from "../src/formats/tasks.js";
import type { ResultRecord } from "../src/core/evidence.js";
import { readZooManifest } from "../src/zoo/build/manifest.js";
import { tf } from "../src/zoo/train/backend.js";
import { disposeTrainModel, forwardLogits, tokenNll, type TrainModel } from "../src/zoo/train/model.js";
import type { BpeTokenizer } from "../src/zoo/train/tokenize.js";
import { trainLanguageModel } from "../src/zoo/train/train.js";
import { disposeTeacher, loadTeacher, type Teacher } from "../src/fuse/distill/teacher-targets.js";
import { fpoObjective, packContinuation, type FpoRecord, type FpoUnit } from "../src/fuse/distill/fpo-objective.js";
import { zooFpoRecords, type ZooFpoReference } from "../src/fuse/distill/zoo-fpo.js";
import { trainingLines } from "../src/fuse/distill/zoo-pivots.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const ZOO = path.resolve(arg("zoo", "zoo"));
const SIDE = process.argv.includes("--test") ? "test" : "dev";
const PIVOT = path.join(ZOO, "pivots", "all", "hf");
/** Judge only the first N cloze items (0: all); for smoke runs. */
const LIMIT = Number(arg("limit", "0"));

type Cloze = TaskItem & { kind: "multiple_choice" };

/** Each response's summed log-probability after its prompt, scored in one batch. */
function batchLogProbs(model: TrainModel, tokenizer: BpeTokenizer, prompt: string, responses: readonly string[]): number[] {
  const seqLen = model.config.maxPositions;
  const packed = responses.map((r) => packContinuation(tokenizer, prompt, r, seqLen));
  const n = packed.length;
  const cat = <T extends Int32Array | Float32Array>(make: (len: number) => T, pick: (p: (typeof packed)[number]) => T) => {
    const out = make(n * seqLen);
    packed.forEach((p, i) => out.set(pick(p), i * seqLen));
    return out;
  };
  const sums = tf.tidy(() => {
    const logits = forwardLogits(model, tf.tensor2d(cat((l) => new Int32Array(l), (p) => p.inputs), [n, seqLen], "int32"));
    const nll = tf.mul(tokenNll(logits, tf.tensor2d(cat((l) => new Int32Array(l), (p) => p.targets), [n, seqLen], "int32")), tf.tensor1d(cat((l) => new Float32Array(l), (p) => p.mask)));
    return tf.sum(tf.reshape(nll, [n, seqLen]), 1).dataSync();
  });
  return Array.from(sums, (x) => -x);
}

function clozeRecords(id: string, model: TrainModel, tokenizer: BpeTokenizer, items: readonly Cloze[]): ResultRecord[] {
  return items.map((item) => {
    const lls = batchLogProbs(model, tokenizer, item.context, item.choices);
    let best = 0;
    for (let i = 1; i < lls.length; i++) if (lls[i]! > lls[best]!) best = i;
    return { model: id, item: item.id, domain: item.domain, task: item.task, metric: "acc", score: best === item.answer ? 1 : 0 } as ResultRecord;
  });
}

async function clozeItemsOf(side: "dev" | "test"): Promise<Cloze[]> {
  const zoo = await loadDemoZoo(ZOO);
  const items = splitItems(zoo.items.filter((i) => i.task === "zoo-cloze"), { maxPassageChars: DEMO_PASSAGE_CHARS })[side] as Cloze[];
  return LIMIT > 0 ? items.slice(0, LIMIT) : items;
}

const accuracy = (records: readonly ResultRecord[]) => records.reduce((s, r) => s + r.score, 0) / records.length;
const f4 = (x: number) => x.toFixed(4);

function paired(all: readonly ResultRecord[], a: string, b: string): string {
  const d = pairedAccuracy(all, a, b);
  return d ? `${a} − ${b}: ${d.diff >= 0 ? "+" : ""}${f4(d.diff)} ± ${f4(d.se)}, z ${d.z.toFixed(2)} (${d.n} items)` : "n/a";
}

async function evaluateHfModels(dirs: string[]): Promise<void> {
  const items = await clozeItemsOf(SIDE);
  const all: ResultRecord[] = [];
  for (const dir of dirs) {
    const t0 = Date.now();
    const m = await loadTeacher(path.resolve(dir), dir);
    const records = clozeRecords(dir, m.model, m.tokenizer, items);
    disposeTeacher(m);
    all.push(...records);
    console.log(`${dir}: ${SIDE} cloze acc ${f4(accuracy(records))} (${records.length} items, ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  for (const dir of dirs.slice(1)) console.log(paired(all, dir, dirs[0]!));
}

/** GGUFs scored by llama.cpp as the demo scores them (src/demo/run.ts: zooDistillGoals). */
async function evaluateGgufs(files: string[]): Promise<void> {
  const items = await clozeItemsOf(SIDE);
  const models = [];
  for (const file of files) models.push(await openModel({ id: file, backend: "llamacpp", path: path.resolve(file), threads: 1, domains: [], tags: [] }));
  try {
    const t0 = Date.now();
    const all = await evaluateModels(models, items, silentProgress, "cloze", 2);
    for (const file of files) console.log(`${file} (llama.cpp): ${SIDE} cloze acc ${f4(accuracy(all.filter((r) => r.model === file)))} (${items.length} items)`);
    for (const file of files.slice(1)) console.log(paired(all, file, files[0]!));
    console.log(`${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    for (const m of models) await m.close();
  }
}

/** How often a model prefers the chosen response of training pairs: summed and per-token log-probabilities. */
function pairAccuracy(model: TrainModel, tokenizer: BpeTokenizer, all: readonly FpoRecord[]): { sum: number; perToken: number } {
  // At most 400 pairs, evenly spaced.
  const every = Math.ceil(all.length / 400);
  const records = all.filter((_, i) => i % every === 0);
  let sum = 0;
  let perToken = 0;
  for (const r of records) {
    const [c, j] = batchLogProbs(model, tokenizer, r.prompt, [r.chosen, r.rejected]);
    const tc = packContinuation(tokenizer, r.prompt, r.chosen, model.config.maxPositions).responseTokens;
    const tj = packContinuation(tokenizer, r.prompt, r.rejected, model.config.maxPositions).responseTokens;
    if (c! > j!) sum++;
    if (c! / tc > j! / tj) perToken++;
  }
  return { sum: sum / records.length, perToken: perToken / records.length };
}

interface RecordRecipe { unit: FpoUnit; ref: ZooFpoReference; distractors: number; per: number }
const recordCache = new Map<string, FpoRecord[]>();
let teachersLoaded: { teachers: Teacher[]; domains: string[]; lines: { domain: string; lines: string[] }[] } | undefined;

async function recordsOf(r: RecordRecipe): Promise<FpoRecord[]> {
  const key = JSON.stringify(r);
  const hit = recordCache.get(key);
  if (hit) return hit;
  if (!teachersLoaded) {
    const manifest = await readZooManifest(ZOO);
    const experts = manifest.models.filter((m) => m.role === "expert");
    const teachers: Teacher[] = [];
    for (const e of experts) teachers.push(await loadTeacher(path.join(ZOO, e.files.hf), e.id));
    teachersLoaded = { teachers, domains: experts.map((e) => e.domain ?? ""), lines: await trainingLines(manifest) };
  }
  const t0 = Date.now();
  // p2: packed as src/formats/sequence-start.ts says (files without it were packed with BOS always).
  const cache = path.join("bench", "out", `fpo-records-p2-${r.unit}-${r.ref}-${r.distractors}-${r.per}.json`);
  const cached = await fs.readFile(cache, "utf8").then((t) => JSON.parse(t) as FpoRecord[], () => undefined);
  const records = cached ?? await zooFpoRecords(teachersLoaded.lines, teachersLoaded.teachers, teachersLoaded.domains, { seed: 7, perDomain: r.per, distractors: r.distractors, unit: r.unit, reference: r.ref });
  const refAcc = records.filter((x) => x.reference.chosen > x.reference.rejected).length / records.length;
  console.log(`records ${key}: ${records.length} pairs in ${((Date.now() - t0) / 1000).toFixed(0)} s; the fused reference prefers the true word in ${f4(refAcc)}; mean reference margin ${f4(records.reduce((s, x) => s + x.reference.chosen - x.reference.rejected, 0) / records.length)}`);
  recordCache.set(key, records);
  if (!cached) {
    await fs.mkdir(path.dirname(cache), { recursive: true });
    await fs.writeFile(cache, JSON.stringify(records));
  }
  return records;
}

const parse = (spec: string) => Object.fromEntries(spec.split(",").map((kv) => kv.split("=") as [string, string]));

async function diagnose(): Promise<void> {
  const per = Number(arg("per-domain", "30"));
  const pivot = await loadTeacher(PIVOT, "pivots/all");
  const fpo = await loadTeacher(path.join(ZOO, "pivots", "fpo", "hf"), "pivots/fpo");
  for (const r of [
    { unit: "token", ref: "prompt", distractors: 1, per },
    { unit: "byte", ref: "prompt", distractors: 3, per },
    { unit: "byte", ref: "domain", distractors: 3, per },
  ] as RecordRecipe[]) {
    const records = await recordsOf(r);
    for (const m of [pivot, fpo]) {
      const a = pairAccuracy(m.model, m.tokenizer, records);
      console.log(`  ${m.id} prefers the true word on these training pairs: summed log-prob ${f4(a.sum)}, per token ${f4(a.perToken)}`);
    }
  }
}

async function recipes(specs: string[]): Promise<void> {
  const items = await clozeItemsOf(SIDE);
  const base = await loadTeacher(PIVOT, "pivots/all");
  const all = clozeRecords("pivots/all", base.model, base.tokenizer, items);
  console.log(`pivots/all: ${SIDE} cloze acc ${f4(accuracy(all))} (${items.length} items)`);
  for (const spec of specs) {
    const p = parse(spec);
    const made = await recordsOf({ unit: (p.unit ?? "byte") as FpoUnit, ref: (p.ref ?? "domain") as ZooFpoReference, distractors: Number(p.distractors ?? 3), per: Number(p.per ?? 60) });
    // Controls: "flip" trains every pair the wrong way round, "shuffle" every other pair (labels carry no signal).
    const swap = (r: FpoRecord): FpoRecord => ({ ...r, chosen: r.rejected, rejected: r.chosen, reference: { chosen: r.reference.rejected, rejected: r.reference.chosen } });
    const records = p.control === "flip" ? made.map(swap) : p.control === "shuffle" ? made.map((r, i) => (i % 2 ? swap(r) : r)) : made;
    const before = pairAccuracy(base.model, base.tokenizer, records);
    const steps = Number(p.steps ?? 60);
    const t0 = Date.now();
    const result = await trainLanguageModel({
      init: PIVOT, tokenizer: base.tokenizer, lora: { rank: 16, alpha: 16 }, steps, batchSize: Number(p.batch ?? 8), seqLen: 64, lr: Number(p.lr ?? 2e-3), seed: Number(p.seed ?? 7),
      objective: fpoObjective({ records, beta: Number(p.beta ?? 2), lambda: Number(p.lambda ?? 0.2), batchSize: Number(p.batch ?? 8), seqLen: 64, seed: Number(p.seed ?? 7), bosId: base.tokenizer.vocab.bosId ?? 0, unit: (p.unit ?? "byte") as FpoUnit }),
    });
    const seconds = (Date.now() - t0) / 1000;
    const tenth = Math.max(1, Math.floor(steps / 10));
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const after = pairAccuracy(result.model, base.tokenizer, records);
    const mine = clozeRecords(spec, result.model, base.tokenizer, items);
    all.push(...mine);
    disposeTrainModel(result.model);
    console.log(`${spec}: loss ${f4(mean(result.losses.slice(0, tenth)))} → ${f4(mean(result.losses.slice(-tenth)))} (${steps} steps, ${seconds.toFixed(0)} s); training pairs ${f4(before.sum)} → ${f4(after.sum)}; ${SIDE} cloze ${f4(accuracy(mine))}; ${paired(all, spec, "pivots/all")}`);
  }
}

const MODELS = arg("models", "");
const GGUFS = arg("gguf", "");
if (MODELS) await evaluateHfModels(MODELS.split(","));
else if (GGUFS) await evaluateGgufs(GGUFS.split(","));
else if (process.argv.includes("--diagnose")) await diagnose();
else await recipes(arg("recipes", "unit=byte,ref=domain,distractors=3,per=60").split(";"));
