/**
 * The zoo's manifest (zoo/manifest.json) and the files derived from it. Layout of a zoo folder:
 *
 *   manifest.json                       this manifest (format cogen-zoo/1)
 *   models.yaml                         a models file (src/formats/models-file.ts) with every model's GGUF
 *   items/<kind>.jsonl                  held-out evaluation items (src/formats/tasks.ts)
 *   <family>/base/                      base of a family (a, b), trained from scratch on the mixture
 *   <family>/experts/<domain>/          expert: LoRA on the base, trained on one domain
 *   <family>/control/                   equal-compute control: the same LoRA training on the mixture
 * and in every model folder: hf/ (HF folder, F32, LoRA merged), model.gguf (F32), and for LoRA
 * models lora/ (PEFT adapter) and lora.gguf (llama.cpp runtime adapter for the base's model.gguf).
 */
import * as path from "node:path";
import { InputFileError } from "../../core/errors.js";
import { readTextFile } from "../../core/files.js";
import type { ItemKind } from "../items/generate.js";
import type { ModelRole } from "./train-job.js";
import type { ZooPlan } from "./plan.js";
import type { UnseenDomainEntry } from "./unseen.js";

export const ZOO_FORMAT = "cogen-zoo/1";
export const DEFAULT_ZOO_DIR = "zoo";
/** Item kinds the zoo carries. */
export const ZOO_ITEM_KINDS: readonly ItemKind[] = ["continuation", "cloze", "definition", "bitsPerByte"];

export interface ZooFamilyEntry {
  name: string;
  tokenizer: { flavour: string; merges: number; ggufModel: string; vocabSize: number; hash: string };
  vocabSize: number;
  /** The config.json every model of the family shares. */
  config: Record<string, unknown>;
  seqLen: number;
  batchSize: number;
}

export interface ZooModelEntry {
  /** Also the model's folder relative to the zoo: "a/base", "a/experts/law", "a/control". */
  id: string;
  family: string;
  role: ModelRole;
  domain: string | null;
  /** The folder of the model it was adapted from. */
  parent: string | null;
  method: string;
  /** "mixture" or the domain trained on, and the sha256 of that training text. */
  data: string;
  dataHash: string;
  seed: number;
  steps: number;
  lr: number;
  batchSize: number;
  seqLen: number;
  trainSeconds: number;
  stepsPerSecond: number;
  /** Mean training loss over the last 10% of steps (nats per token). */
  finalLoss: number;
  /** Held-out bits per byte per domain (trainer's forward pass, first heldOutEvalBytes of each domain). */
  heldOutBpb: Record<string, number>;
  /** Paths relative to the zoo folder. */
  files: { hf: string; gguf: string; lora: string | null; loraGguf: string | null };
  /** Max KL (nats) of llama.cpp vs the TS forward pass, and of base + runtime LoRA vs the merged GGUF. */
  parity: { maxKl: number; loraMaxKl: number | null } | null;
  /** What decided the weights (used to resume a build). */
  job: Record<string, unknown>;
}

export interface SpecialisationRow {
  family: string;
  domain: string;
  expert: number;
  /** The equal-compute control (null for families without one) and the base. */
  control: number | null;
  base: number;
  /** Best other expert of the family on this domain. */
  bestOtherExpert: number | null;
  /** expert < control, and expert < every other expert of the family on this domain. */
  beatsControl: boolean | null;
  beatsOtherExperts: boolean;
}

export interface ZooManifest {
  format: typeof ZOO_FORMAT;
  kind: "full" | "quick";
  /** False while a build is in progress (models so far are listed). */
  complete: boolean;
  plan: ZooPlan;
  data: { seed: number; mixtureHash: string; domains: { name: string; trainBytes: number; trainHash: string; heldOutRecords: number }[] };
  families: ZooFamilyEntry[];
  models: ZooModelEntry[];
  items: Record<ItemKind, { file: string; count: number }>;
  modelsFile: string;
  parity: { contexts: number; maxKl: number; maxLoraKl: number; kvCache: "F32" } | null;
  specialisation: SpecialisationRow[] | null;
  buildSeconds: number;
  /** The ninth domain, on which no zoo model trained (src/zoo/build/unseen.ts). */
  unseen?: UnseenDomainEntry;
}

export async function readZooManifest(dir: string): Promise<ZooManifest> {
  const file = path.join(dir, "manifest.json");
  const text = await readTextFile(file, "build a zoo with 'cogen zoo build'");
  let manifest: ZooManifest;
  try {
    manifest = JSON.parse(text) as ZooManifest;
  } catch (error) {
    throw new InputFileError(file, `not valid JSON: ${(error as Error).message}`);
  }
  if (manifest === null || typeof manifest !== "object" || manifest.format !== ZOO_FORMAT) {
    throw new InputFileError(file, `not a zoo manifest (format must be "${ZOO_FORMAT}")`);
  }
  if (!Array.isArray(manifest.models) || !Array.isArray(manifest.families)) throw new InputFileError(file, "models and families must be lists");
  return manifest;
}

/** The model id used in results and models files: "a/experts/law" → "a-expert-law". */
export function modelName(model: Pick<ZooModelEntry, "family" | "role" | "domain">): string {
  return model.role === "expert" ? `${model.family}-expert-${model.domain}` : `${model.family}-${model.role}`;
}

/** A models file listing every model's merged GGUF (paths relative to the zoo folder). */
export function modelsYaml(manifest: ZooManifest): string {
  const lines = [`# cogen zoo (${manifest.kind} build): every model as a llama.cpp expert. Generated by 'cogen zoo build'.`, "experts:"];
  for (const m of manifest.models) {
    const family = manifest.families.find((f) => f.name === m.family);
    lines.push(`  - id: ${modelName(m)}`, "    backend: llamacpp", `    path: ./${m.files.gguf}`);
    if (family) lines.push(`    context_size: ${family.seqLen}`);
    lines.push("    threads: 1", `    domains: [${m.domain ?? ""}]`, `    tags: [family-${m.family}, ${m.role}]`);
  }
  return lines.join("\n") + "\n";
}

/** Each expert on its own domain against the control, the base and the family's other experts. */
export function specialisation(models: readonly ZooModelEntry[]): SpecialisationRow[] {
  const rows: SpecialisationRow[] = [];
  for (const expert of models.filter((m) => m.role === "expert")) {
    const domain = expert.domain!;
    const same = models.filter((m) => m.family === expert.family);
    const control = same.find((m) => m.role === "control");
    const base = same.find((m) => m.role === "base")!;
    const others = same.filter((m) => m.role === "expert" && m.id !== expert.id).map((m) => m.heldOutBpb[domain]);
    const own = expert.heldOutBpb[domain];
    rows.push({
      family: expert.family, domain, expert: own,
      control: control ? control.heldOutBpb[domain] : null, base: base.heldOutBpb[domain],
      bestOtherExpert: others.length ? Math.min(...others) : null,
      beatsControl: control ? own < control.heldOutBpb[domain] : null,
      beatsOtherExperts: others.every((o) => own < o),
    });
  }
  return rows;
}
