import { promises as fs } from "node:fs";
import type { LanguageModel } from "../core/language-model.js";
import type { Progress } from "../core/progress.js";
import type { ResultRecord } from "../eval/result.js";
import { readResultRecords, ResultsLog } from "../eval/results-log.js";
import type { ExpertSpec } from "../formats/models-file.js";
import type { TaskItem } from "../formats/tasks.js";
import { SCORING_REVISION } from "../models/scoring-revision.js";
import { buildFingerprint, stampState, writeStamp } from "./build-stamp.js";
import { evaluateModels } from "./evaluate-models.js";

export interface JudgingInput {
  models: readonly LanguageModel[];
  items: readonly TaskItem[];
  /** The results log (JSONL); its stamp lies beside it (NAME.build.json). */
  out: string;
  /** The files the models read (experts, built checkpoints, extras): their sizes and times count. */
  specs: readonly ExpertSpec[];
  /** Everything else the models' answers depend on (evidence, settings, ids). */
  inputs: unknown;
  progress: Progress;
  label: string;
  lanes: number;
}

/**
 * The unified models on the test items through a results log, so an interrupted run loses none
 * of the judging done (the ensemble's is the longest work of a run on real models): a rerun with
 * the same inputs evaluates only the pairs the log lacks; other inputs start the log afresh.
 * Returns the records in model order, then item order.
 */
export async function judgeResumably(input: JudgingInput): Promise<ResultRecord[]> {
  const stampAt = input.out.replace(/\.jsonl$/, "");
  const fingerprint = await buildFingerprint(input.specs, { inputs: input.inputs, scoring: SCORING_REVISION });
  if ((await stampState(stampAt, fingerprint)).state === "stale") {
    await fs.rm(input.out, { force: true });
    await writeStamp(stampAt, fingerprint);
  }
  const log = await ResultsLog.open(input.out, true);
  try {
    await evaluateModels(input.models, input.items, input.progress, input.label, input.lanes, log);
  } finally {
    await log.close();
  }
  const modelIndex = new Map(input.models.map((m, i) => [m.id, i]));
  const itemIndex = new Map(input.items.map((item, i) => [item.id, i]));
  return (await readResultRecords(input.out))
    .filter((r) => modelIndex.has(r.model) && itemIndex.has(r.item))
    .sort((a, b) => modelIndex.get(a.model)! - modelIndex.get(b.model)! || itemIndex.get(a.item)! - itemIndex.get(b.item)!);
}
