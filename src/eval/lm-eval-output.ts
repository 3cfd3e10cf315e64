/**
 * Write results in lm-evaluation-harness's --log_samples layout, so tools that read lm-eval
 * output read cogen's too:
 *
 *   DIR/<model, "/" → "__">/samples_<task>_<date>.jsonl   one line per item (doc_id, doc, target,
 *       arguments, resps, filtered_resps, filter, metrics, doc_hash, prompt_hash, target_hash, and
 *       the metric values: acc + acc_norm, exact_match, or bits_per_byte as [loglikelihood, bytes])
 *   DIR/<model>/results_<date>.json                       aggregate per task ("acc,none",
 *       "acc_stderr,none", ...), with versions, n-shot, higher_is_better and n-samples
 *
 * <date> is an ISO timestamp with ':' written as '-', as lm-eval writes it.
 */
import { createHash } from "node:crypto";
import * as path from "node:path";
import { writeFileAtomic } from "../core/atomic.js";
import { promises as fs } from "node:fs";
import type { TaskItem } from "../formats/tasks.js";
import type { ResultRecord } from "./result.js";
import { EXACT_MATCH_STOP } from "./evaluate-item.js";

const hash = (text: string) => createHash("sha256").update(text).digest("hex");

export async function writeLmEvalOutput(dir: string, records: readonly ResultRecord[], items: readonly TaskItem[], now = new Date()): Promise<string[]> {
  const date = now.toISOString().replace(/Z$/, "").replace(/:/g, "-");
  // doc_id counts within a task, as lm-eval numbers each task's documents.
  const perTask = new Map<string, number>();
  const byId = new Map(items.map((item) => {
    const index = perTask.get(item.task) ?? 0;
    perTask.set(item.task, index + 1);
    return [item.id, { item, index }];
  }));
  const byModel = new Map<string, ResultRecord[]>();
  for (const r of records) if (byId.has(r.item)) byModel.set(r.model, [...(byModel.get(r.model) ?? []), r]);
  const written: string[] = [];
  for (const [model, rows] of byModel) {
    const modelDir = path.join(dir, model.replace(/\//g, "__"));
    await fs.mkdir(modelDir, { recursive: true });
    const byTask = new Map<string, ResultRecord[]>();
    for (const r of rows) byTask.set(r.task, [...(byTask.get(r.task) ?? []), r]);
    const results: Record<string, Record<string, number | string>> = {};
    const higher: Record<string, Record<string, boolean>> = {};
    const counts: Record<string, { original: number; effective: number }> = {};
    for (const [task, taskRows] of byTask) {
      taskRows.sort((a, b) => byId.get(a.item)!.index - byId.get(b.item)!.index);
      const lines = taskRows.map((r) => JSON.stringify(sample(r, byId.get(r.item)!.item, byId.get(r.item)!.index)));
      const file = path.join(modelDir, `samples_${task}_${date}.jsonl`);
      await writeFileAtomic(file, lines.join("\n") + "\n");
      written.push(file);
      results[task] = { alias: task, ...aggregate(taskRows) };
      higher[task] = taskRows[0].metric === "bpb" ? { bits_per_byte: false } : taskRows[0].metric === "acc" ? { acc: true, acc_norm: true } : { exact_match: true };
      counts[task] = { original: taskRows.length, effective: taskRows.length };
    }
    const tasks = Object.keys(results);
    const summary = {
      results,
      group_subtasks: Object.fromEntries(tasks.map((t) => [t, []])),
      versions: Object.fromEntries(tasks.map((t) => [t, 0])),
      "n-shot": Object.fromEntries(tasks.map((t) => [t, 0])),
      higher_is_better: higher,
      "n-samples": counts,
      config: { model: "cogen", model_args: model },
      model_name: model,
      model_name_sanitized: model.replace(/\//g, "__"),
      date: now.getTime() / 1000,
    };
    const file = path.join(modelDir, `results_${date}.json`);
    await writeFileAtomic(file, JSON.stringify(summary, null, 2) + "\n");
    written.push(file);
  }
  return written;
}

function sample(r: ResultRecord, item: TaskItem, docId: number): Record<string, unknown> {
  const { kind: _kind, ...doc } = item;
  const base = { doc_id: docId, doc, filter: "none" };
  const hashes = (prompt: string, target: unknown) => ({
    doc_hash: hash(JSON.stringify(doc, null, 2)), prompt_hash: hash(prompt), target_hash: hash(String(target)),
  });
  switch (item.kind) {
    case "multiple_choice": {
      const pairs = (r.logprobs ?? []).map((lp, i) => [String(lp), r.greedy?.[i] ? "True" : "False"]);
      return {
        ...base, target: item.answer,
        arguments: Object.fromEntries(item.choices.map((c, i) => [`gen_args_${i}`, { arg_0: item.context, arg_1: c }])),
        resps: pairs.map((p) => [p]), filtered_resps: pairs,
        ...hashes(item.context, item.answer), metrics: ["acc", "acc_norm"], acc: r.score, acc_norm: r.acc_norm,
      };
    }
    case "exact_match":
      return {
        ...base, target: item.answers[0],
        arguments: { gen_args_0: { arg_0: item.prompt, arg_1: { until: EXACT_MATCH_STOP, max_gen_toks: item.maxTokens, do_sample: false, temperature: 0 } } },
        resps: [[r.generation ?? ""]], filtered_resps: [r.generation ?? ""],
        ...hashes(item.prompt, item.answers[0]), metrics: ["exact_match"], exact_match: r.score,
      };
    case "bits_per_byte":
      return {
        ...base, target: "",
        arguments: { gen_args_0: { arg_0: item.text } },
        resps: [[r.logprob]], filtered_resps: [r.logprob],
        ...hashes(item.text, ""), metrics: ["bits_per_byte", "byte_perplexity"],
        bits_per_byte: [r.logprob, r.bytes], byte_perplexity: [r.logprob, r.bytes],
      };
  }
}

function meanAndStderr(values: number[]): [number, number] {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n < 2) return [mean, NaN];
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  return [mean, Math.sqrt(variance / n)];
}

function aggregate(rows: ResultRecord[]): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  const put = (name: string, values: number[]) => {
    const [mean, se] = meanAndStderr(values);
    out[`${name},none`] = mean;
    out[`${name}_stderr,none`] = Number.isNaN(se) ? "N/A" : se;
  };
  if (rows[0].metric === "acc") {
    put("acc", rows.map((r) => r.score));
    put("acc_norm", rows.map((r) => r.acc_norm ?? 0));
  } else if (rows[0].metric === "exact_match") {
    put("exact_match", rows.map((r) => r.score));
  } else {
    // lm-eval's weighted aggregate: total −log-likelihood over total bytes.
    const ll = rows.reduce((s, r) => s + (r.logprob ?? 0), 0);
    const bytes = rows.reduce((s, r) => s + (r.bytes ?? 0), 0);
    const bpb = -ll / bytes / Math.LN2;
    out["bits_per_byte,none"] = bpb;
    out["bits_per_byte_stderr,none"] = "N/A";
    out["byte_perplexity,none"] = 2 ** bpb;
    out["byte_perplexity_stderr,none"] = "N/A";
  }
  return out;
}
