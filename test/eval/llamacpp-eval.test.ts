import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LogLikelihood } from "../../src/core/language-model.js";
import { readResultRecords } from "../../src/eval/results-log.js";
import { runEval } from "../../src/eval/runner.js";
import { bitsPerByte, scoreMultipleChoice } from "../../src/eval/score.js";
import { readModelsFile } from "../../src/formats/models-file.js";
import { parseTasks } from "../../src/formats/tasks.js";
import { createLlamaCppModel } from "../../src/models/llamacpp/model.js";
import { makeTinyLlama, tempDir } from "../fixtures/tiny-llama.js";

describe("eval on a real tiny llama.cpp model", () => {
  let root: string;
  let gguf: string;
  beforeAll(async () => {
    root = await tempDir();
    gguf = await (await makeTinyLlama(root)).gguf();
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it("scores items from a models file exactly as the model's own log-likelihoods say", async () => {
    const models = path.join(root, "models.yml");
    await fs.writeFile(models, `experts:\n  - id: tiny\n    backend: llamacpp\n    path: ${path.basename(gguf)}\n    threads: 1\n    context_size: 256\n`);
    const items = parseTasks([
      { id: "m1", context: "The heart pumps", choices: [" blood", " water", " bread"], answer: 0 },
      { id: "m2", context: "A contract is an", choices: [" agreement", " river"], answer: 0 },
      { id: "b1", text: "The river flows into the sea." },
      { id: "e1", prompt: "The heart", answer: "pumps", max_tokens: 4 },
    ].map((o) => JSON.stringify(o)).join("\n"), "items.jsonl");
    const out = path.join(root, "results.jsonl");
    const report = await runEval({ experts: await readModelsFile(models), items, out });
    expect(report.failures).toEqual([]);
    const records = await readResultRecords(out);
    expect(records).toHaveLength(4);
    const model = await createLlamaCppModel({ id: "tiny", path: gguf, contextSize: 256 });
    try {
      for (const item of items) {
        const r = records.find((x) => x.item === item.id)!;
        if (item.kind === "multiple_choice") {
          const lls: LogLikelihood[] = [];
          for (const c of item.choices) lls.push(await model.logLikelihood(item.context, c));
          r.logprobs!.forEach((lp, i) => expect(lp).toBeCloseTo(lls[i].logprob, 6));
          expect(r.score).toBe(scoreMultipleChoice(lls, item.choices, item.answer).acc);
        } else if (item.kind === "bits_per_byte") {
          const ll = await model.logLikelihood("", item.text);
          expect(r.bpb).toBeCloseTo(bitsPerByte(ll.logprob, ll.bytes), 6);
          // A random model over ~300 tokens is far from a good byte model.
          expect(r.bpb).toBeGreaterThan(1);
        } else {
          expect(r.metric).toBe("exact_match");
          expect(r.generation).not.toContain("\n");
        }
      }
    } finally {
      await model.close();
    }
  });

  it("reports a model file that llama.cpp could not load, and goes on", async () => {
    const broken = path.join(root, "broken.gguf");
    await fs.writeFile(broken, (await fs.readFile(gguf)).subarray(0, 100));
    const out = path.join(root, "r2.jsonl");
    const items = parseTasks(JSON.stringify({ id: "b1", text: "The river." }), "i.jsonl");
    const report = await runEval({
      experts: [
        { id: "broken", backend: "llamacpp", path: broken, domains: [], tags: [] },
        { id: "tiny", backend: "llamacpp", path: gguf, contextSize: 128, domains: [], tags: [] },
      ],
      items, out,
    });
    expect(report.failures.map((f) => f.model)).toEqual(["broken"]);
    expect(report.failures[0].error).toMatch(/broken\.gguf/);
    expect((await readResultRecords(out)).map((r) => r.model)).toEqual(["tiny"]);
  });
});
