/**
 * The zoo's distilled pivots, built after the zoo's experts (`cogen zoo build` runs this last):
 *
 *   pivots/all/        base-a + LoRA distilled from all 11 experts (both tokenizer families)
 *   pivots/control/    the CLM control: the same pivot, texts, batches, steps and seed, λ = 1
 *   pivots/family-b/   distilled from the 3 family-B experts alone (another tokenizer and shape;
 *                      online across tokenizers when the plan's online.familyB says so)
 *   pivots/fpo/        pivots/all after InfiFPO on cloze pairs made from TRAINING lines
 *   pivots/sampled/    online, as pivots/all, on the training text plus the experts' sampled
 *                      transfer text (pivots/sampled-text/, committed, hash-checked), every
 *                      window taught by its domain's expert (when the plan's online.sampled says so)
 *   pivots/sampled-control/  its control: the same stream at λ = 1 (hard labels on the same text)
 *   pivots/wide-sampled/  the sampled pivot's stream and steps, trained in full from a widening of
 *                      its start (src/zoo/train/widen.ts; when the plan's online.wide says so)
 *   pivots/wide-sampled-control/  its control: the same wide start and stream at λ = 1
 *   pivots/manifest.json  what was built, from what, how long it took, parity
 *
 * Training texts are runs of consecutive training lines of each domain (seeded starts), packed
 * while they fit `maxTokens` in the pivot's and every teacher's tokenisation. Targets come from
 * the experts' own forward passes (teacher-targets.ts). Everything is a function of the plan and
 * the zoo's manifest: a rebuild gives the same bytes, and models whose job is unchanged are kept.
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { exists, writeFileAtomic } from "../../core/atomic.js";
import { ConfigError, InputFileError } from "../../core/errors.js";
import { readOptionalJsonObject } from "../../core/json-file.js";
import { silentProgress, type Progress } from "../../core/progress.js";
import { Rng, seedFromLabel } from "../../core/rng.js";
import { buildCorpus } from "../../zoo/corpora/build.js";
import { readZooManifest, type ZooManifest } from "../../zoo/build/manifest.js";
import { readBpeTokenizer, type BpeTokenizer } from "../../zoo/train/tokenize.js";
import type { FpoRecord, FpoUnit } from "./fpo-objective.js";
import type { PivotTargets } from "./pivot-targets.js";
import { domainPriors } from "./priors.js";
import type { CrossFusion, OnlinePart } from "./online-kd-objective.js";
import { disposeTeacher, loadTeacher, teacherTargets, teacherViews, type Teacher } from "./teacher-targets.js";
import type { SampledCorpusManifest } from "./sampled-corpus.js";
import { trainPivot, type TrainPivotResult } from "./train-pivot.js";
import { widenHfModel } from "../../zoo/train/widen.js";
import { zooFpoRecords, type ZooFpoReference } from "./zoo-fpo.js";

export interface ZooPivotsPlan {
  /** The pivot: this family's base. */
  pivotFamily: string;
  seed: number;
  textsPerDomain: number;
  /** Most tokens of a training text in any tokenisation (≤ every model's context). */
  maxTokens: number;
  /** Candidates per position. */
  k: number;
  /**
   * Which teachers a text listens to: "domain" — the experts of the text's domain (every teacher
   * where none covers it), the router's knowledge; "min-ce" — every teacher, weighted by its bits
   * per byte on the text (FuseLLM's MinCE / AvgCE), which on training lines rewards memory.
   */
  teachers: "domain" | "min-ce";
  /** Which fusion targets the kd pivots learn from. */
  fusion: "aligned" | "uld" | "both";
  kd: { steps: number; batchSize: number; seqLen: number; lr: number; lambda: number; lora: { rank: number; alpha: number } };
  /**
   * Train pivots/all and pivots/control by online distillation (online-kd-objective.ts) instead of
   * on the packed texts' precomputed targets: seeded windows of the pivot family's training
   * mixture (each domain's training text in turn, as the zoo's control and centralised models
   * train), each window also distilled from that family's expert of its domain; the control is
   * the same run at λ = 1. `init` is the zoo model both start from (e.g. "a/centralised").
   * `familyB` trains pivots/family-b the same way — the control's run, with the other family's
   * experts teaching the windows of their domains across tokenizers (the rest train on CLM alone)
   * — at its own λ and cross-tokenizer targets; without it pivots/family-b stays on precomputed targets.
   */
  online?: {
    init: string; seed: number; steps: number; batchSize: number; seqLen: number; lr: number; lambda: number; k: number; lora: { rank: number; alpha: number };
    familyB?: { lambda: number; fusion: CrossFusion; gate?: "min-ce" };
    sampled?: ZooSampledText;
    wide?: ZooWidePivot;
  };
  /**
   * The FPO pivot (zoo-fpo.ts): `pairsPerDomain` training cloze sentences per domain, each giving
   * `distractors` pairs (default 1); ℓ normalised per `unit` (default token); the reference fused
   * by `reference` (default prompt). `packing` 2: pairs are packed (and their reference scored)
   * starting as src/formats/sequence-start.ts says, as the cloze test scores them; a plan without
   * it was built when the packing put BOS first always, so it differs and the pivot is rebuilt.
   */
  fpo: {
    pairsPerDomain: number; distractors?: number; unit?: FpoUnit; reference?: ZooFpoReference; packing?: 2;
    steps: number; batchSize: number; seqLen: number; lr: number; beta: number; lambda: number; lora: { rank: number; alpha: number };
  };
  /** Texts for the llama.cpp parity check of each export. */
  parityContexts: number;
}

/**
 * pivots/sampled's transfer text: a writeSampledCorpus folder (`cogen distill sample`), committed
 * rather than sampled at build time (llama.cpp's float sums may differ across CPUs, and so the
 * samples). `dir` is relative to the zoo; `sha256` pins every file of it, the manifest included.
 */
export interface ZooSampledText {
  dir: string;
  /** The transfer text this many times over in the stream (its share of the windows). */
  repeat: number;
  sha256: Record<string, string>;
}

/**
 * pivots/wide-sampled: online.init widened function-preservingly (FFN width, heads, layers; the new
 * weights seeded by online.seed) and fully fine-tuned, at its own lr and λ, on pivots/sampled's
 * stream, steps and batches. Its control is the same run at λ = 1.
 */
export interface ZooWidePivot {
  intermediateSize: number;
  numHeads: number;
  numLayers: number;
  lr: number;
  lambda: number;
}

/** zoo/pivots/sampled-text: `bench/distill-recipes.ts --write-sampled DIR --family a --samples 1500 --seed 199`. */
const ZOO_SAMPLED_TEXT: ZooSampledText = {
  dir: "pivots/sampled-text",
  repeat: 4,
  sha256: {
    "manifest.json": "40d84816712f440cab2a9270a1b83aa50f087c751e12ed5dbe97078b9486e010",
    "medicine.txt": "f99be8154ede09fc640e50acde755a38cd47c72605873c84aa79156b50f31661",
    "law.txt": "d681f640d0aebf8cac80d182b5264d6cc955a82410da9d541c01a99b52a3113f",
    "finance.txt": "3be24d39d5c11fb6723eaaaa21c47cba26f1fed43e1db6cdb496ac13e3a9b302",
    "computing.txt": "787f05049e372674304874c6e9bfd0ee2e3ef2831c71f581bbe6e68ac1e66997",
    "geography.txt": "3788de2e2b688978ba62dfeb88dbe0ddbe7eb6ef3c75037d3b6ed4fa35d62171",
    "biology.txt": "96e693bd9a0010b0509f3f62466a24b42be256343f82fefd84948b7a196078a5",
    "food.txt": "88fe9c5c7d4179c7c0bddc5e1673f9a59d3bc2be0fe5270dde80851deb7b0051",
    "people.txt": "6014ce655afb975bfa7968e3c1cd92ed039a2b1a20c1da4bf9177ce37e32ce42",
  },
};

export function zooPivotsPlan(kind: "full" | "quick"): ZooPivotsPlan {
  if (kind === "quick") {
    return {
      pivotFamily: "a", seed: 7, textsPerDomain: 4, maxTokens: 30, k: 4, parityContexts: 1, teachers: "domain", fusion: "aligned",
      kd: { steps: 3, batchSize: 2, seqLen: 32, lr: 4e-3, lambda: 0.5, lora: { rank: 2, alpha: 2 } },
      fpo: { pairsPerDomain: 2, packing: 2, steps: 2, batchSize: 2, seqLen: 48, lr: 2e-3, beta: 2, lambda: 0, lora: { rank: 2, alpha: 2 } },
    };
  }
  // Step counts sized for the shared 2-core machine (docs/ARCHITECTURE.md, fuse: distillation).
  return {
    pivotFamily: "a", seed: 7, textsPerDomain: 120, maxTokens: 64, k: 8, parityContexts: 3, teachers: "min-ce", fusion: "both",
    kd: { steps: 150, batchSize: 16, seqLen: 64, lr: 4e-3, lambda: 0.5, lora: { rank: 16, alpha: 16 } },
    // The recipe chosen on the dev measure (bench/distill-recipes.ts --recipes online-control,online-domain --init a/centralised).
    // familyB: the best cross-tokenizer recipe on the dev measure (bench/distill-recipes.ts --recipes online-b --lambda 0.5 …).
    // sampled: the recipe online-sampled-domain --sampled-repeat 4 (docs/ARCHITECTURE.md, fuse: distillation).
    online: {
      init: "a/centralised", seed: 199, steps: 200, batchSize: 16, seqLen: 64, lr: 2e-3, lambda: 0.2, k: 8, lora: { rank: 16, alpha: 16 }, familyB: { lambda: 0.5, fusion: "aligned" },
      sampled: ZOO_SAMPLED_TEXT,
      // wide: the sampled recipe on a/centralised widened (bench/distill-recipes.ts --recipes online-sampled-domain
      // --widen ff=1408,heads=8,layers=3 --full --lr 1e-3 --lambda L …; docs/ARCHITECTURE.md, fuse: distillation).
      wide: { intermediateSize: 1408, numHeads: 8, numLayers: 3, lr: 1e-3, lambda: 0.2 },
    },
    // The best FPO recipe on the demo's DEV cloze items (bench/fpo-cloze.ts; docs/ARCHITECTURE.md: none beats the pivot there).
    fpo: {
      pairsPerDomain: 120, distractors: 3, unit: "byte", reference: "domain", packing: 2,
      steps: 60, batchSize: 8, seqLen: 64, lr: 2e-3, beta: 20, lambda: 0, lora: { rank: 16, alpha: 16 },
    },
  };
}

export const ZOO_PIVOTS_FORMAT = "cogen-zoo-pivots/1";
export const ZOO_PIVOTS_DIR = "pivots";

export type PivotRole = "pivot" | "pivot-control" | "pivot-family-b" | "pivot-fpo" | "pivot-sampled" | "pivot-sampled-control" | "pivot-wide-sampled" | "pivot-wide-sampled-control";

export interface ZooPivotEntry {
  /** Folder relative to the zoo: "pivots/all". */
  id: string;
  role: PivotRole;
  /** Ids of the teachers (zoo model ids) whose targets it learned from; none for the control. */
  teachers: string[];
  objective: "kd" | "online-kd" | "fpo";
  lambda: number;
  /** The folder it was trained from, relative to the zoo. */
  init: string;
  method: string;
  steps: number;
  trainSeconds: number;
  stepsPerSecond: number;
  finalLoss: number;
  /** lora and loraGguf are null for a full fine-tune (the wide pivots). */
  files: { hf: string; gguf: string; lora: string | null; loraGguf: string | null };
  parity: { maxKl: number; loraMaxKl: number | null } | null;
  /** What decided the weights (a rebuild keeps the model when this is unchanged). */
  job: Record<string, unknown>;
}

export interface ZooPivotsManifest {
  format: typeof ZOO_PIVOTS_FORMAT;
  plan: ZooPivotsPlan;
  /** sha256 of what decided the teachers and the pivot (their zoo jobs and data hashes). */
  sources: string;
  texts: { count: number; hash: string; skipped: number };
  prefs: { count: number; hash: string };
  targetSeconds: number;
  models: ZooPivotEntry[];
}

export interface BuildZooPivotsOptions {
  zoo: string;
  plan: ZooPivotsPlan;
  /** Default: <zoo>/pivots. */
  out?: string;
  log?: (line: string) => void;
  progress?: Progress;
  /**
   * Train only these kd pivots ("all", "control", "family-b") to their checkpoints and return
   * without a manifest: a second process does this beside the build (one per core), and the
   * build then resumes each finished checkpoint instead of training it again (same bits).
   */
  checkpointsOnly?: string[];
}

export async function buildZooPivots(options: BuildZooPivotsOptions): Promise<ZooPivotsManifest> {
  const { plan } = options;
  const zoo = path.resolve(options.zoo);
  const out = path.resolve(options.out ?? path.join(zoo, ZOO_PIVOTS_DIR));
  const log = options.log ?? (() => {});
  const progress = options.progress ?? silentProgress;
  const manifest = await readZooManifest(zoo);
  if (!manifest.complete) throw new ConfigError([`${zoo}: the zoo build is not complete; pivots are distilled from its finished experts`]);
  const base = manifest.models.find((m) => m.family === plan.pivotFamily && m.role === "base");
  if (!base) throw new ConfigError([`${zoo}: no base of family ${plan.pivotFamily} to use as the pivot`]);
  const pivotDir = path.join(zoo, base.files.hf);
  const experts = manifest.models.filter((m) => m.role === "expert");
  // The committed transfer text is checked before any model loads or trains.
  if (plan.online?.wide && !plan.online.sampled) throw new ConfigError(["the pivots plan's online.wide trains on the sampled text: it needs online.sampled too"]);
  const sampledText = plan.online?.sampled ? await readZooSampledText(zoo, plan.online.sampled) : undefined;
  for (const source of sampledText ?? []) {
    if (!experts.some((e) => e.id === source.model)) {
      throw new InputFileError(path.resolve(zoo, plan.online!.sampled!.dir, "manifest.json"), `source ${source.name} was sampled by ${source.model}, which is not an expert of the zoo`);
    }
  }
  // An unreadable earlier manifest means nothing is reused: every pivot is trained again.
  const previous = await readZooPivotsManifest(out).catch((error: unknown) => {
    if (InputFileError.isInstance(error)) return undefined;
    throw error;
  });

  log(`pivots: data (seed ${manifest.data.seed}), ${experts.length} teachers`);
  const lines = await trainingLines(manifest);
  const pivot = await readBpeTokenizer(pivotDir);
  const teachers: Teacher[] = [];
  try {
    for (const e of experts) teachers.push(await loadTeacher(path.join(zoo, e.files.hf), e.id));
    const { texts, skipped } = packTexts(lines, [pivot, ...teachers.map((t) => t.tokenizer)], plan);
    const textsHash = sha256(texts.map((t) => t.text).join("\u0000"));
    const sources = sha256(JSON.stringify([base, ...experts].map((m) => [m.id, m.job, m.dataHash])));
    // Nothing changed since the last build: keep it without recomputing targets and pairs.
    if (previous && previous.sources === sources && previous.texts.hash === textsHash && JSON.stringify(previous.plan) === JSON.stringify(plan)
      && previous.models.length === 4 + (sampledText ? 2 : 0) + (plan.online?.wide ? 2 : 0) && (await Promise.all(previous.models.map((m) => exists(path.join(zoo, m.files.gguf))))).every(Boolean)) {
      log(`pivots: kept ${previous.models.map((m) => m.id).join(", ")}`);
      return previous;
    }
    const familyB = teachers.filter((t) => experts.find((e) => e.id === t.id)!.family !== plan.pivotFamily);
    const domains = teachers.map((t) => experts.find((e) => e.id === t.id)!.domain ?? "");
    // Targets are computed only when a pivot that learns from them is trained (not kept).
    let targets: { all: PivotTargets[]; fromB: PivotTargets[]; seconds: number } | undefined;
    const computeTargets = () => {
      const started = Date.now();
      progress.start("distillation targets", texts.length, "texts");
      const all: PivotTargets[] = [];
      const fromB: PivotTargets[] = [];
      const domainsB = familyB.map((t) => domains[teachers.indexOf(t)]!);
      for (const { domain, text } of texts) {
        const priors = teacherPriors(plan.teachers, domain, domains);
        const priorsB = teacherPriors(plan.teachers, domain, domainsB);
        // Each teacher runs once, when either pivot listens to it on this text.
        const views = teacherViews(text, teachers, plan.k, teachers.map((t, i) => Math.max(priors[i]!, priorsB[familyB.indexOf(t)] ?? 0)));
        all.push(teacherTargets(text, pivot, teachers, { ...fusionOptions(plan), priors }, views));
        fromB.push(teacherTargets(text, pivot, familyB, { ...fusionOptions(plan), priors: priorsB }, familyB.map((t) => views[teachers.indexOf(t)])));
        progress.tick(1);
        if (all.length % 100 === 0) log(`pivots: targets ${all.length}/${texts.length}`);
      }
      progress.done();
      const seconds = (Date.now() - started) / 1000;
      log(`pivots: targets for ${texts.length} texts (${skipped} lines skipped) from ${teachers.length} teachers in ${seconds.toFixed(0)} s`);
      return (targets = { all, fromB, seconds });
    };
    const helper = options.checkpointsOnly;
    // Preference pairs are a function of the sources, the seed and the FPO plan: an earlier
    // build's hash stands for them unchanged, and they are made only when the FPO pivot trains.
    let records: FpoRecord[] | undefined = helper ? [] : undefined;
    const { pairsPerDomain, distractors, unit, reference } = plan.fpo;
    const recordsOf = async () => (records ??= await zooFpoRecords(lines, teachers, domains, { seed: plan.seed, perDomain: pairsPerDomain, distractors, unit, reference }));
    const prefsKept = previous && previous.sources === sources && previous.plan.seed === plan.seed && JSON.stringify(previous.plan.fpo) === JSON.stringify(plan.fpo);
    const result: ZooPivotsManifest = {
      format: ZOO_PIVOTS_FORMAT, plan, sources,
      texts: { count: texts.length, hash: textsHash, skipped },
      prefs: prefsKept ? previous.prefs : { count: (await recordsOf()).length, hash: sha256(JSON.stringify(await recordsOf())) },
      targetSeconds: previous?.targetSeconds ?? 0, models: [],
    };
    // Online pivots: the pivot family's training mixture, one part per domain, each with its expert.
    const online = plan.online;
    const onlineInit = online ? zooModelDir(zoo, manifest, online.init) : undefined;
    const onlineParts = online ? await onlinePartsOf(manifest, plan.pivotFamily, teachers) : [];
    // The family-B pivot online: the same stream, each domain taught by the other family's expert of it.
    const onlineB = online?.familyB;
    const onlinePartsB = onlineB ? await onlinePartsOf(manifest, experts.find((e) => e.family !== plan.pivotFamily)?.family ?? "", teachers) : [];
    const onlineHash = sha256(onlineParts.map((p) => p.text).join("\u0000"));
    // pivots/sampled's stream: the training text, then each expert's sampled text `repeat` times over, taught by that expert.
    const sampledParts: OnlinePart[] = (sampledText ?? []).map((s) => ({ name: `sampled ${s.name}`, text: s.text.repeat(online!.sampled!.repeat), teacher: teachers.find((t) => t.id === s.model) }));
    const sampledStream = [...onlineParts, ...sampledParts];
    const sampledHash = sha256(sampledStream.map((p) => p.text).join("\u0000"));
    const contexts = texts.slice(0, plan.parityContexts).map((t) => t.text);
    const rel = (p: string) => path.relative(zoo, p).split(path.sep).join("/");
    const ids = teachers.map((t) => t.id);
    // onSampled: trains on the training text plus the sampled text; wide: trained in full from the widening of init that online.wide describes.
    type Spec = { name: string; role: PivotRole; teachers: string[]; objective: "kd" | "online-kd" | "fpo"; targets?: () => PivotTargets[]; lambda: number; init: string; onSampled?: true; wide?: ZooWidePivot };
    const sampledTeachers = sampledStream.flatMap((p) => (p.teacher ? [p.teacher.id] : []));
    const allTargets = () => (targets ?? computeTargets()).all;
    const onlineTeachers = onlineParts.flatMap((p) => (p.teacher ? [p.teacher.id] : []));
    const specs: Spec[] = [
      online
        ? { name: "all", role: "pivot", teachers: onlineTeachers, objective: "online-kd", lambda: online.lambda, init: onlineInit! }
        : { name: "all", role: "pivot", teachers: ids, objective: "kd", targets: allTargets, lambda: plan.kd.lambda, init: pivotDir },
      online
        ? { name: "control", role: "pivot-control", teachers: [], objective: "online-kd", lambda: 1, init: onlineInit! }
        : { name: "control", role: "pivot-control", teachers: [], objective: "kd", targets: allTargets, lambda: 1, init: pivotDir },
      onlineB
        ? { name: "family-b", role: "pivot-family-b", teachers: onlinePartsB.flatMap((p) => (p.teacher ? [p.teacher.id] : [])), objective: "online-kd", lambda: onlineB.lambda, init: onlineInit! }
        : { name: "family-b", role: "pivot-family-b", teachers: familyB.map((t) => t.id), objective: "kd", targets: () => (targets ?? computeTargets()).fromB, lambda: plan.kd.lambda, init: pivotDir },
      { name: "fpo", role: "pivot-fpo", teachers: ids, objective: "fpo", lambda: plan.fpo.lambda, init: path.join(out, "all", "hf") },
      ...(sampledText
        ? [
          { name: "sampled", role: "pivot-sampled", teachers: sampledTeachers, objective: "online-kd", lambda: online!.lambda, init: onlineInit!, onSampled: true },
          { name: "sampled-control", role: "pivot-sampled-control", teachers: [], objective: "online-kd", lambda: 1, init: onlineInit!, onSampled: true },
        ] satisfies Spec[]
        : []),
      ...(sampledText && online!.wide
        ? [
          { name: "wide-sampled", role: "pivot-wide-sampled", teachers: sampledTeachers, objective: "online-kd", lambda: online!.wide.lambda, init: onlineInit!, onSampled: true, wide: online!.wide },
          { name: "wide-sampled-control", role: "pivot-wide-sampled-control", teachers: [], objective: "online-kd", lambda: 1, init: onlineInit!, onSampled: true, wide: online!.wide },
        ] satisfies Spec[]
        : []),
    ];
    const recipeOf = (spec: Spec): { steps: number; batchSize: number; seqLen: number; lr: number; lora?: { rank: number; alpha: number } } =>
      spec.wide ? { ...online!, lr: spec.wide.lr, lora: undefined } : spec.objective === "fpo" ? plan.fpo : spec.objective === "online-kd" ? online! : plan.kd;
    // The wide pivots' start: init widened (seeded by the online seed) into a scratch folder under out, removed
    // after training. Its path is fixed: a checkpoint records its init, and a resumed run must name the same one.
    const startOf = async (spec: Spec): Promise<{ dir: string; done: () => Promise<void> }> => {
      if (!spec.wide) return { dir: spec.init, done: async () => {} };
      const scratch = path.join(out, `.${spec.name}-start`);
      const { intermediateSize, numHeads, numLayers } = spec.wide;
      await widenHfModel(spec.init, path.join(scratch, "hf"), { intermediateSize, numHeads, numLayers, seed: online!.seed });
      return { dir: path.join(scratch, "hf"), done: () => fs.rm(scratch, { recursive: true, force: true }) };
    };
    const seedOf = (spec: Spec) => (spec.objective === "online-kd" ? online!.seed : plan.seed);
    // The control runs no teacher (λ = 1): its parts carry none, so nothing is loaded into its key.
    const onlineOf = (spec: Spec) => {
      if (spec.objective !== "online-kd") return undefined;
      if (spec.name === "family-b") return { parts: onlinePartsB, k: online!.k, crossFusion: onlineB!.fusion, crossGate: onlineB!.gate };
      const parts = spec.onSampled ? sampledStream : onlineParts;
      return { parts: spec.lambda === 1 ? parts.map((p) => ({ ...p, teacher: undefined })) : parts, k: online!.k };
    };
    for (const spec of specs) {
      const dir = path.join(out, spec.name);
      const checkpointDir = path.join(dir, "checkpoint");
      if (helper) {
        if (!helper.includes(spec.name) || spec.objective === "fpo") continue;
        const recipe = recipeOf(spec);
        log(`pivots: training ${rel(dir)} to its checkpoint (${recipe.steps} steps)`);
        const scratch = await fs.mkdtemp(path.join(out, `.${spec.name}-helper-`));
        const start = await startOf(spec);
        try {
          await trainPivot({
            pivot: start.dir, out: scratch, objective: spec.objective, targets: spec.targets?.(), online: onlineOf(spec), lambda: spec.lambda, lora: recipe.lora,
            steps: recipe.steps, batchSize: recipe.batchSize, seqLen: recipe.seqLen, lr: recipe.lr, seed: seedOf(spec), checkpointDir, checkpointEvery: CHECKPOINT_EVERY, progress,
          });
        } finally {
          await fs.rm(scratch, { recursive: true, force: true });
          await start.done();
        }
        continue;
      }
      const recipe = recipeOf(spec);
      const job = {
        objective: spec.objective, lambda: spec.lambda, teachers: spec.teachers, init: rel(spec.init), seed: seedOf(spec),
        steps: recipe.steps, batchSize: recipe.batchSize, seqLen: recipe.seqLen, lr: recipe.lr, lora: recipe.lora,
        data: spec.objective === "kd" ? textsHash : spec.onSampled ? sampledHash : spec.objective === "online-kd" ? onlineHash : result.prefs.hash,
        k: spec.objective === "online-kd" ? online!.k : plan.k, ...(spec.objective === "fpo" ? { beta: plan.fpo.beta, ...(plan.fpo.unit ? { unit: plan.fpo.unit } : {}), after: previousJob(result, rel(path.join(out, "all"))) } : {}),
        ...(spec.objective === "online-kd" && spec.name === "family-b" ? { crossFusion: onlineB!.fusion, ...(onlineB!.gate ? { crossGate: onlineB!.gate } : {}) } : {}),
        ...(spec.wide ? { widen: { intermediateSize: spec.wide.intermediateSize, numHeads: spec.wide.numHeads, numLayers: spec.wide.numLayers } } : {}),
      };
      const kept = previous?.models.find((m) => m.id === rel(dir) && JSON.stringify(m.job) === JSON.stringify(job));
      if (kept && (await exists(path.join(zoo, kept.files.gguf)))) {
        log(`pivots: ${kept.id} kept`);
        result.models.push(kept);
        continue;
      }
      log(`pivots: training ${rel(dir)} (${spec.objective}, λ ${spec.lambda}, ${recipe.steps} steps)`);
      const start = await startOf(spec);
      const trained: TrainPivotResult = await trainPivot({
        pivot: start.dir, out: dir, objective: spec.objective, targets: spec.targets?.(), online: onlineOf(spec), records: spec.objective === "fpo" ? await recordsOf() : undefined, unit: spec.objective === "fpo" ? unit : undefined, lambda: spec.lambda, lora: recipe.lora,
        steps: recipe.steps, batchSize: recipe.batchSize, seqLen: recipe.seqLen, lr: recipe.lr, seed: seedOf(spec),
        beta: plan.fpo.beta, parityContexts: contexts, progress, checkpointDir, checkpointEvery: CHECKPOINT_EVERY,
      }).finally(start.done);
      await fs.rm(checkpointDir, { recursive: true, force: true });
      result.models.push({
        id: rel(dir), role: spec.role, teachers: spec.teachers, objective: spec.objective, lambda: spec.lambda, init: rel(spec.init),
        method: recipe.lora ? `lora r${recipe.lora.rank} alpha ${recipe.lora.alpha} on q/k/v/o/gate/up/down` : `full fine-tune of ${rel(spec.init)} widened to ff ${spec.wide!.intermediateSize}, ${spec.wide!.numHeads} heads, ${spec.wide!.numLayers} layers`, steps: trained.steps,
        trainSeconds: Math.round(trained.seconds * 10) / 10, stepsPerSecond: Math.round(trained.stepsPerSecond * 100) / 100,
        finalLoss: trained.finalLoss, parity: trained.parity,
        files: { hf: rel(path.join(dir, "hf")), gguf: rel(path.join(dir, "model.gguf")), lora: recipe.lora ? rel(path.join(dir, "lora")) : null, loraGguf: recipe.lora ? rel(path.join(dir, "lora.gguf")) : null },
        job,
      });
      await writeFileAtomic(path.join(out, "manifest.json"), JSON.stringify(result, null, 2) + "\n");
    }
    // The time of the precomputed targets the kd pivots train on: this run's, or the build's that
    // made them when every kd pivot was kept; none when no pivot trains on them (online pivots).
    if (targets) result.targetSeconds = Math.round(targets.seconds);
    else if (!result.models.some((m) => m.objective === "kd")) result.targetSeconds = 0;
    if (!helper) await writeFileAtomic(path.join(out, "manifest.json"), JSON.stringify(result, null, 2) + "\n");
    return result;
  } finally {
    teachers.forEach(disposeTeacher);
  }
}

/**
 * Each teacher's prior for a text of `domain`: "domain" gives 1 to the experts of that domain and
 * 0 to the others (1 to all when none covers it); "min-ce" gives 1 to all.
 */
export function teacherPriors(choice: ZooPivotsPlan["teachers"], domain: string, teacherDomains: readonly string[]): number[] {
  return choice === "min-ce" ? teacherDomains.map(() => 1) : domainPriors(domain, teacherDomains);
}

export function fusionOptions(plan: Pick<ZooPivotsPlan, "k" | "fusion">): { k: number; aligned: boolean; uld: boolean } {
  return { k: plan.k, aligned: plan.fusion !== "uld", uld: plan.fusion !== "aligned" };
}

/** Steps between a pivot's checkpoints (a killed build, or a helper process's work, resumes from them). */
const CHECKPOINT_EVERY = 50;

/** The FPO pivot starts from pivots/all: it is retrained whenever that one is. */
function previousJob(result: ZooPivotsManifest, id: string): Record<string, unknown> | null {
  return result.models.find((m) => m.id === id)?.job ?? null;
}

export async function readZooPivotsManifest(dir: string): Promise<ZooPivotsManifest | undefined> {
  const file = path.join(dir, "manifest.json");
  const parsed = await readOptionalJsonObject(file);
  if (parsed === undefined) return undefined;
  if (parsed.format !== ZOO_PIVOTS_FORMAT || !Array.isArray(parsed.models)) throw new InputFileError(file, `not a pivots manifest (format must be "${ZOO_PIVOTS_FORMAT}")`);
  return parsed as unknown as ZooPivotsManifest;
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

/** Every domain's training lines, rebuilt from the zoo's data seed and checked against its manifest. */
export async function trainingLines(manifest: ZooManifest): Promise<{ domain: string; lines: string[] }[]> {
  return (await trainingTexts(manifest)).map(({ domain, text }) => ({ domain, lines: text.split("\n").filter((l) => l.length > 0) }));
}

/** Every domain's training text, in the zoo's domain order, rebuilt from its data seed and checked against its manifest. */
export async function trainingTexts(manifest: ZooManifest): Promise<{ domain: string; text: string }[]> {
  const corpus = await buildCorpus({ seed: manifest.data.seed });
  return manifest.data.domains.map((d) => {
    const domain = corpus.domains.find((c) => c.name === d.name);
    if (!domain || sha256(domain.trainText) !== d.trainHash) {
      throw new ConfigError([`the ${d.name} training text rebuilt from seed ${manifest.data.seed} differs from the zoo's (its manifest's trainHash); rebuild the zoo`]);
    }
    return { domain: d.name, text: domain.trainText };
  });
}

/** The online pivots' stream: each domain's training text with the pivot family's expert of that domain (if any). */
export async function onlinePartsOf(manifest: ZooManifest, family: string, teachers: readonly Teacher[]): Promise<OnlinePart[]> {
  return (await trainingTexts(manifest)).map(({ domain, text }) => {
    const expert = manifest.models.find((m) => m.role === "expert" && m.family === family && m.domain === domain);
    return { name: `${domain} training text`, text, teacher: expert ? teachers.find((t) => t.id === expert.id) : undefined };
  });
}

/**
 * The plan's sampled transfer text under `zoo`, every file checked against its sha256: an
 * InputFileError names a missing or altered file (`cogen zoo build` checks it before training).
 */
export async function readZooSampledText(zoo: string, spec: ZooSampledText): Promise<{ name: string; model: string; text: string }[]> {
  const dir = path.resolve(zoo, spec.dir);
  const regenerate = "regenerate it (bench/distill-recipes.ts --write-sampled DIR --family a --samples 1500 --seed 199, or `cogen distill sample`; docs/ARCHITECTURE.md) and update the plan's sha256";
  const read = async (file: string): Promise<string> => {
    const at = path.join(dir, file);
    const bytes = await fs.readFile(at).catch((error: unknown) => {
      throw new InputFileError(at, `the pivots' sampled transfer text is missing (${(error as NodeJS.ErrnoException).code ?? String(error)}); restore it (git checkout, or copy the committed zoo/${spec.dir}/ into this zoo) or ${regenerate}`);
    });
    const expected = spec.sha256[file];
    const actual = sha256(bytes);
    if (actual !== expected) throw new InputFileError(at, `the pivots' sampled transfer text was altered (sha256 ${actual}, the plan pins ${expected ?? "no hash for this file"}); restore it from git or ${regenerate}`);
    return bytes.toString("utf8");
  };
  const sampled = JSON.parse(await read("manifest.json")) as SampledCorpusManifest;
  const files = sampled.sources.map((s) => s.file);
  const unpinned = Object.keys(spec.sha256).filter((f) => f !== "manifest.json" && !files.includes(f));
  if (unpinned.length) throw new InputFileError(path.join(dir, "manifest.json"), `names no source for ${unpinned.join(", ")}, which the plan pins`);
  const out = [];
  for (const source of sampled.sources) out.push({ name: source.name, model: source.model, text: await read(source.file) });
  return out;
}

/** `--fresh`: remove the built pivots, keeping the committed inputs under pivots/ (the sampled text). */
export async function clearZooPivots(zoo: string, plan: ZooPivotsPlan): Promise<void> {
  const dir = path.join(zoo, ZOO_PIVOTS_DIR);
  const keep = plan.online?.sampled ? path.resolve(zoo, plan.online.sampled.dir) : undefined;
  const entries = await fs.readdir(dir).catch(() => [] as string[]);
  for (const entry of entries) {
    if (path.join(path.resolve(dir), entry) !== keep) await fs.rm(path.join(dir, entry), { recursive: true, force: true });
  }
}

function zooModelDir(zoo: string, manifest: ZooManifest, id: string): string {
  const model = manifest.models.find((m) => m.id === id);
  if (!model) throw new ConfigError([`the pivots plan's online.init '${id}' is not a model of the zoo (${manifest.models.map((m) => m.id).join(", ")})`]);
  return path.join(zoo, model.files.hf);
}

/** Seeded runs of consecutive lines per domain, each packed while every tokenisation stays within maxTokens. */
export function packTexts(domains: { domain: string; lines: string[] }[], tokenizers: readonly BpeTokenizer[], plan: Pick<ZooPivotsPlan, "seed" | "textsPerDomain" | "maxTokens">): { texts: { domain: string; text: string }[]; skipped: number } {
  const texts: { domain: string; text: string }[] = [];
  let skipped = 0;
  // Teachers of one family share a tokenizer: encode with each distinct one once.
  const distinct = [...new Map(tokenizers.map((t) => [JSON.stringify(t.files.tokenizer), t])).values()];
  const fits = (text: string) => distinct.every((t) => t.encode(text).length <= plan.maxTokens);
  for (const { domain, lines } of domains) {
    const rng = new Rng(seedFromLabel(`pivots/${plan.seed}/${domain}`));
    let made = 0;
    for (let tries = 0; made < plan.textsPerDomain && tries < 4 * plan.textsPerDomain; tries++) {
      let at = rng.int(lines.length);
      let text = "";
      while (at < lines.length) {
        const next = text ? `${text}\n${lines[at]}` : lines[at]!;
        if (!fits(next)) break;
        text = next;
        at++;
      }
      if (!text) {
        skipped++;
        continue;
      }
      texts.push({ domain, text });
      made++;
    }
  }
  return { texts, skipped };
}
