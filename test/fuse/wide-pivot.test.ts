import { promises as fs } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onlineKdObjective } from "../../src/fuse/distill/online-kd-objective.js";
import { disposeTeacher, loadTeacher, type Teacher } from "../../src/fuse/distill/teacher-targets.js";
import { readLlamaConfig } from "../../src/formats/hf/config.js";
import { tf } from "../../src/zoo/train/backend.js";
import { disposeTrainModel, type TrainModel } from "../../src/zoo/train/model.js";
import { trainLanguageModel } from "../../src/zoo/train/train.js";
import { widenHfModel } from "../../src/zoo/train/widen.js";
import { tempDir } from "../fixtures/tiny-llama.js";
import { zooPassages } from "../fixtures/zoo-passages.js";

// Full-weight online distillation into pivots other than the zoo's LoRA ones: a widened base-a
// (the wide pivot's recipe) and a randomly initialised one (which crashed the trainer before the
// embedding-gradient fix).
const ZOO = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "zoo");
const BASE_A = path.join(ZOO, "a", "base", "hf");
const MEDICINE_A = path.join(ZOO, "a", "experts", "medicine", "hf");
const SHAPE = { batchSize: 4, seqLen: 16, seed: 3, k: 8 };

let root: string;
let wideDir: string;
let base: Teacher;
let medicine: Teacher;
let tokens: Int32Array;

beforeAll(async () => {
  root = await tempDir("cogen-wide-pivot-");
  wideDir = path.join(root, "wide");
  await widenHfModel(BASE_A, wideDir, { intermediateSize: 352, numHeads: 8, seed: 11 });
  base = await loadTeacher(BASE_A, "a/base");
  medicine = await loadTeacher(MEDICINE_A, "a/experts/medicine");
  const text = (await zooPassages(ZOO, "medicine")).slice(0, 4).join("\n");
  tokens = Int32Array.from(base.tokenizer.encode(text));
});
afterAll(async () => {
  disposeTeacher(base);
  disposeTeacher(medicine);
  await fs.rm(root, { recursive: true, force: true });
});

const objective = (lambda: number) =>
  onlineKdObjective({ tokens, spans: [{ end: tokens.length, teacher: medicine.model }], lambda, ...SHAPE, pivot: base.tokenizer, teacherIds: ["t"] });
const lossAt = (model: TrainModel, lambda: number, step: number) => tf.tidy(() => objective(lambda).loss(model, step, base.tokenizer).dataSync()[0]!);

describe("full-weight online KD into a wide or fresh pivot", () => {
  it("the widened pivot starts at base-a's loss, and distilling all its weights moves it toward the teacher", async () => {
    const wide = await loadTeacher(wideDir, "wide");
    expect(Math.abs(lossAt(wide.model, 0.5, 100) - lossAt(base.model, 0.5, 100))).toBeLessThan(1e-4);
    const before = lossAt(wide.model, 0, 100);
    disposeTeacher(wide);
    const trained = await trainLanguageModel({ init: wideDir, tokenizer: base.tokenizer, objective: objective(0), steps: 16, batchSize: SHAPE.batchSize, seqLen: SHAPE.seqLen, lr: 2e-3, seed: SHAPE.seed });
    expect(trained.model.lora).toBeUndefined();
    const after = lossAt(trained.model, 0, 100);
    disposeTrainModel(trained.model);
    expect(after).toBeLessThan(before * 0.97);
  });

  it("a randomly initialised pivot trains on the KD objective without error", async () => {
    const config = await readLlamaConfig(BASE_A);
    const trained = await trainLanguageModel({ config, tokenizer: base.tokenizer, objective: objective(0.5), steps: 3, batchSize: SHAPE.batchSize, seqLen: SHAPE.seqLen, lr: 1e-3, seed: SHAPE.seed });
    expect(trained.losses).toHaveLength(3);
    expect(trained.losses.every(Number.isFinite)).toBe(true);
    disposeTrainModel(trained.model);
  });
});
