/**
 * `cogen distill train`: train a pivot on distillation targets (λ·CLM + fusion loss) or on InfiFPO
 * preference records, with LoRA or a full fine-tune; export HF + GGUF (+ PEFT and llama.cpp
 * adapters), checked in llama.cpp.
 */
import * as path from "node:path";
import { ConfigError, InputFileError } from "../core/errors.js";
import { silentProgress, streamProgress, type Progress } from "../core/progress.js";
import type { FusionMode } from "../fuse/distill/build-pivot-targets.js";
import { readDistillCorpus, type DistillCorpus } from "../fuse/distill/corpus.js";
import { DEFAULT_FPO_BETA, type FpoUnit } from "../fuse/distill/fpo-objective.js";
import { readFpoRecords } from "../fuse/distill/fpo-records.js";
import { preparePivot } from "../fuse/distill/pivot.js";
import type { PivotTargets } from "../fuse/distill/pivot-targets.js";
import { pivotTargetsOf } from "../fuse/distill/targets-reader.js";
import { disposeTeacher, loadTeacher, teacherTargets, teacherViews, type Teacher } from "../fuse/distill/teacher-targets.js";
import { DEFAULT_KD_LAMBDA, trainPivot, type TrainPivotResult } from "../fuse/distill/train-pivot.js";
import { readPivotTokenizer } from "../fuse/distill/pivot.js";
import { DEFAULT_CROSS_FUSION, type CrossFusion } from "../fuse/distill/online-kd-objective.js";
import { readTextFile } from "../core/files.js";
import { readBpeTokenizer, type BpeTokenizer } from "../zoo/train/tokenize.js";
import { parseFlags, UsageError } from "./args.js";
import { printJson } from "./output.js";

const HELP = `usage: cogen distill train --pivot HF_DIR --out DIR [targets | prefs | --online …] [options]

Train a pivot (any llama-family Hugging Face folder cogen's trainer runs) on
  kd   λ·CLM + (1 − λ)·fusion: KL(fused ‖ pivot) on aligned targets, the 1-D Wasserstein (ULD)
       distance on sorted top-k probabilities — on the texts of --corpus TEXTS, with targets from
         --targets DIR          'cogen distill targets' on the same corpus (any sources), or
         --teachers DIR,DIR,…   the teachers' own forward passes (HF folders cogen's trainer runs)
  fpo  InfiFPO on preference records: --prefs FILE.jsonl ('cogen distill prefs')
  --online --train-text FILE,FILE,… --teachers DIR,DIR,…
       online kd: the teachers run inside each step on the pivot's own seeded windows of the
       training stream (the files in turn); a window listens to the teacher of the file it starts
       in ('-' for none: CLM only); λ 1 = the control. A teacher with another tokenizer reads
       each window as text (decoded, scored in its own tokens, mapped back by --fusion).
Writes DIR/hf, DIR/model.gguf and for LoRA DIR/lora (PEFT) and DIR/lora.gguf, each checked
against cogen's forward pass in llama.cpp. Deterministic in --seed; resumes from DIR/checkpoint.

  --objective kd|fpo   (default kd)
  --lambda λ           CLM weight for kd (default ${DEFAULT_KD_LAMBDA}; 1 = the CLM control, no fusion
                       loss), chosen-response NLL weight for fpo (default 0)
  --fusion MODES       kd targets: aligned, uld or aligned,uld (default aligned,uld; with --online,
                       what a teacher with another tokenizer gives, default ${DEFAULT_CROSS_FUSION})
  --top-k K            candidates per position (default 8)
  --lora RANK          LoRA rank (default 16; alpha = rank unless --alpha)   --full: all weights
  --steps N (200)  --batch N (16)  --seq-len N (64)  --lr X (4e-3)  --seed S (0)  --beta X (${DEFAULT_FPO_BETA})
  --unit token|byte    fpo: what ℓ divides by (default: the records' "unit"; schema-1 records
                       without one are per token); records of another unit are refused
  --checkpoint-every N (50)   --json   --quiet
TEXTS: .txt (one text per line) or .jsonl (objects with a string "text").`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    pivot: { type: "string" }, out: { type: "string" }, objective: { type: "string", default: "kd" },
    targets: { type: "string" }, teachers: { type: "string" }, corpus: { type: "string" }, prefs: { type: "string" },
    lambda: { type: "string" }, fusion: { type: "string" }, "top-k": { type: "string", default: "8" },
    lora: { type: "string" }, alpha: { type: "string" }, full: { type: "boolean", default: false },
    steps: { type: "string", default: "200" }, batch: { type: "string", default: "16" }, "seq-len": { type: "string", default: "64" },
    lr: { type: "string", default: "4e-3" }, seed: { type: "string", default: "0" }, beta: { type: "string", default: String(DEFAULT_FPO_BETA) },
    unit: { type: "string" }, online: { type: "boolean", default: false }, "train-text": { type: "string" },
    "checkpoint-every": { type: "string", default: "50" }, json: { type: "boolean", default: false }, quiet: { type: "boolean", default: false },
  }, HELP);
  const problems: string[] = [];
  if (positionals.length) problems.push(`unexpected argument '${positionals[0]}'`);
  if (!values.pivot) problems.push("--pivot is required (the pivot's Hugging Face folder)");
  if (!values.out) problems.push("--out is required");
  const objective = values.objective;
  if (objective !== "kd" && objective !== "fpo") problems.push(`--objective: expected kd or fpo, got '${objective}'`);
  const int = (flag: string, text: string) => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 1) problems.push(`--${flag}: expected a positive integer, got '${text}'`);
    return n;
  };
  const num = (flag: string, text: string) => {
    const n = Number(text);
    if (!Number.isFinite(n)) problems.push(`--${flag}: expected a number, got '${text}'`);
    return n;
  };
  const steps = int("steps", values.steps!);
  const batchSize = int("batch", values.batch!);
  const seqLen = int("seq-len", values["seq-len"]!);
  const k = int("top-k", values["top-k"]!);
  const checkpointEvery = int("checkpoint-every", values["checkpoint-every"]!);
  const lr = num("lr", values.lr!);
  const seed = num("seed", values.seed!);
  const beta = num("beta", values.beta!);
  const lambda = num("lambda", values.lambda ?? (objective === "fpo" ? "0" : String(DEFAULT_KD_LAMBDA)));
  if (values.full && values.lora) problems.push("give --lora RANK or --full, not both");
  const rank = values.full ? 0 : int("lora", values.lora ?? "16");
  const alpha = values.alpha ? num("alpha", values.alpha) : rank;
  const modes = (values.fusion ?? (values.online ? (DEFAULT_CROSS_FUSION === "both" ? "aligned,uld" : DEFAULT_CROSS_FUSION) : "aligned,uld")).split(",").map((m) => m.trim());
  for (const m of modes) if (m !== "aligned" && m !== "uld") problems.push(`--fusion: unknown mode '${m}' (aligned, uld)`);
  const trainTexts = values["train-text"]?.split(",").map((f) => f.trim()) ?? [];
  const teacherDirs = values.teachers?.split(",").map((d) => d.trim()) ?? [];
  if (values.online) {
    if (objective !== "kd") problems.push("--online distils with the kd objective (not --objective fpo)");
    if (values.corpus || values.targets) problems.push("--online reads --train-text and runs --teachers inside each step: drop --corpus and --targets");
    if (!trainTexts.length) problems.push("--online needs --train-text FILE[,FILE…]");
    if (teacherDirs.length !== trainTexts.length) problems.push(`--online needs one --teachers entry per --train-text file ('-' for none): got ${teacherDirs.length} for ${trainTexts.length}`);
  } else if (values["train-text"]) problems.push("--train-text is read only with --online");
  else if (objective === "kd" && (!values.corpus || !values.targets === !values.teachers)) problems.push("--objective kd needs --corpus TEXTS and one of --targets DIR or --teachers DIR,…");
  if (objective === "fpo" && !values.prefs) problems.push("--objective fpo needs --prefs FILE.jsonl");
  if (values.unit !== undefined && objective !== "fpo") problems.push("--unit applies to --objective fpo only");
  if (values.unit !== undefined && values.unit !== "token" && values.unit !== "byte") problems.push(`--unit: expected token or byte, got '${values.unit}'`);
  if (problems.length) throw new UsageError(problems, "distill train");

  const progress = values.quiet || values.json ? silentProgress : streamProgress();
  const out = values.out!;
  let targets: PivotTargets[] | undefined;
  let parityContexts: string[] = [];
  if (values.online) return runOnline(values.pivot!, out, trainTexts, teacherDirs, {
    lambda, lora: rank > 0 ? { rank, alpha } : undefined, steps, batchSize, seqLen, lr, seed, k, checkpointEvery, progress, json: values.json!,
    crossFusion: modes.includes("aligned") ? (modes.includes("uld") ? "both" : "aligned") : "uld",
  });
  if (objective === "kd") {
    const pivotTokenizer = await readBpeTokenizer(values.pivot!).catch((error: Error) => {
      throw new ConfigError([`--pivot ${values.pivot}: cannot read the pivot's tokenizer (${error.message})`]);
    });
    const corpus = await readDistillCorpus(values.corpus!);
    const fusion = { k, modes: modes as FusionMode[] };
    targets = values.targets
      ? await targetsFromDir(values.targets, corpus, pivotTokenizer, fusion, progress)
      : await targetsFromTeachers(values.teachers!.split(",").map((d) => d.trim()), corpus, pivotTokenizer, fusion, progress);
    if (targets.length === 0) throw new InputFileError(values.corpus!, "no text of the corpus has targets (every one was skipped)");
    parityContexts = corpus.texts.filter((t) => !t.skip).slice(0, 2).map((t) => t.text);
  }
  const records = objective === "fpo" ? await readFpoRecords(values.prefs!, { unit: values.unit as FpoUnit | undefined }) : undefined;
  if (records) parityContexts = records.slice(0, 2).map((r) => r.prompt + r.chosen);
  const result = await trainPivot({
    pivot: values.pivot!, out, objective: objective as "kd" | "fpo", targets, records, lambda,
    lora: rank > 0 ? { rank, alpha } : undefined, steps, batchSize, seqLen, lr, seed, beta, unit: values.unit as FpoUnit | undefined,
    checkpointDir: path.join(out, "checkpoint"), checkpointEvery, progress,
    parityContexts,
  });
  report(result, out, values.json!);
  return 0;
}

function report(result: TrainPivotResult, out: string, json: boolean): void {
  if (json) printJson({ ...result, losses: undefined });
  else {
    console.log(`${result.steps} steps (${result.startStep ? `resumed at ${result.startStep}, ` : ""}${result.stepsPerSecond.toFixed(2)} steps/s), final loss ${result.finalLoss.toFixed(4)}`);
    console.log(`wrote ${result.exported.map((f) => path.join(out, f)).join(", ")}`);
    if (result.parity) console.log(`llama.cpp parity: max KL ${result.parity.maxKl.toExponential(2)}${result.parity.loraMaxKl !== null ? `, base + adapter ${result.parity.loraMaxKl.toExponential(2)}` : ""}`);
  }
}

interface OnlineRun { crossFusion: CrossFusion; lambda: number; lora?: { rank: number; alpha: number }; steps: number; batchSize: number; seqLen: number; lr: number; seed: number; k: number; checkpointEvery: number; progress: Progress; json: boolean }

/** Online distillation: each --train-text file in turn, its windows distilled from its teacher (online-kd-objective.ts). */
async function runOnline(pivot: string, out: string, files: string[], teacherDirs: string[], o: OnlineRun): Promise<number> {
  const tokenizer = await readPivotTokenizer(pivot);
  const texts: string[] = [];
  for (const file of files) {
    const text = await readTextFile(file);
    if (text.includes("\u0000")) throw new InputFileError(file, "is binary (contains NUL bytes); give UTF-8 training text");
    if (text.trim().length === 0) throw new InputFileError(file, "is empty; give the training text");
    if (tokenizer.encode(text).length <= o.seqLen) throw new InputFileError(file, `has ${tokenizer.encode(text).length} pivot tokens; a training window needs more than --seq-len ${o.seqLen}`);
    texts.push(text);
  }
  const teachers = new Map<string, Teacher>();
  try {
    for (const dir of new Set(teacherDirs.filter((d) => d !== "-"))) {
      teachers.set(dir, await loadTeacher(dir, dir).catch((error: Error) => {
        throw new ConfigError([`--teachers ${dir}: cannot load the teacher (${error.message})`]);
      }));
    }
    const parts = files.map((file, i) => ({ name: `--train-text ${file}`, text: texts[i]!, teacher: teachers.get(teacherDirs[i]!) }));
    const parityContexts = texts[0]!.split("\n").filter((l) => l.trim()).slice(0, 2).map((l) => l.slice(0, 200));
    const result = await trainPivot({
      pivot, out, objective: "online-kd", online: { parts, k: o.k, crossFusion: o.crossFusion }, lambda: o.lambda, lora: o.lora,
      steps: o.steps, batchSize: o.batchSize, seqLen: o.seqLen, lr: o.lr, seed: o.seed,
      checkpointDir: path.join(out, "checkpoint"), checkpointEvery: o.checkpointEvery, progress: o.progress, parityContexts,
    });
    report(result, out, o.json);
    return 0;
  } finally {
    teachers.forEach(disposeTeacher);
  }
}

/** The shipped path: 'cogen distill targets' output, fused onto the pivot's tokens (FuseLLM alignment, ULD). */
async function targetsFromDir(dir: string, corpus: DistillCorpus, tokenizer: BpeTokenizer, fusion: { k: number; modes: FusionMode[] }, progress: Progress): Promise<PivotTargets[]> {
  const targets: PivotTargets[] = [];
  progress.start("pivot targets", corpus.texts.length, "texts");
  for await (const t of pivotTargetsOf(dir, corpus, preparePivot(tokenizer), fusion)) {
    targets.push(t.targets);
    progress.tick(1);
  }
  progress.done();
  return targets;
}

/** Teachers cogen's trainer can load, run in process (teacher-targets.ts). */
async function targetsFromTeachers(dirs: string[], corpus: DistillCorpus, tokenizer: BpeTokenizer, fusion: { k: number; modes: FusionMode[] }, progress: Progress): Promise<PivotTargets[]> {
  const teachers: Teacher[] = [];
  try {
    for (const dir of dirs) teachers.push(await loadTeacher(dir, dir));
    const targets: PivotTargets[] = [];
    const texts = corpus.texts.filter((t) => !t.skip);
    progress.start("distillation targets", texts.length, "texts");
    for (const { text } of texts) {
      const options = { k: fusion.k, aligned: fusion.modes.includes("aligned"), uld: fusion.modes.includes("uld") };
      targets.push(teacherTargets(text, tokenizer, teachers, options, teacherViews(text, teachers, fusion.k)));
      progress.tick(1);
    }
    progress.done();
    return targets;
  } finally {
    teachers.forEach(disposeTeacher);
  }
}
