/**
 * `buildZoo`: train and export the embedded zoo. Per family: a BPE tokenizer trained on the
 * corpus, a base trained from scratch on the mixture of all domains, then experts (LoRA on the
 * base, one domain each) and an equal-compute control (the same LoRA training on the mixture).
 * Bases run in parallel lanes first, then the adapted models; after each phase the manifest is
 * rewritten, so a finished base is usable (and committable) while experts train. At the end
 * every exported GGUF is checked against cogen's TypeScript forward pass, and every runtime
 * LoRA adapter against its merged expert, in llama.cpp. Layout: see ZOO_LAYOUT in manifest.ts.
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeFileAtomic } from "../../core/atomic.js";
import { ConfigError, InputFileError } from "../../core/errors.js";
import { llamaConfigToJson } from "../../formats/hf/config.js";
import { trainBpe, tokenizerFiles } from "../bpe-train.js";
import type { Domain } from "../corpora/build.js";
import { buildZooData } from "../corpora/write.js";
import { ITEM_FILES } from "../items/generate.js";
import { toJsonl } from "../items/item.js";
import { randomLlamaConfig } from "../random-llama.js";
import { writeTokenizerFiles } from "../train/export.js";
import { bpeTokenizer } from "../train/tokenize.js";
import { runLanes } from "./lanes.js";
import {
  ZOO_FORMAT, ZOO_ITEM_KINDS, modelsYaml, readZooManifest, specialisation,
  type ZooFamilyEntry, type ZooManifest, type ZooModelEntry,
} from "./manifest.js";
import { ggufParity, loraParity } from "../../models/llamacpp/parity.js";
import type { FamilyPlan, ZooPlan } from "./plan.js";
import type { TrainJob, TrainJobResult } from "./train-job.js";
import { writeUnseenDomain } from "./unseen.js";

export interface BuildZooOptions {
  out: string;
  plan: ZooPlan;
  /** Keep models of a previous (partial) build in `out` that the plan would train identically (default true). */
  resume?: boolean;
  /** Status lines (phases, parity); default: none. */
  log?: (line: string) => void;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

export async function buildZoo(options: BuildZooOptions): Promise<ZooManifest> {
  const { plan } = options;
  const out = path.resolve(options.out);
  const log = options.log ?? (() => {});
  const started = Date.now();
  const previous = await checkOut(out, plan, options.resume ?? true);
  const work = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-zoo-build-"));
  try {
    log(`data: corpora and items (seed ${plan.dataSeed})`);
    const data = await buildZooData({ seed: plan.dataSeed, perDomain: plan.itemsPerDomain });
    const domains = data.corpus.domains;
    const files = await writeTexts(work, domains, plan);
    await fs.mkdir(path.join(out, "items"), { recursive: true });
    for (const kind of ZOO_ITEM_KINDS) await writeFileAtomic(path.join(out, "items", ITEM_FILES[kind]), toJsonl(data.items[kind]));

    const families: ZooFamilyEntry[] = [];
    const tokenizerDirs: string[] = [];
    for (const family of plan.families) {
      const prepared = await prepareFamily(family, domains, plan, work, log);
      families.push(prepared.entry);
      tokenizerDirs.push(prepared.tokenizerDir);
    }

    const manifest: ZooManifest = {
      format: ZOO_FORMAT, kind: plan.kind, complete: false, plan,
      data: {
        seed: plan.dataSeed,
        mixtureHash: sha256(files.mixtureText),
        domains: domains.map((d) => ({ name: d.name, trainBytes: Buffer.byteLength(d.trainText), trainHash: sha256(d.trainText), heldOutRecords: d.heldOut.length })),
      },
      families, models: [],
      items: Object.fromEntries(ZOO_ITEM_KINDS.map((k) => [k, { file: `items/${ITEM_FILES[k]}`, count: data.items[k].length }])) as ZooManifest["items"],
      modelsFile: "models.yaml",
      parity: null, specialisation: null, buildSeconds: 0,
    };
    // A run that only keeps models keeps the time of the build that trained them.
    let trained = previous === undefined;
    const save = async () => {
      manifest.buildSeconds = trained ? Math.round((Date.now() - started) / 1000) : previous!.buildSeconds;
      await writeFileAtomic(path.join(out, "models.yaml"), modelsYaml(manifest));
      await writeFileAtomic(path.join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
    };
    // A model is kept when the same job trained it on the same text with the same tokenizer and,
    // for adapted models, from a kept base: adding a model to the plan retrains nothing else.
    const keptBases = new Set<string>();
    const keep = (job: TrainJob) => previous?.models.find((m) =>
      m.id === job.id && JSON.stringify(m.job) === JSON.stringify(jobKey(job, out)) && m.dataHash === files.hashes.get(job.trainTextFile)
      && previous.families.find((f) => f.name === job.family)?.tokenizer.hash === families.find((f) => f.name === job.family)?.tokenizer.hash
      && (job.role === "base" || keptBases.has(job.family)));

    for (const phase of ["base", "adapt"] as const) {
      const jobs = plan.families.flatMap((f, i) => familyJobs(f, families[i], tokenizerDirs[i], phase, files, out));
      const kept = jobs.map(keep).filter((m): m is ZooModelEntry => m !== undefined);
      const todo = jobs.filter((j) => !keep(j));
      log(`${phase}: ${todo.map((j) => j.id).join(", ") || "nothing to train"}${kept.length ? ` (kept ${kept.map((m) => m.id).join(", ")})` : ""}`);
      const results = todo.length ? await runLanes(todo, plan.lanes, path.join(work, `lanes-${phase}`)) : [];
      if (todo.length) trained = true;
      for (const job of jobs) {
        const done = kept.find((m) => m.id === job.id) ?? modelEntry(job, results.find((r) => r.id === job.id)!, files.hashes, out);
        manifest.models.push(done);
        if (job.role === "base" && kept.includes(done)) keptBases.add(job.family);
      }
      await save();
    }

    log(`parity: llama.cpp vs the TypeScript forward pass (F32), ${manifest.models.length} models`);
    const contexts = parityContexts(domains, plan.parityContexts);
    let maxKl = 0;
    let maxLoraKl = 0;
    for (const model of manifest.models) {
      const dir = path.join(out, model.id);
      model.parity = { maxKl: await ggufParity(path.join(dir, "hf"), path.join(dir, "model.gguf"), contexts), loraMaxKl: null };
      if (model.files.loraGguf) {
        const base = manifest.models.find((m) => m.family === model.family && m.role === "base")!;
        const vocab = families.find((f) => f.name === model.family)!.vocabSize;
        model.parity.loraMaxKl = await loraParity(path.join(out, base.files.gguf), path.join(out, model.files.loraGguf), path.join(dir, "model.gguf"), vocab, contexts);
        maxLoraKl = Math.max(maxLoraKl, model.parity.loraMaxKl);
      }
      maxKl = Math.max(maxKl, model.parity.maxKl);
    }
    manifest.parity = { contexts: contexts.length, maxKl, maxLoraKl, kvCache: "F32" };
    manifest.specialisation = specialisation(manifest.models);
    manifest.complete = true;
    await save();
    log("unseen domain: its train text and held-out items (no model trains on it)");
    manifest.unseen = await writeUnseenDomain(out, { seed: plan.dataSeed, perDomain: plan.itemsPerDomain });
    log(`done: ${manifest.models.length} models, max KL ${maxKl.toExponential(2)}, LoRA max KL ${maxLoraKl.toExponential(2)}, ${manifest.buildSeconds} s`);
    return manifest;
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

/** An existing `out` must be empty or a zoo (then its manifest is returned for resuming). */
async function checkOut(out: string, plan: ZooPlan, resume: boolean): Promise<ZooManifest | undefined> {
  let entries: string[];
  try {
    entries = await fs.readdir(out);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    throw new ConfigError([`--out ${out}: ${code === "ENOTDIR" ? "is a file, not a folder" : `cannot read (${code})`}`]);
  }
  if (entries.length === 0) return undefined;
  let previous: ZooManifest;
  try {
    previous = await readZooManifest(out);
  } catch (error) {
    if (!InputFileError.isInstance(error)) throw error;
    throw new ConfigError([`--out ${out}: the folder exists and is not a zoo (no ${ZOO_FORMAT} manifest.json); choose an empty or new folder`]);
  }
  // Models are matched one by one (see keep); a build of another kind starts afresh.
  return resume && previous.kind === plan.kind ? previous : undefined;
}

interface TextFiles {
  mixture: string;
  mixtureText: string;
  train: Map<string, string>;
  heldOut: { domain: string; file: string }[];
  /** sha256 of each training file's text, by file. */
  hashes: Map<string, string>;
}

async function writeTexts(work: string, domains: readonly Domain[], plan: ZooPlan): Promise<TextFiles> {
  const hashes = new Map<string, string>();
  const write = async (name: string, text: string) => {
    const file = path.join(work, name);
    await fs.writeFile(file, text);
    hashes.set(file, sha256(text));
    return file;
  };
  const mixtureText = domains.map((d) => d.trainText).join("");
  const mixture = await write("mixture.train.txt", mixtureText);
  const train = new Map<string, string>();
  for (const d of domains) train.set(d.name, await write(`${d.name}.train.txt`, d.trainText));
  const heldOut = [];
  for (const d of domains) {
    let text = "";
    for (const r of d.heldOut) {
      if (Buffer.byteLength(text) >= plan.heldOutEvalBytes) break;
      text += r.text + "\n";
    }
    heldOut.push({ domain: d.name, file: await write(`${d.name}.heldout.txt`, text) });
  }
  return { mixture, mixtureText, train, heldOut, hashes };
}

async function prepareFamily(family: FamilyPlan, domains: readonly Domain[], plan: ZooPlan, work: string, log: (l: string) => void): Promise<{ entry: ZooFamilyEntry; tokenizerDir: string }> {
  const sample = domains.map((d) => d.trainText.slice(0, plan.tokenizerSampleBytes)).join("");
  log(`family ${family.name}: ${family.tokenizer.flavour} BPE, ${family.tokenizer.merges} merges on ${Math.round(sample.length / 1000)} KB`);
  const files = tokenizerFiles(trainBpe(sample, family.tokenizer.merges, family.tokenizer.flavour));
  const tokenizer = bpeTokenizer(files);
  const dir = path.join(work, `tokenizer-${family.name}`);
  await fs.mkdir(dir, { recursive: true });
  await writeTokenizerFiles(dir, tokenizer);
  const config = { ...randomLlamaConfig({ ...family.model, vocabSize: tokenizer.size }), maxPositions: family.seqLen };
  const entry: ZooFamilyEntry = {
    name: family.name,
    tokenizer: { ...family.tokenizer, ggufModel: tokenizer.vocab.model, vocabSize: tokenizer.size, hash: sha256(JSON.stringify(files.tokenizer)) },
    vocabSize: tokenizer.size,
    config: llamaConfigToJson(config),
    seqLen: family.seqLen,
    batchSize: family.batchSize,
  };
  return { entry, tokenizerDir: dir };
}

function familyJobs(family: FamilyPlan, entry: ZooFamilyEntry, tokenizerDir: string, phase: "base" | "adapt", files: TextFiles, out: string): TrainJob[] {
  const common = { family: family.name, batchSize: family.batchSize, seqLen: family.seqLen, heldOut: files.heldOut };
  if (phase === "base") {
    return [{
      ...common, id: `${family.name}/base`, role: "base", outDir: path.join(out, family.name, "base"), trainTextFile: files.mixture,
      steps: family.base.steps, lr: family.base.lr, seed: family.base.seed,
      config: entry.config, tokenizerDir,
    }];
  }
  const init = path.join(out, family.name, "base", "hf");
  const adapt = { ...common, steps: family.adapt.steps, lr: family.adapt.lr, lora: family.adapt.lora, init };
  const jobs: TrainJob[] = family.experts.map((domain, i) => ({
    ...adapt, id: `${family.name}/experts/${domain}`, role: "expert" as const, domain, seed: family.base.seed * 100 + i + 1,
    outDir: path.join(out, family.name, "experts", domain), trainTextFile: files.train.get(domain)!,
  }));
  if (family.control) {
    jobs.push({ ...adapt, id: `${family.name}/control`, role: "control", seed: family.base.seed * 100 + 99, outDir: path.join(out, family.name, "control"), trainTextFile: files.mixture });
  }
  if (family.centralised) {
    jobs.push({
      ...adapt, id: `${family.name}/centralised`, role: "centralised", seed: family.base.seed * 100 + 98, steps: family.experts.length * family.adapt.steps,
      outDir: path.join(out, family.name, "centralised"), trainTextFile: files.mixture,
    });
  }
  return jobs;
}

/** What decides a model's weights, for resuming: a kept model must have been trained by the same job. */
function jobKey(job: TrainJob, out: string): Record<string, unknown> {
  const rel = (p: string | undefined) => (p ? path.relative(out, p) : null);
  return {
    steps: job.steps, lr: job.lr, seed: job.seed, batchSize: job.batchSize, seqLen: job.seqLen, lora: job.lora ?? null,
    init: rel(job.init), config: job.config ?? null,
  };
}

function modelEntry(job: TrainJob, result: TrainJobResult, hashes: Map<string, string>, out: string): ZooModelEntry {
  const rel = (name: string) => path.relative(out, path.join(job.outDir, name)).split(path.sep).join("/");
  return {
    id: job.id, family: job.family, role: job.role, domain: job.domain ?? null,
    parent: job.init ? path.relative(out, path.dirname(job.init)).split(path.sep).join("/") : null,
    method: job.lora ? `lora r${job.lora.rank} alpha ${job.lora.alpha} on q/k/v/o/gate/up/down` : "full (from scratch)",
    data: job.role === "expert" ? job.domain! : "mixture", dataHash: hashes.get(job.trainTextFile)!,
    seed: job.seed, steps: job.steps, lr: job.lr, batchSize: job.batchSize, seqLen: job.seqLen,
    trainSeconds: Math.round(result.seconds * 10) / 10, stepsPerSecond: Math.round(result.stepsPerSecond * 100) / 100,
    finalLoss: result.finalLoss, heldOutBpb: result.heldOutBpb,
    files: {
      hf: rel("hf"), gguf: rel("model.gguf"),
      lora: job.lora ? rel("lora") : null, loraGguf: job.lora ? rel("lora.gguf") : null,
    },
    parity: null,
    job: jobKey(job, out),
  };
}

/** Contexts for the parity check: the first held-out lines of the first domains. */
function parityContexts(domains: readonly Domain[], n: number): string[] {
  return domains.slice(0, n).map((d) => d.heldOut[0]?.text.slice(0, 160) ?? d.trainText.slice(0, 160));
}
