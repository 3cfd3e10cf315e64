import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readLmEvalFolder } from "../../src/formats/lm-eval.js";

let dir: string;
beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-lmeval-")); });
afterEach(async () => { await fs.rm(dir, { recursive: true, force: true }); });

const DATE = "2024-05-13T12-30-45.123456";
const lines = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";

async function run(folder: string, files: Record<string, string>): Promise<void> {
  await fs.mkdir(path.join(dir, folder), { recursive: true });
  for (const [name, text] of Object.entries(files)) await fs.writeFile(path.join(dir, folder, name), text);
}

describe("lm-evaluation-harness folders", () => {
  it("reads one run per model folder; the task is the domain; model from results_*.json or the folder", async () => {
    await run("org__model-a", {
      [`results_${DATE}.json`]: JSON.stringify({ results: {}, config: { model: "hf", model_args: "pretrained=org/model-a,dtype=bfloat16" }, model_name: "org/model-a" }),
      [`samples_arc_easy_${DATE}.jsonl`]: lines([
        { doc_id: 0, filter: "none", metrics: ["acc", "acc_norm"], acc: 1.0, acc_norm: 0.0 },
        { doc_id: 1, filter: "none", metrics: ["acc", "acc_norm"], acc: 0.0, acc_norm: 1.0 },
      ]),
      [`samples_gsm8k_cot_${DATE}.jsonl`]: lines([
        { doc_id: 0, filter: "strict-match", metrics: ["exact_match"], exact_match: 1.0 },
        { doc_id: 0, filter: "flexible-extract", metrics: ["exact_match"], exact_match: 0.0 },
      ]),
    });
    await run("org__model-b", {
      [`samples_arc_easy_${DATE}.jsonl`]: lines([{ doc_id: 0, acc: true }, { doc_id: 1, acc: false }]),
    });
    const out = await readLmEvalFolder(dir);
    expect(out.runs.map((r) => r.model)).toEqual(["org/model-a", "org/model-b"]);
    expect(out.results).toContainEqual({ model: "org/model-a", item: "arc_easy/0", score: 1, domain: "arc_easy", benchmark: "arc_easy" });
    expect(out.results).toContainEqual({ model: "org/model-a", item: "gsm8k_cot/0", score: 1, domain: "gsm8k_cot", benchmark: "gsm8k_cot" });
    expect(out.results).toContainEqual({ model: "org/model-b", item: "arc_easy/1", score: 0, domain: "arc_easy", benchmark: "arc_easy" });
    expect(out.results).toHaveLength(5);
    expect(out.warnings.join("\n")).toMatch(/several filters; used "strict-match"/);
    // acc_norm on request.
    const norm = await readLmEvalFolder(path.join(dir, "org__model-a"), { metric: "acc_norm" }).catch((e: Error) => e);
    expect(String(norm)).toMatch(/no metric "acc_norm" in the sample; it has exact_match/);
  });

  it("uses the latest run of a task and says so", async () => {
    await run("m", {
      [`samples_boolq_2024-01-01T00-00-00.000001.jsonl`]: lines([{ doc_id: 0, acc: 0 }]),
      [`samples_boolq_2024-06-01T00-00-00.000001.jsonl`]: lines([{ doc_id: 0, acc: 1 }]),
    });
    const out = await readLmEvalFolder(path.join(dir, "m"));
    expect(out.results).toEqual([{ model: "m", item: "boolq/0", score: 1, domain: "boolq", benchmark: "boolq" }]);
    expect(out.warnings[0]).toMatch(/run 2 times; used the latest/);
  });

  it("rejects malformed samples with file and line", async () => {
    await run("m", { [`samples_t_${DATE}.jsonl`]: lines([{ doc_id: 0, acc: 1 }, { doc_id: 0, acc: 0 }]) });
    await expect(readLmEvalFolder(dir)).rejects.toThrow(/samples_t_.*\.jsonl:2: doc_id 0 appears twice/);
    await run("m", { [`samples_t_${DATE}.jsonl`]: lines([{ doc_id: 0, acc: 3 }]) });
    await expect(readLmEvalFolder(dir)).rejects.toThrow(/:1: metric "acc" is 3, not a score in \[0, 1\]/);
    await run("m", { [`samples_t_${DATE}.jsonl`]: lines([{ doc_id: 0, perplexity: 3.2 }]) });
    await expect(readLmEvalFolder(dir)).rejects.toThrow(/:1: no usable metric .* it has perplexity/);
    await run("m", { [`samples_t_${DATE}.jsonl`]: "{not json\n" });
    await expect(readLmEvalFolder(dir)).rejects.toThrow(/:1: not a JSON object/);
  });

  it("says what it expected in a folder without samples", async () => {
    await expect(readLmEvalFolder(dir)).rejects.toThrow(/--log_samples/);
  });
});
