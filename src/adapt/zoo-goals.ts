/**
 * issue 12's lora and compose goals, measured on a zoo domain's held-out records (by default the
 * unseen ninth domain, which no zoo model trained on):
 * - `adaptLora` from base-a on the domain's train text with the zoo experts' budget;
 * - `composeAdapters` from the domain's first few train records over the other domains'
 *   adapters (all eight for the unseen domain), against base-a and their uniform average.
 * Every model is base-a's GGUF plus a runtime adapter at a scale, scored by llama.cpp on the same
 * records; differences are paired per record (bits per byte), mean ± standard error.
 * Used by bench/adapt-zoo.ts and the demo's adapt section.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { InputFileError } from "../core/errors.js";
import { silentProgress, type Progress } from "../core/progress.js";
import { forEachJsonlObject } from "../formats/jsonl.js";
import { openAdapterMix, type ScoredText } from "../models/llamacpp/adapter-mix.js";
import { readZooManifest } from "../zoo/build/manifest.js";
import { buildZooData } from "../zoo/corpora/write.js";
import { composeAdapters, type ComposeReport } from "./compose.js";
import { adaptLora, type AdaptLoraReport } from "./lora.js";

export interface AdaptZooGoalsOptions {
  /** The zoo folder (zoo/ of the package). */
  zoo: string;
  /** Default: the zoo's unseen domain. One of the eight may be named (base-a saw it in its mixture). */
  domain?: string;
  /** LoRA training steps (default 200, the zoo experts' budget); 0 skips the LoRA run. */
  steps?: number;
  /** Compose evaluations (default: compose's own, `defaultComposeEvaluations` of the adapters: 320 for eight). */
  evaluations?: number;
  /** Compose examples: the domain's first N train records (default 20). */
  examples?: number;
  /** Held-out records scored (default 80). */
  records?: number;
  l1?: number;
  seed?: number;
  progress?: Progress;
}

export interface PairedDelta {
  mean: number;
  se: number;
  n: number;
}

export interface AdaptZooRow {
  name: string;
  role: "base" | "lora" | "expert" | "uniform" | "compose";
  /** Bits per byte over all records (total bits / total bytes). */
  bpb: number;
  /** Per-record bits per byte minus base-a's. */
  vsBase: PairedDelta;
}

export interface AdaptZooGoalsReport {
  domain: string;
  unseen: boolean;
  records: number;
  rows: AdaptZooRow[];
  /** compose minus the uniform average, per record. */
  composeVsUniform: PairedDelta;
  lora?: Pick<AdaptLoraReport, "stepsRun" | "bestStep" | "heldOutBpbBefore" | "heldOutBpbAfter"> & { seconds: number };
  compose: Pick<ComposeReport, "weights" | "evaluations" | "seconds" | "evaluationsPerSecond" | "examplesBpb"> & { adapters: string[]; examples: number };
}

type PerRecord = { bits: number; bytes: number }[];

/** Paired per-record bits-per-byte difference a − b: mean and standard error. */
export function pairedBpbDelta(a: PerRecord, b: PerRecord): PairedDelta {
  const d = a.map((x, i) => x.bits / x.bytes - b[i].bits / b[i].bytes);
  const mean = d.reduce((s, v) => s + v, 0) / d.length;
  const se = d.length > 1 ? Math.sqrt(d.reduce((s, v) => s + (v - mean) ** 2, 0) / (d.length - 1) / d.length) : NaN;
  return { mean, se, n: d.length };
}

export async function measureAdaptZooGoals(options: AdaptZooGoalsOptions): Promise<AdaptZooGoalsReport> {
  const zoo = path.resolve(options.zoo);
  const progress = options.progress ?? silentProgress;
  const seed = options.seed ?? 1;
  const manifest = await readZooManifest(zoo);
  const domainName = options.domain ?? manifest.unseen?.name;
  if (!domainName) throw new InputFileError(path.join(zoo, "manifest.json"), "the zoo has no unseen domain (run `cogen zoo unseen`) and no domain was named");
  const unseen = manifest.unseen?.name === domainName;
  const eight = manifest.data.domains.map((d) => d.name);
  const domain = unseen ? await readUnseen(zoo, manifest.unseen!) : await readZooDomain(domainName, eight);
  const heldOut: ScoredText[] = domain.heldOut.slice(0, options.records ?? 80).map((text) => ({ context: "", target: text }));
  const baseHf = path.join(zoo, "a/base/hf");
  const baseGguf = path.join(zoo, "a/base/model.gguf");
  const others = eight.filter((d) => d !== domainName);

  const work = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-adapt-zoo-"));
  try {
    const trainFile = path.join(work, "train.jsonl");
    await fs.writeFile(trainFile, domain.train.map((text) => JSON.stringify({ text })).join("\n") + "\n");
    const steps = options.steps ?? 200;
    let lora: AdaptZooGoalsReport["lora"];
    if (steps > 0) {
      const t = Date.now();
      const r = await adaptLora({ base: baseHf, data: trainFile, outDir: path.join(work, "lora"), steps, seed, progress });
      lora = { stepsRun: r.stepsRun, bestStep: r.bestStep, heldOutBpbBefore: r.heldOutBpbBefore, heldOutBpbAfter: r.heldOutBpbAfter, seconds: (Date.now() - t) / 1000 };
    }
    const examples = options.examples ?? 20;
    const examplesFile = path.join(work, "few.jsonl");
    await fs.writeFile(examplesFile, domain.train.slice(0, examples).map((text) => JSON.stringify({ text })).join("\n") + "\n");
    const composed = await composeAdapters({
      base: baseHf, adapters: others.map((d) => path.join(zoo, "a/experts", d, "lora")), examples: examplesFile, outDir: path.join(work, "composed"),
      ...(options.evaluations !== undefined ? { maxEvaluations: options.evaluations } : {}), seed, progress, ...(options.l1 !== undefined ? { l1: options.l1 } : {}),
    });

    const score = async (adapters: string[], scales: number[]): Promise<PerRecord> => {
      const mix = await openAdapterMix(baseGguf, adapters);
      try {
        return (await mix.score(heldOut, scales)).perText;
      } finally {
        await mix.close();
      }
    };
    const composedGguf = path.join(work, "composed/adapter.gguf");
    const scored: [string, AdaptZooRow["role"], PerRecord][] = [["base-a", "base", await score([composedGguf], [0])]];
    if (lora) scored.push([`adapt lora (${lora.stepsRun} steps)`, "lora", await score([path.join(work, "lora/adapter.gguf")], [1])]);
    if (!unseen) scored.push([`zoo expert a-${domainName}`, "expert", await score([path.join(zoo, "a/experts", domainName, "lora.gguf")], [1])]);
    const uniform = await score(others.map((d) => path.join(zoo, "a/experts", d, "lora.gguf")), others.map(() => 1 / others.length));
    scored.push([`uniform average of the ${others.length} adapters`, "uniform", uniform]);
    const composedRecords = await score([composedGguf], [1]);
    scored.push([`adapt compose (${examples} examples)`, "compose", composedRecords]);

    const base = scored[0][2];
    const total = (r: PerRecord) => r.reduce((s, x) => s + x.bits, 0) / r.reduce((s, x) => s + x.bytes, 0);
    return {
      domain: domainName, unseen, records: heldOut.length,
      rows: scored.map(([name, role, r]) => ({ name, role, bpb: total(r), vsBase: pairedBpbDelta(r, base) })),
      composeVsUniform: pairedBpbDelta(composedRecords, uniform),
      ...(lora ? { lora } : {}),
      compose: {
        adapters: others, examples, weights: composed.weights, evaluations: composed.evaluations, seconds: composed.seconds,
        evaluationsPerSecond: composed.evaluationsPerSecond, examplesBpb: composed.examplesBpb,
      },
    };
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

/** The unseen domain as committed: train lines and held-out records. */
async function readUnseen(zoo: string, entry: { trainFile: string; heldOutFile: string }): Promise<{ train: string[]; heldOut: string[] }> {
  const heldOutFile = path.join(zoo, entry.heldOutFile);
  const heldOut: string[] = [];
  forEachJsonlObject(await fs.readFile(heldOutFile, "utf8"), heldOutFile, "held-out record", (record, line) => {
    if (typeof record.text !== "string") throw new InputFileError(heldOutFile, "expected a string field 'text'", line);
    heldOut.push(record.text);
  });
  const train = (await fs.readFile(path.join(zoo, entry.trainFile), "utf8")).split("\n").filter((l) => l !== "");
  return { train, heldOut };
}

/** One of the eight domains, rebuilt from the zoo's corpora. */
async function readZooDomain(name: string, eight: string[]): Promise<{ train: string[]; heldOut: string[] }> {
  const data = await buildZooData({ seed: 0, perDomain: 8 });
  const domain = data.corpus.domains.find((d) => d.name === name);
  if (!domain) throw new InputFileError("zoo/manifest.json", `no zoo domain '${name}' (the unseen one or one of: ${eight.join(", ")})`);
  return { train: domain.train.map((r) => r.text), heldOut: domain.heldOut.map((r) => r.text) };
}
