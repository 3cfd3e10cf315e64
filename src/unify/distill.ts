import { promises as fs } from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../core/atomic.js";
import { CogenError } from "../core/errors.js";
import type { Progress } from "../core/progress.js";
import type { ExpertSpec } from "../formats/models-file.js";
import type { TaskItem } from "../formats/tasks.js";
import { readDistillCorpus } from "../fuse/distill/corpus.js";
import type { PivotTargets } from "../fuse/distill/pivot-targets.js";
import { preparePivot } from "../fuse/distill/pivot.js";
import { distillTargets } from "../fuse/distill/targets.js";
import { pivotTargetsOf } from "../fuse/distill/targets-reader.js";
import { DEFAULT_KD_LAMBDA, trainPivot } from "../fuse/distill/train-pivot.js";
import { itemText } from "../fuse/router/evidence.js";
import { readBpeTokenizer } from "../zoo/train/tokenize.js";
import type { SkippedPolicy } from "./policies.js";
import { sameBaseGroup } from "./same-base.js";
import type { BuiltCheckpoint } from "./weight-space.js";

/**
 * The `distill` policy: one pivot checkpoint trained on the experts' fused predictions
 * (FuseLLM's aligned targets and InfiFusion's ULD, λ·CLM + (1 − λ)·fusion, LoRA rank 16) over the
 * dev texts — never the test items — then exported as a GGUF that llama.cpp runs. The pivot is
 * the base the most experts name, else the first expert with a Hugging Face folder (`weights`):
 * cogen's trainer runs llama-family folders with a BPE tokenizer; whatever it refuses becomes
 * the skipped reason.
 */
export interface DistillSettings {
  /** Training steps (default 200). */
  steps?: number;
  /** Learning rate (default 1e-3: the zoo's diagnosis found 4e-3 over-fits small corpora). */
  lr?: number;
}

export type DistillOutcome = { built: BuiltCheckpoint } | { skipped: SkippedPolicy };

/** The dev items as training texts: passages, prompts, and multiple-choice contexts with their right answer. */
function corpusTexts(dev: readonly TaskItem[]): string[] {
  return dev.map((item) => (item.kind === "multiple_choice" ? item.context + item.choices[item.answer] : itemText(item))).filter((t) => t.trim() !== "");
}

function pivotOf(experts: readonly ExpertSpec[]): ExpertSpec | undefined {
  const base = sameBaseGroup(experts).group?.base;
  return base?.weights ? base : experts.find((e) => e.weights !== undefined);
}

export async function buildDistilled(
  experts: readonly ExpertSpec[], dev: readonly TaskItem[], dir: string, id: string, settings: DistillSettings = {}, progress?: Progress,
): Promise<DistillOutcome> {
  const skip = (reason: string): DistillOutcome => ({ skipped: { policy: "distill", reason } });
  const pivot = pivotOf(experts);
  if (!pivot?.weights) return skip("a pivot is trained from a Hugging Face folder: give an expert (ideally the experts' base) `weights:` in the models file");
  let tokenizer: Awaited<ReturnType<typeof readBpeTokenizer>>;
  try {
    tokenizer = await readBpeTokenizer(pivot.weights);
  } catch (error) {
    return skip(`the pivot ${pivot.id} has no tokenizer cogen's trainer reads (${(error as Error).message})`);
  }
  try {
    const corpusFile = path.join(dir, "corpus.jsonl");
    await fs.mkdir(dir, { recursive: true });
    await writeFileAtomic(corpusFile, corpusTexts(dev).map((text) => JSON.stringify({ text })).join("\n") + "\n");
    const corpus = await readDistillCorpus(corpusFile);
    const report = await distillTargets({ sources: [...experts], corpus, out: path.join(dir, "targets"), progress });
    if (report.failures.length) return skip(`the experts' targets failed (${report.failures.map((f) => `${f.source}: ${f.error}`).join("; ")})`);
    const targets: PivotTargets[] = [];
    for await (const t of pivotTargetsOf(path.join(dir, "targets"), corpus, preparePivot(tokenizer), { k: 8, modes: ["aligned", "uld"] })) targets.push(t.targets);
    if (targets.length === 0) return skip("no dev text has distillation targets (each was longer than some expert's context)");
    const out = path.join(dir, "pivot");
    await trainPivot({
      pivot: pivot.weights, out, objective: "kd", targets, lambda: DEFAULT_KD_LAMBDA, lora: { rank: 16, alpha: 16 },
      steps: settings.steps ?? 200, batchSize: 8, seqLen: 64, lr: settings.lr ?? 1e-3, seed: 0,
      checkpointDir: path.join(dir, "checkpoint"), checkpointEvery: 50, progress,
      parityContexts: corpus.texts.filter((t) => !t.skip).slice(0, 2).map((t) => t.text),
    });
    const spec: ExpertSpec = {
      id, backend: "llamacpp", path: path.join(out, "model.gguf"), domains: [], tags: ["unified", "distilled"],
      ...(pivot.threads !== undefined ? { threads: pivot.threads } : {}),
      ...(pivot.contextSize !== undefined ? { contextSize: pivot.contextSize } : {}),
    };
    return { built: { spec, from: { base: pivot.id, experts: experts.map((e) => e.id) }, notes: [] } };
  } catch (error) {
    if (!CogenError.isInstance(error)) throw error;
    return skip(`the pivot ${pivot.id} cannot be trained: ${error.message}`);
  }
}
