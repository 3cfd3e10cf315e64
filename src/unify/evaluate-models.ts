import type { LanguageModel } from "../core/language-model.js";
import type { Progress } from "../core/progress.js";
import { evaluateItem } from "../eval/evaluate-item.js";
import type { ResultRecord } from "../eval/result.js";
import type { TaskItem } from "../formats/tasks.js";

/**
 * Evaluate language models — single experts and composites alike, through the one interface —
 * on items, with a progress bar. `lanes` models run at once (llama.cpp computes off the main
 * thread, one core per tiny model); each backend serialises its own calls, so a composite may
 * share members with a model in another lane. Results come back in model order.
 */
export async function evaluateModels(models: readonly LanguageModel[], items: readonly TaskItem[], progress: Progress, label: string, lanes = 2): Promise<ResultRecord[]> {
  const perModel: ResultRecord[][] = models.map(() => []);
  progress.start(label, models.length * items.length, "items");
  let next = 0;
  const lane = async () => {
    while (next < models.length) {
      const index = next++;
      for (const item of items) {
        perModel[index].push(await evaluateItem(models[index], item));
        progress.tick(1, models[index].id);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, lanes) }, lane));
  const records = perModel.flat();
  progress.done(`${records.length} results`);
  return records;
}
