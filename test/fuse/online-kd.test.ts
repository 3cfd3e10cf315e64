import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors.js";
import { onlineKdObjective, onlineStream, type CrossFusion, type OnlineKdOptions } from "../../src/fuse/distill/online-kd-objective.js";
import { disposeTeacher, loadTeacher, type Teacher } from "../../src/fuse/distill/teacher-targets.js";
import { tf } from "../../src/zoo/train/backend.js";
import { disposeTrainModel, type TrainModel } from "../../src/zoo/train/model.js";
import { trainLanguageModel } from "../../src/zoo/train/train.js";
import { zooPassages } from "../fixtures/zoo-passages.js";

// Real pivot and teacher: the committed zoo's base-a and its medicine expert (same tokenizer).
const ZOO = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "zoo");
const BASE_A = path.join(ZOO, "a", "base", "hf");
const MEDICINE_A = path.join(ZOO, "a", "experts", "medicine", "hf");
// A teacher with another tokenizer (byte-level BPE, d48×3, context 64): family B's biology expert.
const BIOLOGY_B = path.join(ZOO, "b", "experts", "biology", "hf");
const SHAPE = { batchSize: 4, seqLen: 16, seed: 3, k: 8 };
const LORA = { rank: 4, alpha: 4 };

let base: Teacher;
let medicine: Teacher;
let biologyB: Teacher;
let text: string;
let tokens: Int32Array;

beforeAll(async () => {
  base = await loadTeacher(BASE_A, "a/base");
  medicine = await loadTeacher(MEDICINE_A, "a/experts/medicine");
  biologyB = await loadTeacher(BIOLOGY_B, "b/experts/biology");
  text = (await zooPassages(ZOO, "medicine")).slice(0, 4).join("\n");
  tokens = Int32Array.from(base.tokenizer.encode(text));
});
afterAll(() => {
  disposeTeacher(base);
  disposeTeacher(medicine);
  disposeTeacher(biologyB);
});

const objective = (lambda: number, spans: OnlineKdOptions["spans"], over = tokens, crossFusion?: CrossFusion) =>
  onlineKdObjective({ tokens: over, spans, lambda, ...SHAPE, pivot: base.tokenizer, crossFusion, teacherIds: spans.map((s) => (s.teacher || s.crossTeacher ? "t" : "")) });
const lossAt = (model: TrainModel, lambda: number, spans: OnlineKdOptions["spans"], step = 0, over = tokens, crossFusion?: CrossFusion) =>
  tf.tidy(() => objective(lambda, spans, over, crossFusion).loss(model, step, base.tokenizer).dataSync()[0]!);

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
    // Windows in a span without a teacher train on CLM alone, at full weight.
    expect(lossAt(base.model, 0.5, [{ end: tokens.length }])).toBeCloseTo(clm, 5);
  });

  it("training on the fusion term alone moves the pivot toward the teacher", async () => {
    const spans = [{ end: tokens.length, teacher: medicine.model }];
    const before = lossAt(base.model, 0, spans, 100);
    const trained = await trainLanguageModel({ init: BASE_A, tokenizer: base.tokenizer, objective: objective(0, spans), steps: 16, batchSize: SHAPE.batchSize, seqLen: SHAPE.seqLen, lr: 2e-3, seed: SHAPE.seed, lora: LORA });
    const after = lossAt(trained.model, 0, spans, 100);
    disposeTrainModel(trained.model);
    expect(after).toBeLessThan(before * 0.97);
  });

  it("distils across tokenizers: the teacher reads each window as text, in its own tokens", async () => {
    const spans = [{ end: tokens.length, crossTeacher: biologyB }];
    const clm = lossAt(base.model, 1, spans);
    // Every mode adds a positive fusion term on windows the pivot re-encodes as they are.
    for (const mode of ["aligned", "uld", "both"] as const) expect(lossAt(base.model, 0.5, spans, 0, tokens, mode) - 0.5 * clm).toBeGreaterThan(5e-3);
    // onlineStream gives a teacher with another tokenizer to its span as a cross-tokenizer teacher.
    const stream = onlineStream([{ name: "medicine", text, teacher: biologyB }], base.tokenizer);
    expect(stream.spans).toEqual([{ end: tokens.length, crossTeacher: biologyB }]);
    // The fusion term alone moves the pivot toward the family-B teacher.
    const before = lossAt(base.model, 0, spans, 100);
    const trained = await trainLanguageModel({ init: BASE_A, tokenizer: base.tokenizer, objective: objective(0, spans), steps: 16, batchSize: SHAPE.batchSize, seqLen: SHAPE.seqLen, lr: 2e-3, seed: SHAPE.seed, lora: LORA });
    const after = lossAt(trained.model, 0, spans, 100);
    disposeTrainModel(trained.model);
    expect(after).toBeLessThan(before * 0.97);
  });

  it("leaves untaught (CLM alone) a window whose text the pivot encodes to other tokens", () => {
    // The same text spelled one character per token: decoding and re-encoding merges the characters.
    const spelled = Int32Array.from([...text].flatMap((c) => base.tokenizer.encode(c)));
    expect(base.tokenizer.decode(Array.from(spelled))).toBe(text);
    const spans = [{ end: spelled.length, crossTeacher: biologyB }];
    expect(lossAt(base.model, 0.5, spans, 0, spelled, "both")).toBeCloseTo(lossAt(base.model, 1, spans, 0, spelled), 5);
  });

  it("MinCE with the pivot as a source: a window is taught only where the teacher beats the pivot on it", async () => {
    const spans = [{ end: tokens.length, crossTeacher: biologyB }];
    const gated = (model: TrainModel, lambda: number) =>
      tf.tidy(() => onlineKdObjective({ tokens, spans, lambda, ...SHAPE, pivot: base.tokenizer, crossGate: "min-ce", teacherIds: ["b"] }).loss(model, 1, base.tokenizer).dataSync()[0]!);
    // The medicine expert knows this medicine text better than the family-B biology expert: nothing is taught, CLM alone.
    expect(gated(medicine.model, 0.5)).toBeCloseTo(gated(medicine.model, 1), 5);
    // base-a knows it less well: the teacher teaches some windows.
    expect(Math.abs(gated(base.model, 0.5) - gated(base.model, 1))).toBeGreaterThan(1e-2);
  });

  it("keepClm adds (1 − λ)·fusion to the full CLM, and the row gate teaches only rows where the teacher gives gold more probability", () => {
    const spans = [{ end: tokens.length, crossTeacher: biologyB }];
    const loss = (model: TrainModel, lambda: number, gate?: "min-ce-row") =>
      tf.tidy(() => onlineKdObjective({ tokens, spans, lambda, ...SHAPE, pivot: base.tokenizer, keepClm: true, crossGate: gate, teacherIds: ["b"] }).loss(model, 1, base.tokenizer).dataSync()[0]!);
    const clm = loss(base.model, 1);
    const fusion = loss(base.model, 0) - clm;
    expect(fusion).toBeGreaterThan(5e-3);
    // The CLM term keeps its full weight whatever λ: only the fusion term scales.
    expect(loss(base.model, 0.5) - clm).toBeCloseTo(0.5 * fusion, 4);
    // Gated per row: fewer rows taught, so a smaller (still non-negative) fusion term.
    const gated = loss(base.model, 0, "min-ce-row") - clm;
    expect(gated).toBeGreaterThanOrEqual(0);
    expect(gated).toBeLessThan(fusion * 0.9);
    // A pivot that knows the text better (the medicine expert) leaves fewer rows to the teacher than base-a does.
    const medicineGated = loss(medicine.model, 0, "min-ce-row") - loss(medicine.model, 1);
    expect(medicineGated).toBeLessThan(gated);
  });

  it("refuses a cross-tokenizer teacher without the pivot's tokenizer", () => {
    expect(() => onlineKdObjective({ tokens, spans: [{ end: tokens.length, crossTeacher: biologyB }], lambda: 0.5, ...SHAPE, teacherIds: ["b"] })).toThrow(/pivot's tokenizer/);
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
