import { ContextLengthError } from "../core/errors.js";
import type { LanguageModel } from "../core/language-model.js";
import type { Progress } from "../core/progress.js";
import { evaluateItem } from "../eval/evaluate-item.js";
import type { ResultRecord } from "../eval/result.js";
import type { TaskItem } from "../formats/tasks.js";

export interface EvaluateModelsLog {
  /** Pairs already evaluated (an earlier run's log): not evaluated again, not returned. */
  has(model: string, item: string): boolean;
  /** Called with each record as it is made, before the next item starts. */
  append(records: readonly ResultRecord[]): Promise<unknown>;
}

/**
 * Evaluate language models — single experts and composites alike, through the one interface —
 * on items, with a progress bar. `lanes` models run at once (llama.cpp computes off the main
 * thread, one core per tiny model); each backend serialises its own calls, so a composite may
 * share members with a model in another lane. Results come back in model order; with `log`,
 * only the pairs it lacks are evaluated, each appended as it is made.
 */
export async function evaluateModels(models: readonly LanguageModel[], items: readonly TaskItem[], progress: Progress, label: string, lanes = 2, log?: EvaluateModelsLog): Promise<ResultRecord[]> {
  const todo = models.map((m) => items.filter((item) => !log?.has(m.id, item.id)));
  const perModel: ResultRecord[][] = models.map(() => []);
  progress.start(label, todo.reduce((s, t) => s + t.length, 0), "items");
  let next = 0;
  const lane = async () => {
    while (next < models.length) {
      const index = next++;
      for (const item of todo[index]) {
        let record: ResultRecord;
        try {
          record = await evaluateItem(models[index], item);
        } catch (error) {
          // An item too long for a member's context fails alone (the table leaves it out).
          if (!ContextLengthError.isInstance(error)) throw error;
          progress.tick(1, models[index].id);
          continue;
        }
        await log?.append([record]);
        perModel[index].push(record);
        progress.tick(1, models[index].id);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, lanes) }, lane));
  const records = perModel.flat();
  progress.done(`${records.length} results`);
  return records;
}
