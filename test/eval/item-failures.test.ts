/**
 * `cogen eval` against an OpenAI-compatible server — cogen's own gateway over a zoo model with a
 * 64-token context: an item longer than the context fails alone with a message that says so, the
 * model's other items are evaluated; the progress bar counts every item exactly once, also when
 * a model fails part-way through a job; a server that cut an echoed prompt is named as such.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BackendError, ContextLengthError } from "../../src/core/errors.js";
import type { LanguageModel } from "../../src/core/language-model.js";
import type { Progress } from "../../src/core/progress.js";
import { runEval } from "../../src/eval/runner.js";
import { readResultRecords } from "../../src/eval/results-log.js";
import type { ExpertSpec } from "../../src/formats/models-file.js";
import { parseTasks } from "../../src/formats/tasks.js";
import { createLlamaCppModel } from "../../src/models/llamacpp/model.js";
import { echoLogLikelihood } from "../../src/models/openai/wire.js";
import { openModel } from "../../src/models/open.js";
import { ModelPool } from "../../src/models/pool.js";
import { startGateway, type StartedGateway } from "../../src/serve/gateway.js";
import { capture } from "../cli/capture.js";

const zoo = (file: string) => fileURLToPath(new URL(`../../zoo/${file}`, import.meta.url));

const LONG = "The patient was given antibiotics for an infection of the lungs. ".repeat(8);
const ITEMS = parseTasks([
  { id: "short-1", domain: "medicine", context: "The patient was given", choices: [" antibiotics", " a contract"], answer: 0 },
  { id: "too-long", domain: "medicine", context: LONG, choices: [" yes", " no"], answer: 0 },
  { id: "short-2", domain: "medicine", context: "The doctor measured the", choices: [" blood pressure", " verdict"], answer: 0 },
  { id: "short-3", domain: "medicine", prompt: "The nurse gave the patient", answer: "a dose", max_tokens: 4 },
  { id: "long-prompt", domain: "medicine", prompt: LONG, answer: "yes", max_tokens: 4 },
  { id: "short-4", domain: "medicine", context: "The infection", choices: [" spread", " ruled"], answer: 0 },
].map((o) => JSON.stringify(o)).join("\n"), "items.jsonl");

/** Records every tick, so a test can see the bar never pass its total. */
function recordingProgress() {
  const state = { total: 0, count: 0, highest: 0 };
  const progress: Progress = {
    start: (_label, total) => void (state.total = total),
    tick: (delta = 1) => {
      state.count += delta;
      state.highest = Math.max(state.highest, state.count);
    },
    done: () => {},
  };
  return { state, progress };
}

let model: LanguageModel;
let gateway: StartedGateway;
let dir: string;
const served = (id: string): ExpertSpec => ({ id, backend: "openai", url: `${gateway.url}/v1`, model: "med", domains: [], tags: [], maxRetries: 0 });

beforeAll(async () => {
  model = await createLlamaCppModel({ id: "med", path: zoo("a/experts/medicine/model.gguf"), contextSize: 64, threads: 1 });
  gateway = await startGateway({ models: new Map([["med", model]]), host: "127.0.0.1", port: 0 });
});
afterAll(async () => {
  await gateway?.close();
  await model?.close();
});
afterEach(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe("cogen eval against an OpenAI-compatible server", () => {
  it("fails an item longer than the server's context alone and evaluates the rest", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-eval-ctx-"));
    const out = path.join(dir, "results.jsonl");
    const { state, progress } = recordingProgress();
    const report = await runEval({ experts: [served("served-med")], items: ITEMS, out, batchSize: 4, progress });
    expect(report.failures).toEqual([]);
    expect(report.written).toBe(4);
    expect(report.itemFailures.map((f) => f.item).sort()).toEqual(["long-prompt", "too-long"]);
    for (const failure of report.itemFailures) {
      expect(failure.model).toBe("served-med");
      expect(failure.error).toMatch(/prompt is longer than the server's context \(This model's maximum context length is 64 tokens/);
      expect(failure.error).not.toMatch(/no prompt log-probabilities/);
    }
    expect((await readResultRecords(out)).map((r) => r.item).sort()).toEqual(["short-1", "short-2", "short-3", "short-4"]);
    expect(state).toEqual({ total: ITEMS.length, count: ITEMS.length, highest: ITEMS.length });
  });

  it("prints each failed item and exits 3 from the CLI", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-eval-ctx-"));
    const models = path.join(dir, "models.yml");
    await fs.writeFile(models, `experts:\n  - { id: served-med, backend: openai, url: "${gateway.url}/v1", model: med, max_retries: 0 }\n`);
    const tasks = path.join(dir, "items.jsonl");
    await fs.writeFile(tasks, ITEMS.map((item) => JSON.stringify(
      item.kind === "multiple_choice" ? { id: item.id, domain: item.domain, context: item.context, choices: item.choices, answer: item.answer }
        : item.kind === "exact_match" ? { id: item.id, domain: item.domain, prompt: item.prompt, answer: item.answers[0], max_tokens: item.maxTokens } : {},
    )).join("\n") + "\n");
    const { code, err } = await capture(["eval", "--models", models, "--tasks", tasks, "--out", path.join(dir, "r.jsonl"), "--quiet"]);
    expect(code).toBe(3);
    const lines = err.split("\n").filter((line) => /^item '(too-long|long-prompt)' of model 'served-med' has no result: .*maximum context length is 64/.test(line));
    expect(lines).toHaveLength(2);
  });

  it("moves the progress bar once per item when a model fails part-way through a job", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-eval-ctx-"));
    const short = ITEMS.filter((item) => item.id.startsWith("short"));
    const items = [...short, ...short.map((item) => ({ ...item, id: `${item.id}-again` }))];
    // A backend that dies on its third log-likelihood: two items are done when its job fails.
    let calls = 0;
    const pool = new ModelPool({
      open: async (spec) => {
        const inner = await openModel(spec);
        return {
          ...inner,
          logLikelihood: async (context: string, continuation: string) => {
            if (++calls > 4) throw new BackendError(spec.id, "the server went away");
            return inner.logLikelihood(context, continuation);
          },
        };
      },
    });
    const { state, progress } = recordingProgress();
    try {
      const report = await runEval({ experts: [served("dying")], items, out: path.join(dir, "r.jsonl"), batchSize: 4, concurrency: 1, pool, progress });
      expect(report.failures).toEqual([{ model: "dying", error: expect.stringMatching(/the server went away/), items: items.length }]);
    } finally {
      await pool.close();
    }
    expect(state).toEqual({ total: items.length, count: items.length, highest: items.length });
  });

  it("says a server cut the echoed prompt instead of 'no prompt log-probabilities'", () => {
    // A server that evaluated only the prompt's last 2 tokens but echoed all 4 (as cogen's gateway once did).
    const response = {
      choices: [{ logprobs: { tokens: ["The", " heart", " pumps", " blood"], token_logprobs: [null, -1, -2, -3], text_offset: [0, 3, 9, 15], top_logprobs: null } }],
      usage: { prompt_tokens: 2 },
    };
    const call = () => echoLogLikelihood(response, "The heart pumps", " blood", "openai(x)");
    expect(call).toThrow(ContextLengthError);
    expect(call).toThrow(/echoed 4 prompt tokens but counted usage.prompt_tokens = 2: it cut the prompt/);
  });
});
