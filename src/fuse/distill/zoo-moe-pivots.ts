/**
 * The zoo's mixture-of-experts pivots, built after zoo/pivots when the zoo has its trained-gate
 * mixture (zoo/moe, `cogen zoo moe`): a pivot with eight experts' capacity, where the dense
 * pivots (d64 × 2, LoRA) cannot hold eight domains.
 *
 *   pivots-moe/all/       the mixture continued by online distillation (online-kd-objective.ts):
 *                         λ·CLM + (1 − λ)·KD, each window taught by family A's expert of its domain
 *   pivots-moe/control/   its CLM control: the same mixture, stream, batches, steps, seed and
 *                         optimiser, λ = 1
 *   pivots-moe/manifest.json
 *
 * Both are full fine-tunes (the trainer puts no LoRA on a mixture) with the gates left to the
 * cross-entropy alone: neither run adds the load-balancing or routing loss of gate training, so
 * the two differ in the distillation term only. Each exports hf/ and model.gguf, checked against
 * cogen's forward pass in llama.cpp. A rebuild keeps a model whose job (plan, starting mixture's
 * bytes, teachers, data) is unchanged.
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { exists, writeFileAtomic } from "../../core/atomic.js";
import { ConfigError, InputFileError } from "../../core/errors.js";
import { readOptionalJsonObject } from "../../core/json-file.js";
import { silentProgress, type Progress } from "../../core/progress.js";
import { convertGgufToHf } from "../../formats/convert/gguf-to-hf.js";
import { readZooManifest } from "../../zoo/build/manifest.js";
import { readZooMoeManifest } from "../moe/zoo-moe.js";
import { disposeTeacher, loadTeacher, type Teacher } from "./teacher-targets.js";
import { trainPivot } from "./train-pivot.js";
import { onlinePartsOf } from "./zoo-pivots.js";

export interface ZooMoePivotsPlan {
  /** The zoo/moe checkpoint both start from. */
  moe: string;
  seed: number;
  steps: number;
  batchSize: number;
  seqLen: number;
  lr: number;
  /** The pivot's CLM weight (the control's is 1). */
  lambda: number;
  /** Teacher candidates per position. */
  k: number;
  /** Training lines for the llama.cpp parity check of each export. */
  parityContexts: number;
}

/**
 * The best of the recipes measured on the demo's dev passages (bench/distill-recipes.ts --init-dir
 * <zoo/moe/a-trained-top2 as HF> --full): it ties its control there (lr 4e-3 beats its control but
 * both end far worse than this one; docs/ARCHITECTURE.md), so `cogen zoo build` runs it only with --moe-pivots.
 */
export const ZOO_MOE_PIVOTS_PLAN: ZooMoePivotsPlan = { moe: "a-trained-top2", seed: 199, steps: 200, batchSize: 16, seqLen: 64, lr: 1e-3, lambda: 0.2, k: 8, parityContexts: 3 };

export const ZOO_MOE_PIVOTS_FORMAT = "cogen-zoo-moe-pivots/1";
export const ZOO_MOE_PIVOTS_DIR = "pivots-moe";

export interface ZooMoePivotEntry {
  /** Folder relative to the zoo: "pivots-moe/all". */
  id: string;
  role: "pivot-moe" | "pivot-moe-control";
  teachers: string[];
  lambda: number;
  /** The mixture's GGUF it started from, relative to the zoo. */
  init: string;
  steps: number;
  trainSeconds: number;
  stepsPerSecond: number;
  finalLoss: number;
  /** Largest KL(TypeScript ‖ llama.cpp) of the GGUF, in nats. */
  parity: { maxKl: number } | null;
  files: { hf: string; gguf: string };
  job: Record<string, unknown>;
}

export interface ZooMoePivotsManifest {
  format: typeof ZOO_MOE_PIVOTS_FORMAT;
  plan: ZooMoePivotsPlan;
  models: ZooMoePivotEntry[];
}

export interface BuildZooMoePivotsOptions {
  zoo: string;
  plan?: ZooMoePivotsPlan;
  /** Default: <zoo>/pivots-moe. */
  out?: string;
  log?: (line: string) => void;
  progress?: Progress;
  /**
   * Train only these ("all", "control") to their checkpoints and return without a manifest: one
   * process per core beside another, as buildZooPivots' helpers; the build then resumes each
   * finished checkpoint (same bits) instead of training it again.
   */
  checkpointsOnly?: ("all" | "control")[];
}

/** Build (or keep) the MoE pivot and its control; undefined when the zoo has no zoo/moe. */
export async function buildZooMoePivots(options: BuildZooMoePivotsOptions): Promise<ZooMoePivotsManifest | undefined> {
  const plan = options.plan ?? ZOO_MOE_PIVOTS_PLAN;
  const zoo = path.resolve(options.zoo);
  const out = path.resolve(options.out ?? path.join(zoo, ZOO_MOE_PIVOTS_DIR));
  const log = options.log ?? (() => {});
  const manifest = await readZooManifest(zoo);
  if (!manifest.complete) throw new ConfigError([`${zoo}: the zoo build is not complete; the MoE pivots are distilled from its finished experts`]);
  const moe = await readZooMoeManifest(zoo);
  if (!moe) {
    log(`moe pivots: skipped (${zoo} has no moe/manifest.json; build it with cogen zoo moe)`);
    return undefined;
  }
  const checkpoint = moe.checkpoints.find((c) => c.id === plan.moe);
  if (!checkpoint) throw new ConfigError([`the MoE pivots plan starts from '${plan.moe}', which zoo/moe lacks (${moe.checkpoints.map((c) => c.id).join(", ")})`]);
  const initGguf = path.join(zoo, checkpoint.files.gguf);
  const initHash = createHash("sha256").update(await fs.readFile(initGguf)).digest("hex");
  const previous = await readZooMoePivotsManifest(out).catch((error: unknown) => {
    if (InputFileError.isInstance(error)) return undefined;
    throw error;
  });
  const rel = (p: string) => path.relative(zoo, p).split(path.sep).join("/");
  const helper = options.checkpointsOnly;
  const family = manifest.models.filter((m) => m.role === "expert" && m.family === moe.plan.family);
  const teachers: Teacher[] = [];
  const initHf = path.join(out, ".init-hf");
  try {
    for (const e of family) teachers.push(await loadTeacher(path.join(zoo, e.files.hf), e.id));
    const parts = await onlinePartsOf(manifest, moe.plan.family, teachers);
    const data = createHash("sha256").update(parts.map((p) => p.text).join("\u0000")).digest("hex");
    const contexts = parts.slice(0, plan.parityContexts).map((p) => p.text.split("\n", 1)[0]!);
    const result: ZooMoePivotsManifest = { format: ZOO_MOE_PIVOTS_FORMAT, plan, models: [] };
    const specs = [
      { name: "all", role: "pivot-moe" as const, lambda: plan.lambda, parts },
      { name: "control", role: "pivot-moe-control" as const, lambda: 1, parts: parts.map((p) => ({ ...p, teacher: undefined })) },
    ];
    for (const spec of specs) {
      const dir = path.join(out, spec.name);
      const teacherIds = spec.parts.flatMap((p) => (p.teacher ? [p.teacher.id] : []));
      const job = {
        objective: "online-kd", lambda: spec.lambda, teachers: teacherIds, init: rel(initGguf), initHash, method: "full fine-tune",
        seed: plan.seed, steps: plan.steps, batchSize: plan.batchSize, seqLen: plan.seqLen, lr: plan.lr, k: plan.k, data,
      };
      const kept = previous?.models.find((m) => m.id === rel(dir) && JSON.stringify(m.job) === JSON.stringify(job));
      if (helper && !helper.includes(spec.name as "all" | "control")) continue;
      if (kept && (await exists(path.join(zoo, kept.files.gguf)))) {
        log(`moe pivots: ${kept.id} kept`);
        result.models.push(kept);
        continue;
      }
      // The trainer starts from a Hugging Face folder; zoo/moe commits the trained mixture as GGUF only.
      if (!(await exists(path.join(initHf, "config.json")))) await convertGgufToHf(initGguf, initHf);
      log(`moe pivots: training ${rel(dir)} (online-kd, λ ${spec.lambda}, ${plan.steps} steps, from ${rel(initGguf)})`);
      const checkpointDir = path.join(dir, "checkpoint");
      const scratch = helper ? await fs.mkdtemp(path.join(out, `.${spec.name}-helper-`)) : undefined;
      const trained = await trainPivot({
        pivot: initHf, out: scratch ?? dir, objective: "online-kd", online: { parts: spec.parts, k: plan.k }, lambda: spec.lambda,
        steps: plan.steps, batchSize: plan.batchSize, seqLen: plan.seqLen, lr: plan.lr, seed: plan.seed,
        parityContexts: scratch ? [] : contexts, checkpointDir, checkpointEvery: 50, stopAtStep: scratch ? plan.steps : undefined, progress: options.progress ?? silentProgress,
      }).finally(() => scratch && fs.rm(scratch, { recursive: true, force: true }));
      if (scratch) continue;
      await fs.rm(checkpointDir, { recursive: true, force: true });
      result.models.push({
        id: rel(dir), role: spec.role, teachers: teacherIds, lambda: spec.lambda, init: rel(initGguf), steps: trained.steps,
        trainSeconds: Math.round(trained.seconds * 10) / 10, stepsPerSecond: Math.round(trained.stepsPerSecond * 100) / 100,
        finalLoss: trained.finalLoss, parity: trained.parity ? { maxKl: trained.parity.maxKl } : null,
        files: { hf: rel(path.join(dir, "hf")), gguf: rel(path.join(dir, "model.gguf")) }, job,
      });
    }
    if (helper) return undefined;
    await writeFileAtomic(path.join(out, "manifest.json"), JSON.stringify(result, null, 2) + "\n");
    return result;
  } finally {
    teachers.forEach(disposeTeacher);
    // Helpers leave the converted mixture for the build, whose checkpoints name its path.
    if (!helper) await fs.rm(initHf, { recursive: true, force: true });
  }
}

export async function readZooMoePivotsManifest(dir: string): Promise<ZooMoePivotsManifest | undefined> {
  const file = path.join(dir, "manifest.json");
  const parsed = await readOptionalJsonObject(file);
  if (parsed === undefined) return undefined;
  if (parsed.format !== ZOO_MOE_PIVOTS_FORMAT || !Array.isArray(parsed.models)) throw new InputFileError(file, `not a MoE pivots manifest (format must be "${ZOO_MOE_PIVOTS_FORMAT}")`);
  return parsed as unknown as ZooMoePivotsManifest;
}
