/**
 * Pivot recipes on the dev measure, each beside its CLM control trained the same way (same texts,
 * batches, steps, lr, seed; λ = 1). Dev measure: macro bits per byte (evaluateBitsPerByte, seqLen
 * 64) of up to 300 held-out lines of finance, biology and people that no zoo item (bits-per-byte
 * passage, cloze, continuation or definition) contains — the demo's test items are never read.
 * Training texts are the zoo pivots' packed TRAINING lines; every recipe is evaluated every
 * `--eval-every` steps (early stopping picks the best), and the run prints dev bpb per step.
 *
 *   npx tsx bench/distill-recipes.ts [--zoo zoo] [--texts-per-domain 400] [--steps 400]
 *     [--eval-every 100] [--lr 1e-3] [--lambda 0.5] [--recipes control,domain-aligned,...] [--out FILE]
 *
 * Recipes: control; <teachers>-<fusion>[-b] with teachers domain | minc (min-ce), fusion aligned |
 * uld | both, and -b for the family-B teachers alone.
 *
 *   npx tsx bench/distill-recipes.ts --recipes online-control,online-domain --lr 4e-3 --steps 200 --seed 199
 * online distillation (online-kd-objective.ts): seeded windows of the zoo's whole family-A
 * training mixture, as the zoo's control and centralised models train (seed 199 and lr 4e-3 are
 * a/control's), each window also distilled (top-k, aligned, λ) from the family-A expert of the
 * domain it starts in; online-control is the same run with λ = 1. `--k` sets k (default 8);
 * `--init a/centralised` starts both from another family-A model of the zoo instead of base-a.
 * online-b-reweight is online-b's control without the fusion term (reweightedClm below).
 * online-b-rowgate-keepclm: a row is taught only where the family-B teacher gives the gold token
 * more probability than the pivot does at that step (crossGate "min-ce-row"), and every row keeps
 * its full CLM (keepClm: taught rows add (1 − λ)·fusion), so online-control is its exact control;
 * `--teach-domains finance,biology` teaches only those domains' windows.
 * `--widen ff=704,heads=8[,layers=3]` (with `--full`) trains a function-preserving widening of the
 * start instead (src/zoo/train/widen.ts: the wide pivot of issue 10, KD and control alike).
 *
 *   npx tsx bench/distill-recipes.ts --write-sampled /tmp/b-sampled --family b --samples 3000 --seed 199
 *   npx tsx bench/distill-recipes.ts --recipes online-sampled --sampled /tmp/b-sampled [--sampled-repeat N] --init a/centralised …
 * sequence-level KD on text the experts write (writeSampledCorpus): online-sampled teaches the
 * sampled text (each part by the expert that wrote it) and trains the training text on CLM;
 * online-sampled-domain also teaches the training text (as pivots/all); its controls are
 * online-sampled-hard (the same stream at λ 1: hard labels on the sampled text) and
 * online-sampled-reweight (the same stream, sampled windows weighed 0, no teacher).
 *
 *   npx tsx bench/distill-recipes.ts --models zoo/pivots/all/hf,zoo/pivots/control/hf
 * only evaluates those Hugging Face folders (e.g. the built pivots) on the same dev measure.
 *
 *   npx tsx bench/distill-recipes.ts --teacher-gap DIR/hf
 * what the family-B experts could teach that pivot (e.g. an online-control run): on windows of
 * each B expert's own training text and of the dev lines of its domain, the pivot's nats per token
 * on the gold token, the B teacher's on its own token where both tokenizers cut the same span,
 * beside the pivot's there, and the nats of the aligned target (the fusion loss's target) on gold.
 *
 *   npx tsx bench/distill-recipes.ts --test-models pivot=DIR/hf,…
 * FINAL REPORT ONLY, after a recipe was chosen on dev: the demo's held-out test passages (its
 * split, 10 per domain), each scored from BOS in cogen's forward pass, macro bits per byte and
 * the first model's paired difference to every other (paired over passages, as the demo does).
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readZooManifest } from "../src/zoo/build/manifest.js";
import { buildCorpus } from "../src/zoo/corpora/build.js";
import { evaluateBitsPerByte, rollingLogProb } from "../src/zoo/train/evaluate.js";
import { vocabSequenceStart } from "../src/formats/sequence-start.js";
import { exportHf } from "../src/zoo/train/export.js";
import type { ResultRecord } from "../src/core/evidence.js";
import type { TaskItem } from "../src/formats/tasks.js";
import { splitItems } from "../src/unify/items.js";
import { pairedMacroBpb } from "../src/unify/paired.js";
import { loadDemoZoo } from "../src/demo/zoo.js";
import { disposeTrainModel, forwardLogits, tokenNll } from "../src/zoo/train/model.js";
import { batchAt, batchStarts } from "../src/zoo/train/batches.js";
import type { TrainObjective } from "../src/zoo/train/train.js";
import { tf } from "../src/zoo/train/backend.js";
import { readBpeTokenizer } from "../src/zoo/train/tokenize.js";
import { widenHfModel } from "../src/zoo/train/widen.js";
import { trainLanguageModel } from "../src/zoo/train/train.js";
import { kdObjective } from "../src/fuse/distill/kd-objective.js";
import type { PivotTargets } from "../src/fuse/distill/pivot-targets.js";
import { disposeTeacher, loadTeacher, teacherTargets, teacherViews, type Teacher, type TeacherView } from "../src/fuse/distill/teacher-targets.js";
import { onlineKdObjective, onlineStream, type OnlinePart } from "../src/fuse/distill/online-kd-objective.js";
import { writeSampledCorpus, type SampledCorpusManifest } from "../src/fuse/distill/sampled-corpus.js";
import { createLlamaCppModel } from "../src/models/llamacpp/model.js";
import { streamProgress } from "../src/core/progress.js";
import { fusionOptions, packTexts, teacherPriors, trainingLines, type ZooPivotsPlan } from "../src/fuse/distill/zoo-pivots.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const ZOO = path.resolve(arg("zoo", "zoo"));
const TEXTS_PER_DOMAIN = Number(arg("texts-per-domain", "400"));
const STEPS = Number(arg("steps", "400"));
const EVAL_EVERY = Number(arg("eval-every", "100"));
const LR = Number(arg("lr", "1e-3"));
const LAMBDA = Number(arg("lambda", "0.5"));
const RECIPES = arg("recipes", "control,domain-aligned").split(",");
const OUT = arg("out", "");
/** --sampled DIR: the transfer text of the online-sampled* recipes (written by --write-sampled). */
const SAMPLED = arg("sampled", "");
/** Save each recipe's final model here (<name>/hf) for a later, final-report-only evaluation. */
const SAVE = arg("save", "");
const DEV_DOMAINS = ["finance", "biology", "people"];
const DEV_LINES_PER_DOMAIN = 300;
const K = 8;
const SEED = Number(arg("seed", "7"));
const BATCH = 16;
const SEQ = 64;
// --full: a full fine-tune instead of LoRA r16 (a mixture of experts, e.g. zoo/moe, trains no LoRA).
const LORA = process.argv.includes("--full") ? undefined : { rank: 16, alpha: 16 };

const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

async function devTexts(seed: number): Promise<Map<string, string>> {
  const corpus = await buildCorpus({ seed });
  // What any zoo item was made from: passages' lines, cloze/continuation contexts (a line's prefix), definitions.
  const passages: string[] = [];
  const prefixes: string[] = [];
  const definitions = new Set<string>();
  for (const file of await fs.readdir(path.join(ZOO, "items"))) {
    for (const line of (await fs.readFile(path.join(ZOO, "items", file), "utf8")).split("\n")) {
      if (!line) continue;
      const item = JSON.parse(line) as { task: string; text?: string; context?: string };
      if (item.text) passages.push(item.text);
      else if (item.task === "zoo-definition") definitions.add(item.context!.replace(/^Definition: /, "").replace(/\nWord:$/, ""));
      else prefixes.push(item.context!);
    }
  }
  const everything = passages.join("\n");
  const inItem = (r: { text: string; definition: string }) => everything.includes(r.text) || definitions.has(r.definition) || prefixes.some((p) => r.text.startsWith(p));
  const dev = new Map<string, string>();
  for (const name of DEV_DOMAINS) {
    const domain = corpus.domains.find((d) => d.name === name)!;
    const lines = domain.heldOut
      .filter((r) => !inItem(r))
      .map((r) => r.text)
      .slice(0, DEV_LINES_PER_DOMAIN);
    dev.set(name, lines.join("\n"));
    log(`dev ${name}: ${lines.length} held-out lines in no item`);
  }
  return dev;
}

interface Recipe { name: string; lambda: number; choice?: ZooPivotsPlan["teachers"]; fusion?: ZooPivotsPlan["fusion"]; familyB?: boolean }

function parseRecipe(name: string): Recipe {
  if (name === "control") return { name, lambda: 1 };
  const [choice, fusion, b] = name.split("-") as [ZooPivotsPlan["teachers"] | "minc", ZooPivotsPlan["fusion"], string?];
  return { name, lambda: LAMBDA, choice: choice === "minc" ? "min-ce" : choice, fusion, familyB: b === "b" };
}

async function evaluateFolders(folders: string[]): Promise<void> {
  const manifest = await readZooManifest(ZOO);
  const dev = await devTexts(manifest.data.seed);
  for (const folder of folders) {
    const model = await loadTeacher(path.resolve(folder), folder);
    const per: Record<string, number> = {};
    for (const [d, text] of dev) per[d] = +(await evaluateBitsPerByte(model.model, model.tokenizer, text, { seqLen: SEQ })).bitsPerByte.toFixed(4);
    disposeTeacher(model);
    log(`${folder}: dev ${(Object.values(per).reduce((a, b) => a + b, 0) / dev.size).toFixed(4)} ${JSON.stringify(per)}`);
  }
}

async function evaluatePaired(named: string[], side: "dev" | "test"): Promise<void> {
  const zoo = await loadDemoZoo(ZOO);
  const passages = splitItems(zoo.items, { perDomainAndKind: 10, maxPassageChars: 256 })[side].filter((i) => i.kind === "bits_per_byte") as (TaskItem & { kind: "bits_per_byte" })[];
  log(`${side}: ${passages.length} passages over ${zoo.domains.length} domains`);
  const records: ResultRecord[] = [];
  const names: string[] = [];
  for (const entry of named) {
    const [name, folder] = entry.split("=") as [string, string];
    names.push(name);
    const model = await loadTeacher(path.resolve(folder), name);
    // Scored as llama.cpp scores the demo's passages: sequence start first, then rolling windows
    // of the model's trained positions (a passage is 70–100 tokens; the models saw 64).
    for (const item of passages) {
      const whole = [...vocabSequenceStart(model.tokenizer.vocab, true), ...model.tokenizer.encode(item.text)];
      const nats = -rollingLogProb(model.model, whole, 1, model.model.config.maxPositions);
      const bytes = Buffer.byteLength(item.text);
      const bpb = nats / Math.LN2 / bytes;
      records.push({ model: name, item: item.id, domain: item.domain, metric: "bpb", task: "zoo-bits-per-byte", score: bpb, bpb, bytes } as ResultRecord);
    }
    disposeTeacher(model);
    const perDomain = zoo.domains.map((d) => {
      const rs = records.filter((r) => r.model === name && r.domain === d);
      return rs.reduce((s, r) => s + r.bpb! * r.bytes!, 0) / rs.reduce((s, r) => s + r.bytes!, 0);
    });
    log(`${name}: ${side} macro bpb ${(perDomain.reduce((a, b) => a + b, 0) / perDomain.length).toFixed(4)} ${JSON.stringify(Object.fromEntries(zoo.domains.map((d, i) => [d, +perDomain[i]!.toFixed(4)])))}`);
  }
  for (const other of names.slice(1)) {
    const d = pairedMacroBpb(records, names[0]!, other, zoo.domains)!;
    log(`${names[0]} − ${other}: ${d.diff >= 0 ? "+" : ""}${d.diff.toFixed(4)} ± ${d.se.toFixed(4)} (paired over ${d.n} passages)`);
  }
}

/** What each family-B expert could teach the pivot at `dir` (see the header), on its training text and its dev lines. */
async function teacherGap(dir: string): Promise<void> {
  const manifest = await readZooManifest(ZOO);
  const dev = await devTexts(manifest.data.seed);
  const corpus = await buildCorpus({ seed: manifest.data.seed });
  const pivot = await loadTeacher(path.resolve(dir), dir);
  const WINDOW = 40;
  for (const expert of manifest.models.filter((m) => m.role === "expert" && m.family === "b")) {
    const teacher = await loadTeacher(path.join(ZOO, expert.files.hf), expert.id);
    const texts: [string, string][] = [["training", corpus.domains.find((d) => d.name === expert.domain)!.trainText.slice(0, 200_000)]];
    if (dev.has(expert.domain!)) texts.push(["dev lines", dev.get(expert.domain!)!]);
    for (const [kind, whole] of texts) {
      const tokens = pivot.tokenizer.encode(whole);
      const sum = { rows: 0, pivot: 0, target: 0, same: 0, teacherSame: 0, pivotSame: 0 };
      for (let s = 0; s + WINDOW <= tokens.length && sum.rows < 3000; s += WINDOW) {
        const window = tokens.slice(s, s + WINDOW);
        const text = pivot.tokenizer.decode(window);
        const encoded = pivot.tokenizer.encode(text);
        if (encoded.length !== WINDOW || encoded.some((id, i) => id !== window[i]) || teacher.tokenizer.encode(text).length > teacher.model.config.maxPositions) continue;
        const view = teacherViews(text, [teacher], K)[0]!;
        const aligned = teacherTargets(text, pivot.tokenizer, [teacher], { k: K, aligned: true, uld: false }, [view]).aligned!;
        const vocab = pivot.model.config.vocabSize;
        const probs = tf.tidy(() => tf.softmax(forwardLogits(pivot.model, tf.tensor2d([[pivot.tokenizer.vocab.bosId!, ...window.slice(0, -1)]], [1, WINDOW], "int32"))).dataSync() as Float32Array);
        const teacherTokens = teacher.tokenizer.encode(text);
        const teacherAt = new Map(view.starts.slice(0, -1).map((b, i) => [b, i]));
        let byte = 0;
        const starts = window.map((id) => ((byte += pivot.tokenizer.tokenBytes(id).length), byte - pivot.tokenizer.tokenBytes(id).length));
        for (let t = 1; t < WINDOW; t++) {
          const ids = Array.from(aligned.ids.subarray(t * K, t * K + K));
          if (!ids.some((id) => id >= 0)) continue;
          const gold = window[t]!;
          const pGold = probs[t * vocab + gold]!;
          const j = ids.indexOf(gold);
          // Gold outside the candidates: the leftover mass, shared as the pivot shares its own mass outside them.
          const leftover = 1 - ids.reduce((a, id, c) => a + (id >= 0 ? aligned.probs[t * K + c]! : 0), 0);
          const outside = 1 - ids.reduce((a, id) => a + (id >= 0 ? probs[t * vocab + id]! : 0), 0);
          const target = j >= 0 ? aligned.probs[t * K + j]! : Math.max(leftover, 0) * pGold / Math.max(outside, 1e-9);
          sum.rows++;
          sum.pivot -= Math.log(pGold);
          sum.target -= Math.log(Math.max(target, 1e-9));
          const i = teacherAt.get(starts[t]!)!;
          if (teacher.tokenizer.tokenBytes(teacherTokens[i]!).length === pivot.tokenizer.tokenBytes(gold).length) {
            sum.same++;
            sum.teacherSame += view.positionNats[i]!;
            sum.pivotSame -= Math.log(pGold);
          }
        }
      }
      const f = (x: number, n: number) => (x / n).toFixed(3);
      log(`${expert.id} on ${expert.domain} ${kind}: ${sum.rows} taught rows; nats/token on gold: pivot ${f(sum.pivot, sum.rows)}, aligned target ${f(sum.target, sum.rows)}; same-span rows ${f(sum.same * 100, sum.rows)}%: teacher ${f(sum.teacherSame, sum.same)} vs pivot ${f(sum.pivotSame, sum.same)}`);
    }
    disposeTeacher(teacher);
  }
  disposeTeacher(pivot);
}

/**
 * online-b-reweight: the family-B run without its fusion term — the same windows, with the CLM of
 * windows that start in a taught span weighed λ (as the KD run weighs its taught rows) and the
 * rest 1. What the KD run gains over it is what the teachers taught, not the mixture's new weights
 * (approximate: the ~2% untaught rows inside taught windows weigh λ here, 1 there).
 */
function reweightedClm(tokens: Int32Array, spans: { end: number; weight: number }[]): TrainObjective {
  return {
    key: { objective: "reweighted-clm", seed: SEED, tokens: tokens.length, spans },
    tokensPerStep: BATCH * SEQ,
    loss: (model, step) => {
      const batch = batchAt(tokens, SEED, step, BATCH, SEQ);
      const weights = batchStarts(tokens.length, SEED, step, BATCH, SEQ).flatMap((start) => Array<number>(SEQ).fill(spans.find((span) => start < span.end)!.weight));
      const nll = tokenNll(forwardLogits(model, tf.tensor2d(batch.inputs, [BATCH, SEQ], "int32")), tf.tensor2d(batch.targets, [BATCH, SEQ], "int32"));
      return tf.div(tf.sum(tf.mul(nll, tf.tensor1d(weights))), BATCH * SEQ) as tf.Scalar;
    },
  };
}

/**
 * --widen ff=704,heads=8,layers=3: train a function-preserving widening of the start (widen.ts)
 * instead of the start itself, into a temporary folder (with --save, <save>/widened-init/hf).
 */
const WIDEN = arg("widen", "");

async function widenedInit(startDir: string): Promise<string> {
  const sizes = Object.fromEntries(WIDEN.split(",").map((kv) => kv.split("=") as [string, string]));
  const unknown = Object.keys(sizes).filter((k) => !["ff", "heads", "layers"].includes(k));
  if (unknown.length) throw new Error(`--widen: unknown keys ${unknown.join(", ")} (ff, heads, layers)`);
  const num = (k: string) => (sizes[k] === undefined ? undefined : Number(sizes[k]));
  const dir = SAVE ? path.join(SAVE, "widened-init", "hf") : path.join(await fs.mkdtemp(path.join(os.tmpdir(), "cogen-widen-")), "hf");
  const config = await widenHfModel(startDir, dir, { intermediateSize: num("ff"), numHeads: num("heads"), numLayers: num("layers"), seed: SEED });
  log(`widened ${startDir} → ${dir}: ff ${config.intermediateSize}, heads ${config.numHeads}, layers ${config.numLayers}`);
  return dir;
}

/** The --sampled transfer text (writeSampledCorpus's folder), one part per source, each taught by the zoo expert that sampled it. */
async function sampledParts(dir: string): Promise<OnlinePart[]> {
  const manifest = await readZooManifest(ZOO);
  const sampled = JSON.parse(await fs.readFile(path.join(dir, "manifest.json"), "utf8")) as SampledCorpusManifest;
  const parts: OnlinePart[] = [];
  for (const source of sampled.sources) {
    const expert = manifest.models.find((m) => m.id === source.model)!;
    // --sampled-repeat N: the transfer text N times over, raising its share of the windows (200 steps read ~1/10 of it once).
    const text = (await fs.readFile(path.join(dir, source.file), "utf8")).repeat(Number(arg("sampled-repeat", "1")));
    parts.push({ name: `sampled ${source.name}`, text, teacher: await loadTeacher(path.join(ZOO, expert.files.hf), expert.id) });
  }
  return parts;
}

async function onlineMain(): Promise<void> {
  const manifest = await readZooManifest(ZOO);
  const base = manifest.models.find((m) => m.family === "a" && m.role === "base")!;
  // --init a/centralised: distil into another family-A model of the zoo (e.g. the centralised one).
  const init = arg("init", "");
  // --init-dir DIR: any HF folder of the pivot's family (e.g. zoo/pivots/all/hf, to train it further).
  const initDir = arg("init-dir", "");
  const startDir = initDir ? path.resolve(initDir) : path.join(ZOO, init ? manifest.models.find((m) => m.id === init)!.files.hf : base.files.hf);
  const pivotDir = WIDEN ? await widenedInit(startDir) : startDir;
  const pivot = await readBpeTokenizer(pivotDir);
  const dev = await devTexts(manifest.data.seed);
  if (WIDEN) {
    // The widening must preserve the function: the wide start scores the dev lines exactly as the original.
    for (const [label, dir] of [["start", startDir], ["widened start", pivotDir]]) {
      const model = await loadTeacher(dir, label);
      const per: Record<string, number> = {};
      for (const [d, text] of dev) per[d] = (await evaluateBitsPerByte(model.model, pivot, text, { seqLen: SEQ })).bitsPerByte;
      disposeTeacher(model);
      log(`${label}: dev ${(Object.values(per).reduce((a, b) => a + b, 0) / dev.size).toFixed(6)} ${JSON.stringify(per)}`);
    }
  }
  const corpus = await buildCorpus({ seed: manifest.data.seed });
  // online-b[-uld|-both]: the family-B experts teach their domains across tokenizers; other windows train on CLM alone.
  // online-sampled-domain: the training text is taught by the family that wrote the --sampled text.
  const sampledFamily = SAMPLED ? (JSON.parse(await fs.readFile(path.join(SAMPLED, "manifest.json"), "utf8")) as SampledCorpusManifest).sources.map((src) => manifest.models.find((m) => m.id === src.model)?.family) : [];
  const familyB = RECIPES.some((r) => r.startsWith("online-b")) || sampledFamily.includes("b");
  const experts = manifest.models.filter((m) => m.role === "expert" && m.family === (familyB ? "b" : "a"));
  const parts: OnlinePart[] = [];
  // --teach-domains finance,biology: only those domains' windows are taught (the rest train on CLM alone).
  const teachDomains = arg("teach-domains", "");
  for (const d of corpus.domains) {
    const expert = teachDomains && !teachDomains.split(",").includes(d.name) ? undefined : experts.find((e) => e.domain === d.name);
    parts.push({ name: d.name, text: d.trainText, teacher: expert ? await loadTeacher(path.join(ZOO, expert.files.hf), expert.id) : undefined });
  }
  const plain = onlineStream(parts, pivot);
  const sampled = SAMPLED ? await sampledParts(SAMPLED) : [];
  const results: Record<string, { step: number; macro: number; per: Record<string, number>; seconds: number }[]> = {};
  for (const name of RECIPES) {
    // online-sampled*: the training text (taught by its experts only in online-sampled-domain) and then the --sampled transfer text, taught by its sampling expert.
    const isSampled = name.startsWith("online-sampled");
    if (isSampled && !sampled.length) throw new Error(`${name} needs --sampled DIR (bench/distill-recipes.ts --write-sampled DIR)`);
    const stream = isSampled ? onlineStream([...parts.map((p) => (name.startsWith("online-sampled-domain") ? p : { ...p, teacher: undefined })), ...sampled], pivot) : plain;
    log(`${name} mixture: ${stream.tokens.length} tokens over ${stream.spans.length} parts; teachers ${stream.spans.filter((s) => s.teacher).length}, across tokenizers ${stream.spans.filter((s) => s.crossTeacher).length}`);
    const lambda = name === "online-control" || name === "online-sampled-hard" ? 1 : LAMBDA;
    // online-b[-first][-uld|-both]: -first maps a family-B candidate to the first pivot token of its text.
    const crossFusion = name.endsWith("-uld") ? "uld" : name.endsWith("-both") ? "both" : "aligned";
    const crossCandidates = name.includes("-first") ? "first-token" : "bytes";
    // -mince: FuseLLM's MinCE with the pivot as a source (a window is taught only where the teacher beats the pivot on it).
    const crossGate = name.includes("-mince") ? "min-ce" : name.includes("-rowgate") ? "min-ce-row" : undefined;
    // -keepclm: every row keeps its full CLM and taught rows add (1 − λ)·fusion, so online-control (the same stream at λ 1) is the exact control.
    const keepClm = name.includes("-keepclm");
    // online-sampled-reweight: the sampled KD run without its transfer text (those windows weigh 0, the training text's as in the KD run).
    const objective = name === "online-sampled-reweight"
      ? reweightedClm(stream.tokens, stream.spans.map((span, i) => ({ end: span.end, weight: i < parts.length ? 1 : 0 })))
      : name === "online-b-reweight"
      ? reweightedClm(stream.tokens, stream.spans.map((span) => ({ end: span.end, weight: span.crossTeacher ? LAMBDA : 1 })))
      : onlineKdObjective({ ...stream, lambda, k: Number(arg("k", "8")), crossFusion, crossCandidates, crossGate, keepClm, batchSize: BATCH, seqLen: SEQ, seed: SEED });
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-online-"));
    results[name] = [];
    try {
      for (let stop = EVAL_EVERY; stop <= STEPS; stop += EVAL_EVERY) {
        const trained = await trainLanguageModel({ init: pivotDir, tokenizer: pivot, objective, steps: STEPS, stopAtStep: stop, batchSize: BATCH, seqLen: SEQ, lr: LR, seed: SEED, lora: LORA, checkpointDir: dir });
        const per: Record<string, number> = {};
        for (const [d, text] of dev) per[d] = +(await evaluateBitsPerByte(trained.model, pivot, text, { seqLen: SEQ })).bitsPerByte.toFixed(4);
        const macro = Object.values(per).reduce((a, b) => a + b, 0) / dev.size;
        if (SAVE && stop + EVAL_EVERY > STEPS) await exportHf(trained.model, path.join(SAVE, name, "hf"), { tokenizer: pivot });
        disposeTrainModel(trained.model);
        results[name].push({ step: stop, macro, per, seconds: trained.seconds });
        log(`${name} step ${stop}: dev ${macro.toFixed(4)} (${trained.stepsPerSecond.toFixed(2)} steps/s) ${JSON.stringify(per)}`);
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
  if (OUT) await fs.writeFile(OUT, JSON.stringify({ steps: STEPS, lr: LR, lambda: LAMBDA, seed: SEED, results }, null, 2) + "\n");
  // The widened start was only scaffolding unless --save keeps it.
  if (WIDEN && !SAVE) await fs.rm(path.dirname(pivotDir), { recursive: true, force: true });
}

async function main(): Promise<void> {
  const manifest = await readZooManifest(ZOO);
  const base = manifest.models.find((m) => m.family === "a" && m.role === "base")!;
  const pivotDir = path.join(ZOO, base.files.hf);
  const pivot = await readBpeTokenizer(pivotDir);
  const experts = manifest.models.filter((m) => m.role === "expert");
  const dev = await devTexts(manifest.data.seed);
  const lines = await trainingLines(manifest);
  const teachers: Teacher[] = [];
  for (const e of experts) teachers.push(await loadTeacher(path.join(ZOO, e.files.hf), e.id));
  const domains = experts.map((e) => e.domain ?? "");
  const bTokenizer = teachers[experts.findIndex((e) => e.family === "b")]!.tokenizer;
  const { texts, skipped } = packTexts(lines, [pivot, teachers[0]!.tokenizer, bTokenizer], { seed: SEED, textsPerDomain: TEXTS_PER_DOMAIN, maxTokens: 64 });
  log(`${texts.length} training texts (${skipped} skipped), ${texts.reduce((s, t) => s + pivot.encode(t.text).length, 0)} pivot tokens`);
  const recipes = RECIPES.map(parseRecipe);

  // Views once per (text, teacher) that any recipe needs.
  const started = Date.now();
  const views: (TeacherView | undefined)[][] = texts.map(() => []);
  const targets = new Map<string, PivotTargets[]>(recipes.map((r) => [r.name, []]));
  texts.forEach(({ domain, text }, ti) => {
    for (const r of recipes) {
      if (!r.choice) {
        targets.get(r.name)!.push({ tokens: Int32Array.from(pivot.encode(text)) });
        continue;
      }
      const members = teachers.map((_, i) => !r.familyB || experts[i]!.family === "b");
      const subset = teachers.filter((_, i) => members[i]);
      const priors = teacherPriors(r.choice, domain, domains.filter((_, i) => members[i]));
      const subsetViews = subset.map((t, j) => {
        const i = teachers.indexOf(t);
        if (priors[j]! > 0 && !views[ti]![i]) views[ti]![i] = teacherViews(text, [t], K)[0];
        return priors[j]! > 0 ? views[ti]![i] : undefined;
      });
      targets.get(r.name)!.push(teacherTargets(text, pivot, subset, { ...fusionOptions({ k: K, fusion: r.fusion! }), priors }, subsetViews));
    }
    if ((ti + 1) % 500 === 0) log(`targets ${ti + 1}/${texts.length}`);
  });
  log(`targets in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  teachers.forEach(disposeTeacher);

  const results: Record<string, { step: number; dev: Record<string, number>; macro: number; seconds: number }[]> = {};
  const baseModel = await loadTeacher(pivotDir, "a/base");
  const devOf = async (model: Teacher["model"]) => {
    const per: Record<string, number> = {};
    for (const [d, text] of dev) per[d] = (await evaluateBitsPerByte(model, pivot, text, { seqLen: SEQ })).bitsPerByte;
    return { per, macro: Object.values(per).reduce((a, b) => a + b, 0) / dev.size };
  };
  const b0 = await devOf(baseModel.model);
  disposeTeacher(baseModel);
  log(`base-a dev ${b0.macro.toFixed(4)} ${JSON.stringify(b0.per)}`);
  for (const r of recipes) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-recipe-"));
    results[r.name] = [];
    try {
      for (let stop = EVAL_EVERY; stop <= STEPS; stop += EVAL_EVERY) {
        const objective = kdObjective({ texts: targets.get(r.name)!, lambda: r.lambda, batchSize: BATCH, seqLen: SEQ, seed: SEED, bosId: pivot.vocab.bosId! });
        const trained = await trainLanguageModel({ init: pivotDir, tokenizer: pivot, objective, steps: STEPS, stopAtStep: stop, batchSize: BATCH, seqLen: SEQ, lr: LR, seed: SEED, lora: LORA, checkpointDir: dir });
        const d = await devOf(trained.model);
        if (SAVE && stop + EVAL_EVERY > STEPS) await exportHf(trained.model, path.join(SAVE, r.name, "hf"), { tokenizer: pivot });
        disposeTrainModel(trained.model);
        results[r.name]!.push({ step: stop, dev: d.per, macro: d.macro, seconds: trained.seconds });
        log(`${r.name} step ${stop}: dev ${d.macro.toFixed(4)} (${(trained.stepsPerSecond).toFixed(2)} steps/s) ${JSON.stringify(Object.fromEntries(Object.entries(d.per).map(([k, v]) => [k, +v.toFixed(4)])))}`);
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
  const summary = { textsPerDomain: TEXTS_PER_DOMAIN, texts: texts.length, steps: STEPS, lr: LR, lambda: LAMBDA, baseA: b0, results };
  if (OUT) await fs.writeFile(OUT, JSON.stringify(summary, null, 2) + "\n");
  console.log("recipe\tbest step\tbest dev\tfinal dev\tvs control (final)");
  const control = results.control?.at(-1)?.macro;
  for (const [name, rows] of Object.entries(results)) {
    const best = rows.reduce((a, b) => (b.macro < a.macro ? b : a));
    const last = rows.at(-1)!;
    console.log(`${name}\t${best.step}\t${best.macro.toFixed(4)}\t${last.macro.toFixed(4)}\t${control === undefined ? "" : (last.macro - control).toFixed(4)}`);
  }
}

/**
 * --write-sampled DIR [--family a|b] [--domains d1,d2] [--samples 600] [--max-tokens 48] [--temperature 1] [--top-p P]:
 * each domain expert of that family samples continuations of 4-word prefixes of its domain's
 * training lines (llama.cpp, 1 thread, seeded by --seed): the transfer text --sampled reads.
 */
async function writeSampled(out: string): Promise<void> {
  const manifest = await readZooManifest(ZOO);
  const corpus = await buildCorpus({ seed: manifest.data.seed });
  // --domains finance,geography: only those domains' experts sample (e.g. where the expert beats the pivot on dev).
  const domains = arg("domains", "");
  const experts = manifest.models.filter((m) => m.role === "expert" && m.family === arg("family", "b") && (!domains || domains.split(",").includes(m.domain!)));
  if (!experts.length) throw new Error(`--write-sampled: no ${arg("family", "b")} expert of --domains ${domains}`);
  const sources = [];
  for (const e of experts) {
    const lines = corpus.domains.find((d) => d.name === e.domain)!.trainText.split("\n");
    sources.push({ name: e.domain!, model: await createLlamaCppModel({ id: e.id, path: path.join(ZOO, e.files.gguf!), threads: 1 }), prefixes: lines });
  }
  const started = Date.now();
  const topP = arg("top-p", "");
  try {
    const written = await writeSampledCorpus(path.resolve(out), {
      sources, samplesPerSource: Number(arg("samples", "600")), maxTokens: Number(arg("max-tokens", "48")), temperature: Number(arg("temperature", "1")),
      ...(topP ? { topP: Number(topP) } : {}), seed: SEED, progress: streamProgress(),
    });
    log(`sampled ${written.sources.map((s) => `${s.name} ${s.samples} (${s.bytes} B, ${s.empty} empty)`).join(", ")} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    for (const s of sources) await s.model.close();
  }
}

const WRITE_SAMPLED = arg("write-sampled", "");
const MODELS = arg("models", "");
const TEST_MODELS = arg("test-models", "");
const DEV_MODELS = arg("dev-models", "");
const TEACHER_GAP = arg("teacher-gap", "");
await (WRITE_SAMPLED ? writeSampled(WRITE_SAMPLED) : TEACHER_GAP ? teacherGap(TEACHER_GAP) : TEST_MODELS ? evaluatePaired(TEST_MODELS.split(","), "test") : DEV_MODELS ? evaluatePaired(DEV_MODELS.split(","), "dev") : MODELS ? evaluateFolders(MODELS.split(",")) : RECIPES.every((r) => r.startsWith("online")) ? onlineMain() : main());
