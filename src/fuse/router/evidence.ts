import type { ItemResult } from "../../core/evidence.js";
import type { TaskItem } from "../../formats/tasks.js";
import type { LabelledItem } from "./knn.js";

/** The text a request about this item would carry: the question, the prompt, or the passage. */
export function itemText(item: TaskItem): string {
  if (item.kind === "multiple_choice") return item.context;
  if (item.kind === "exact_match") return item.prompt;
  return item.text;
}

/**
 * Join evaluation items (their text and domain) with per-item results (each expert's score) into
 * the labelled items a router indexes. Items nobody was scored on are left out.
 */
export function labelledItems(tasks: readonly TaskItem[], results: readonly ItemResult[]): LabelledItem[] {
  const scores = new Map<string, Record<string, number>>();
  for (const r of results) {
    const entry = scores.get(r.item) ?? {};
    entry[r.model] = r.score;
    scores.set(r.item, entry);
  }
  return tasks.filter((t) => scores.has(t.id)).map((t) => ({ id: t.id, text: itemText(t), domain: t.domain, scores: scores.get(t.id)! }));
}

/** An item as an unscored example of its domain's text (a router's `domainItems`). */
export function domainExample(item: TaskItem): LabelledItem {
  return { id: item.id, text: itemText(item), domain: item.domain, scores: {} };
}
