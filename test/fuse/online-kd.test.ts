import { promises as fs } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors.js";
import { onlineKdObjective, type OnlineKdOptions } from "../../src/fuse/distill/online-kd-objective.js";
import { disposeTeacher, loadTeacher, type Teacher } from "../../src/fuse/distill/teacher-targets.js";
import { tf } from "../../src/zoo/train/backend.js";
import { disposeTrainModel, type TrainModel } from "../../src/zoo/train/model.js";
import { trainLanguageModel } from "../../src/zoo/train/train.js";

// Real pivot and teacher: the committed zoo's base-a and its medicine expert (same tokenizer).
const ZOO = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "zoo");
const BASE_A = path.join(ZOO, "a", "base", "hf");
const MEDICINE_A = path.join(ZOO, "a", "experts", "medicine", "hf");
const SHAPE = { batchSize: 4, seqLen: 16, seed: 3, k: 8 };
const LORA = { rank: 4, alpha: 4 };

let base: Teacher;
let medicine: Teacher;
let text: string;
let tokens: Int32Array;

beforeAll(async () => {
  base = await loadTeacher(BASE_A, "a/base");
  medicine = await loadTeacher(MEDICINE_A, "a/experts/medicine");
  text = (await fs.readFile(path.join(ZOO, "items", "bits-per-byte.jsonl"), "utf8")).split("\n").filter(Boolean)
    .map((l) => JSON.parse(l) as { domain: string; text: string })
    .filter((r) => r.domain === "medicine")
    .slice(0, 4)
    .map((r) => r.text)
    .join("\n");
  tokens = Int32Array.from(base.tokenizer.encode(text));
});
afterAll(() => {
  disposeTeacher(base);
  disposeTeacher(medicine);
});

const objective = (lambda: number, spans: OnlineKdOptions["spans"]) =>
  onlineKdObjective({ tokens, spans, lambda, ...SHAPE, teacherIds: spans.map((s) => (s.teacher ? "t" : "")) });
const lossAt = (model: TrainModel, lambda: number, spans: OnlineKdOptions["spans"], step = 0) =>
  tf.tidy(() => objective(lambda, spans).loss(model, step, base.tokenizer).dataSync()[0]!);

describe("online distillation objective", () => {
  it("with λ = 1 trains exactly as the trainer's default objective on the same text (the CLM control)", async () => {
    const common = { init: BASE_A, tokenizer: base.tokenizer, steps: 3, batchSize: SHAPE.batchSize, seqLen: SHAPE.seqLen, lr: 1e-2, seed: SHAPE.seed, lora: LORA };
    const plain = await trainLanguageModel({ ...common, trainText: text });
    const online = await trainLanguageModel({ ...common, objective: objective(1, [{ end: tokens.length, teacher: medicine.model }]) });
    expect(online.losses).toEqual(plain.losses);
    disposeTrainModel(plain.model);
    disposeTrainModel(online.model);
  });

  it("adds nothing when the teacher is the pivot itself, and a positive KL from another model", () => {
    const clm = lossAt(base.model, 1, [{ end: tokens.length }]);
    const self = lossAt(base.model, 0.5, [{ end: tokens.length, teacher: base.model }]);
    const other = lossAt(base.model, 0.5, [{ end: tokens.length, teacher: medicine.model }]);
    expect(Math.abs(self - 0.5 * clm)).toBeLessThan(1e-3);
    expect(other - 0.5 * clm).toBeGreaterThan(5e-3);
    // Windows in a span without a teacher are CLM only: no span has one → the fusion term is 0.
    expect(lossAt(base.model, 0.5, [{ end: tokens.length }])).toBeCloseTo(0.5 * clm, 5);
  });

  it("training on the fusion term alone moves the pivot toward the teacher", async () => {
    const spans = [{ end: tokens.length, teacher: medicine.model }];
    const before = lossAt(base.model, 0, spans, 100);
    const trained = await trainLanguageModel({ init: BASE_A, tokenizer: base.tokenizer, objective: objective(0, spans), steps: 16, batchSize: SHAPE.batchSize, seqLen: SHAPE.seqLen, lr: 2e-3, seed: SHAPE.seed, lora: LORA });
    const after = lossAt(trained.model, 0, spans, 100);
    disposeTrainModel(trained.model);
    expect(after).toBeLessThan(before * 0.97);
  });

  it("refuses spans that do not cover the tokens, λ outside [0, 1] and k < 1, listing every problem", () => {
    let error: unknown;
    try {
      onlineKdObjective({ tokens, spans: [{ end: 10 }], lambda: 2, ...SHAPE, k: 0, teacherIds: [] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/lambda/);
    expect(message).toMatch(/k must/);
    expect(message).toMatch(/spans must end/);
  });
});
