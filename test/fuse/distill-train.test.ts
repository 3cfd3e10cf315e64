import { promises as fs } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, InputFileError } from "../../src/core/errors.js";
import { openHfWeights } from "../../src/formats/safetensors/index.js";
import { continuationLogProb, fpoObjective, meanResponseLogProb, packContinuation, type FpoRecord } from "../../src/fuse/distill/fpo-objective.js";
import { alignedKlAndGrad, uldDistanceAndGrad } from "../../src/fuse/distill/fusion-loss.js";
import { kdBatch } from "../../src/fuse/distill/kd-objective.js";
import { checkPivotTargets, pivotTargetsProblems, type PivotTargets } from "../../src/fuse/distill/pivot-targets.js";
import { disposeTeacher, loadTeacher, teacherTargets, teacherViews, type Teacher } from "../../src/fuse/distill/teacher-targets.js";
import { teacherPriors } from "../../src/fuse/distill/zoo-pivots.js";
import { trainPivot } from "../../src/fuse/distill/train-pivot.js";
import { tf } from "../../src/zoo/train/backend.js";
import { forwardLogits } from "../../src/zoo/train/model.js";
import { readBpeTokenizer, type BpeTokenizer } from "../../src/zoo/train/tokenize.js";
import { tempDir } from "../fixtures/tiny-llama.js";
import { zooPassages } from "../fixtures/zoo-passages.js";

// Real teachers and a real pivot: the committed zoo's models (family A: byte-fallback BPE; B: byte-level).
const ZOO = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "zoo");
const BASE_A = path.join(ZOO, "a", "base", "hf");
const MEDICINE_A = path.join(ZOO, "a", "experts", "medicine", "hf");
const BIOLOGY_B = path.join(ZOO, "b", "experts", "biology", "hf");

let root: string;
let pivotTokenizer: BpeTokenizer;
let medicine: Teacher;
let biologyB: Teacher;
let passages: string[];

beforeAll(async () => {
  root = await tempDir("cogen-distill-train-");
  pivotTokenizer = await readBpeTokenizer(BASE_A);
  medicine = await loadTeacher(MEDICINE_A, "a/experts/medicine");
  biologyB = await loadTeacher(BIOLOGY_B, "b/experts/biology");
  // Lines of held-out medicine passages, short enough for one window.
  const lines = (await zooPassages(ZOO, "medicine")).flatMap((text) => text.split("\n"));
  passages = lines.filter((l) => l.length > 40 && pivotTokenizer.encode(l).length <= 30).slice(0, 48);
});
afterAll(async () => {
  disposeTeacher(medicine);
  disposeTeacher(biologyB);
  await fs.rm(root, { recursive: true, force: true });
});

/** Central finite difference of `f` along every coordinate of x (float64). */
function numericGrad(f: (x: Float32Array) => number, x: Float32Array, h = 1e-3): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const up = Float32Array.from(x);
    const down = Float32Array.from(x);
    up[i] += h;
    down[i] -= h;
    g[i] = (f(up) - f(down)) / (2 * h);
  }
  return g;
}

/** KL(teacher ‖ model) per position, averaged, on the teacher's own tokenisation of the texts. */
async function meanKl(teacher: Teacher, modelDir: string, texts: string[]): Promise<number> {
  const student = await loadTeacher(modelDir);
  let total = 0;
  let count = 0;
  const probs = (model: Teacher["model"], ids: number[]) => tf.tidy(() => tf.softmax(forwardLogits(model, tf.tensor2d([ids], [1, ids.length], "int32"))).arraySync() as number[][]);
  for (const text of texts) {
    const ids = [teacher.tokenizer.vocab.bosId ?? 0, ...teacher.tokenizer.encode(text).slice(0, -1)];
    const [p, q] = [probs(teacher.model, ids), probs(student.model, ids)];
    p.forEach((row, t) => {
      row.forEach((pv, v) => (total += pv > 0 ? pv * (Math.log(pv) - Math.log(q[t]![v]!)) : 0));
      count++;
    });
  }
  disposeTeacher(student);
  return total / count;
}

async function sameFiles(a: string, b: string): Promise<boolean> {
  const read = async (dir: string) => {
    const w = await openHfWeights(dir);
    const out = new Map<string, Buffer>();
    for (const t of w.list()) out.set(t.name, Buffer.from((await w.readF32(t.name)).buffer));
    await w.close();
    return out;
  };
  const [x, y] = [await read(a), await read(b)];
  return x.size === y.size && [...x].every(([name, values]) => y.get(name)?.equals(values));
}

describe("fusion losses", () => {
  it("aligned KL on {candidates, rest} has its closed form and the exact gradient", () => {
    // Two rows, vocabulary 4; row 1 has a leftover mass of 0.3, row 2 an empty slot.
    const logits = Float32Array.from([0.5, -1, 2, 0, 1, 1, -0.5, 0.25]);
    const target = { k: 2, ids: Int32Array.from([2, 0, 3, -1]), probs: Float32Array.from([0.5, 0.2, 0.9, 0]) };
    const weights = Float32Array.from([1, 1]);
    const { loss, grad } = alignedKlAndGrad(logits, 4, target, weights);
    const q = (row: number) => {
      const z = Array.from(logits.subarray(row * 4, row * 4 + 4));
      const e = z.map((v) => Math.exp(v));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / s);
    };
    const [q1, q2] = [q(0), q(1)];
    const row1 = 0.5 * Math.log(0.5 / q1[2]!) + 0.2 * Math.log(0.2 / q1[0]!) + 0.3 * Math.log(0.3 / (1 - q1[2]! - q1[0]!));
    const row2 = 0.9 * Math.log(0.9 / q2[3]!) + 0.1 * Math.log(0.1 / (1 - q2[3]!));
    expect(loss).toBeCloseTo((row1 + row2) / 2, 6);
    const numeric = numericGrad((x) => alignedKlAndGrad(x, 4, target, weights).loss, logits);
    grad.forEach((g, i) => expect(g).toBeCloseTo(numeric[i]!, 3));
    // A padded row (weight 0) changes nothing.
    const padded = alignedKlAndGrad(logits, 4, target, Float32Array.from([1, 0]));
    expect(padded.loss).toBeCloseTo(row1, 6);
    expect(Array.from(padded.grad.subarray(4))).toEqual([0, 0, 0, 0]);
  });

  it("ULD is the weighted L1 between sorted top-k probabilities, with the exact gradient", () => {
    const logits = Float32Array.from([0.1, 1.2, -0.4, 0.7, 2, 0.3, -1, 0.9]);
    // Two sources, two rows, k = 2; the second source weighs 0.25 on both rows.
    const target = {
      k: 2, sources: 2,
      sorted: Float32Array.from([0.6, 0.3, 0.5, 0.2, 0.9, 0.05, 0.4, 0.4]),
      weights: Float32Array.from([0.75, 0.75, 0.25, 0.25]),
    };
    const { loss, grad } = uldDistanceAndGrad(logits, 4, target);
    const sortedQ = (row: number) => {
      const e = Array.from(logits.subarray(row * 4, row * 4 + 4)).map((v) => Math.exp(v));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / s).sort((a, b) => b - a);
    };
    let expected = 0;
    for (let row = 0; row < 2; row++) {
      const q = sortedQ(row);
      for (let s = 0; s < 2; s++) {
        for (let j = 0; j < 2; j++) expected += target.weights[s * 2 + row]! * Math.abs(q[j]! - target.sorted[(s * 2 + row) * 2 + j]!);
      }
    }
    expect(loss).toBeCloseTo(expected / 2, 6);
    const numeric = numericGrad((x) => uldDistanceAndGrad(x, 4, target).loss, logits);
    grad.forEach((g, i) => expect(g).toBeCloseTo(numeric[i]!, 3));
  });
});

describe("PivotTargets validation", () => {
  it("names every broken field and index", () => {
    const good: PivotTargets = { tokens: Int32Array.from([5, 6]), aligned: { k: 2, ids: Int32Array.from([5, -1, 6, 7]), probs: Float32Array.from([0.5, 0, 0.6, 0.4]) } };
    expect(pivotTargetsProblems(good, 10)).toEqual([]);
    const bad: PivotTargets = {
      tokens: Int32Array.from([5, 12]),
      aligned: { k: 2, ids: Int32Array.from([5, -1, 6, 7]), probs: Float32Array.from([0.5, 0.1, 0.8, 0.4]) },
      uld: { k: 2, sources: 2, sorted: Float32Array.from([0.2, 0.5, 0.1, 0, 0.3, 0.3, 0.1, 0.1]), weights: Float32Array.from([0.5, 0.2]) },
    };
    const problems = pivotTargetsProblems(bad, 10).join("\n");
    expect(problems).toMatch(/tokens\[1\] = 12 is outside the pivot vocabulary \[0, 10\)/);
    expect(problems).toMatch(/aligned\.probs\[1\] = 0\.1.* empty slot/);
    expect(problems).toMatch(/aligned\.probs of position 1 sum to 1\.2000 > 1/);
    expect(problems).toMatch(/uld\.weights sum to 0\.7000/);
    expect(problems).toMatch(/uld\.sorted\[1\] = 0\.5 is larger than the entry before it/);
    expect(() => checkPivotTargets(bad, 10, "shard-3.bin, text 7")).toThrow(InputFileError);
    expect(() => checkPivotTargets({ tokens: new Int32Array(0) }, 10, "x")).toThrow(/tokens is empty; neither an aligned nor a uld target/);
    expect(pivotTargetsProblems({ tokens: Int32Array.from([1]), uld: { k: 2, sources: 1, sorted: new Float32Array(3), weights: Float32Array.from([1]) } }, 10))
      .toEqual(["uld.sorted has 3 entries, expected sources × tokens.length × k = 2"]);
  });
});

describe("targets from real teachers", () => {
  it("same vocabulary: the teacher's own top-k at every position; MinCE picks the teacher that knows the text", () => {
    const text = passages[0]!;
    const t = teacherTargets(text, pivotTokenizer, [biologyB, medicine], { k: 4, aligned: true, uld: true });
    expect(pivotTargetsProblems(t, pivotTokenizer.size)).toEqual([]);
    expect(Array.from(t.tokens)).toEqual(pivotTokenizer.encode(text));
    // The medicine expert (same tokenizer as the pivot) has the lower bits per byte on medicine text:
    // every position carries its candidates, the most likely first.
    for (let p = 0; p < t.tokens.length; p++) {
      expect(t.aligned!.ids[p * 4]).toBeGreaterThanOrEqual(0);
      expect(t.aligned!.probs[p * 4]).toBeGreaterThanOrEqual(t.aligned!.probs[p * 4 + 1]!);
    }
    expect(t.uld!.weights[1]).toBeGreaterThan(t.uld!.weights[0]!);
    expect(t.uld!.weights[0]! + t.uld!.weights[1]!).toBeCloseTo(1, 5);
  });

  it("another tokenizer: candidates map by identical bytes at shared token boundaries", () => {
    const text = passages[1]!;
    const t = teacherTargets(text, pivotTokenizer, [biologyB], { k: 8, aligned: true, uld: false });
    expect(pivotTargetsProblems(t, pivotTokenizer.size)).toEqual([]);
    let mapped = 0;
    for (let p = 0; p < t.tokens.length; p++) {
      for (let j = 0; j < 8; j++) {
        const id = t.aligned!.ids[p * 8 + j]!;
        if (id < 0) continue;
        mapped++;
        // A mapped candidate is a real pivot token with some bytes, and the one the pivot's own
        // encoder gives those bytes (a regular token, never its byte-fallback twin such as <0x6E> for "n").
        const bytes = pivotTokenizer.tokenBytes(id);
        expect(bytes.length).toBeGreaterThan(0);
        const spelled = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
        if (!spelled.includes("\uFFFD")) expect(pivotTokenizer.encode(spelled)).toEqual([id]);
      }
    }
    expect(mapped).toBeGreaterThan(t.tokens.length);
  });
});

describe("teachers chosen per text (priors)", () => {
  it("a text listens only to the teachers of positive prior; the others are not run and weigh 0", () => {
    const text = passages[2]!;
    // Without priors, MinCE picks the medicine expert on medicine text; a prior of 0 on it hands the target to the other.
    const free = teacherTargets(text, pivotTokenizer, [biologyB, medicine], { k: 4, aligned: true, uld: true });
    expect(free.uld!.weights[1]).toBeGreaterThan(free.uld!.weights[0]!);
    const views = teacherViews(text, [biologyB, medicine], 4, [1, 0]);
    expect(views[1]).toBeUndefined();
    const chosen = teacherTargets(text, pivotTokenizer, [biologyB, medicine], { k: 4, aligned: true, uld: true, priors: [1, 0] }, views);
    expect(pivotTargetsProblems(chosen, pivotTokenizer.size)).toEqual([]);
    expect(Array.from(chosen.uld!.weights)).toEqual([1, 0]);
    const n = chosen.tokens.length;
    expect(chosen.uld!.sorted.subarray(n * 4).every((p) => p === 0)).toBe(true);
    // The aligned target is the biology expert's (mapped across tokenizers), not the medicine expert's.
    expect(chosen.aligned).toEqual(teacherTargets(text, pivotTokenizer, [biologyB], { k: 4, aligned: true, uld: false }).aligned);
    expect(() => teacherTargets(text, pivotTokenizer, [biologyB, medicine], { k: 4, aligned: true, uld: false, priors: [0, 0] })).toThrow(ConfigError);
    expect(() => teacherTargets(text, pivotTokenizer, [biologyB, medicine], { k: 4, aligned: true, uld: false, priors: [1] })).toThrow(/one prior ≥ 0 per teacher \(2\)/);
  });

  it("domain choice: the experts of the text's domain, every teacher where none covers it", () => {
    expect(teacherPriors("domain", "law", ["medicine", "law", "law"])).toEqual([0, 1, 1]);
    expect(teacherPriors("domain", "food", ["medicine", "law"])).toEqual([1, 1]);
    expect(teacherPriors("min-ce", "law", ["medicine", "law"])).toEqual([1, 1]);
  });
});

describe("trainPivot (kd)", () => {
  it("distilling a real expert moves the pivot toward it far more than the CLM control on the same batches", async () => {
    const targets = passages.slice(0, 40).map((p) => teacherTargets(p, pivotTokenizer, [medicine], { k: 8, aligned: true, uld: false }));
    const heldOut = passages.slice(40);
    const common = { pivot: BASE_A, objective: "kd" as const, targets, lora: { rank: 4, alpha: 8 }, steps: 24, batchSize: 4, seqLen: 32, lr: 1e-2, seed: 5 };
    const kd = await trainPivot({ ...common, lambda: 0, out: path.join(root, "kd") });
    const control = await trainPivot({ ...common, lambda: 1, out: path.join(root, "control") });
    const klBase = await meanKl(medicine, BASE_A, heldOut);
    const klKd = await meanKl(medicine, path.join(root, "kd", "hf"), heldOut);
    const klControl = await meanKl(medicine, path.join(root, "control", "hf"), heldOut);
    expect(klKd).toBeLessThan(klBase * 0.8);
    expect(klKd).toBeLessThan(klControl);
    expect(kd.exported).toEqual(["hf", "model.gguf", "lora", "lora.gguf"]);
    expect(control.steps).toBe(24);
  });

  it("is deterministic, resumes to the same weights, and exports a GGUF and adapter llama.cpp agrees with", async () => {
    const targets = passages.slice(0, 16).map((p) => teacherTargets(p, pivotTokenizer, [medicine, biologyB], { k: 4, aligned: true, uld: true }));
    const common = { pivot: BASE_A, objective: "kd" as const, targets, lambda: 0.5, lora: { rank: 2, alpha: 4 }, steps: 6, batchSize: 2, seqLen: 32, lr: 5e-3, seed: 3 };
    const straight = await trainPivot({ ...common, out: path.join(root, "straight"), parityContexts: passages.slice(0, 2) });
    expect(straight.parity!.maxKl).toBeLessThan(1e-4);
    expect(straight.parity!.loraMaxKl!).toBeLessThan(1e-4);
    const ckpt = path.join(root, "ckpt");
    const stopped = await trainPivot({ ...common, out: path.join(root, "resumed"), checkpointDir: ckpt, checkpointEvery: 2, stopAtStep: 3 });
    expect(stopped.exported).toEqual([]);
    const resumed = await trainPivot({ ...common, out: path.join(root, "resumed"), checkpointDir: ckpt });
    expect(resumed.startStep).toBe(3);
    expect(resumed.losses).toEqual(straight.losses);
    expect(await sameFiles(path.join(root, "straight", "hf"), path.join(root, "resumed", "hf"))).toBe(true);
    // Other targets are another run: the checkpoint is refused, not continued.
    await expect(trainPivot({ ...common, targets: targets.slice(1), out: path.join(root, "other"), checkpointDir: ckpt })).rejects.toThrow(/different run.*objective/);
  });

  it("batches are a pure function of (seed, step) and mask padding", () => {
    const texts: PivotTargets[] = [{ tokens: Int32Array.from([7, 8, 9]), aligned: { k: 1, ids: Int32Array.from([7, 8, 9]), probs: Float32Array.from([1, 1, 1]) } }];
    const a = kdBatch(texts, 1, 4, 2, 5, 1);
    expect(a).toEqual(kdBatch(texts, 1, 4, 2, 5, 1));
    expect(Array.from(a.inputs.subarray(0, 5))).toEqual([1, 7, 8, 1, 1]);
    expect(Array.from(a.targets.subarray(0, 3))).toEqual([7, 8, 9]);
    expect(Array.from(a.mask.subarray(0, 5))).toEqual([1, 1, 1, 0, 0]);
    expect(a.predicted).toBe(6);
  });

  it("rejects bad targets, options and pivots before training", async () => {
    const bad: PivotTargets = { tokens: Int32Array.from([1, 99999]), aligned: { k: 1, ids: Int32Array.from([1, 2]), probs: Float32Array.from([0.5, 0.5]) } };
    const common = { pivot: BASE_A, out: path.join(root, "bad"), objective: "kd" as const, lambda: 0.5, steps: 2, batchSize: 1, seqLen: 8, lr: 1e-3, seed: 0 };
    await expect(trainPivot({ ...common, targets: [bad] })).rejects.toThrow(/targets, text 0: invalid pivot targets: tokens\[1\] = 99999/);
    await expect(trainPivot({ ...common, targets: [] })).rejects.toThrow(/needs distillation targets/);
    const ok: PivotTargets = { tokens: Int32Array.from([1, 2]), aligned: { k: 1, ids: Int32Array.from([1, 2]), probs: Float32Array.from([0.5, 0.5]) } };
    await expect(trainPivot({ ...common, targets: [ok], lambda: 1.5 })).rejects.toThrow(ConfigError);
    const noTokenizer = path.join(root, "no-tokenizer");
    await fs.mkdir(noTokenizer, { recursive: true });
    await fs.copyFile(path.join(BASE_A, "config.json"), path.join(noTokenizer, "config.json"));
    await expect(trainPivot({ ...common, pivot: noTokenizer, targets: [ok] })).rejects.toThrow(/tokenizer.json: no such file or folder/);
    await expect(trainPivot({ ...common, objective: "fpo", targets: [ok] })).rejects.toThrow(/needs preference records/);
  });
});

describe("trainPivot (fpo)", () => {
  it("raises the policy's preference margin over the fused reference on its training pairs", async () => {
    const cloze = (await fs.readFile(path.join(ZOO, "items", "cloze.jsonl"), "utf8")).split("\n").filter(Boolean)
      .map((l) => JSON.parse(l) as { domain: string; context: string; choices: string[]; answer: number })
      .filter((r) => r.domain === "medicine").slice(0, 24);
    const base = await loadTeacher(BASE_A);
    // Reference: the medicine expert and the family-B biology expert, equal weights, each in its own tokenisation.
    const records: FpoRecord[] = cloze.map((c) => {
      const chosen = c.choices[c.answer]!;
      const rejected = c.choices[(c.answer + 1) % c.choices.length]!;
      const ref = (y: string) => 0.5 * meanResponseLogProb(medicine.model, medicine.tokenizer, c.context, y) + 0.5 * meanResponseLogProb(biologyB.model, biologyB.tokenizer, c.context, y);
      return { prompt: c.context, chosen, rejected, reference: { chosen: ref(chosen), rejected: ref(rejected) } };
    });
    const margin = (model: Teacher) => records.reduce((s, r) => s + meanResponseLogProb(model.model, model.tokenizer, r.prompt, r.chosen) - meanResponseLogProb(model.model, model.tokenizer, r.prompt, r.rejected), 0) / records.length;
    const before = margin(base);
    disposeTeacher(base);
    const result = await trainPivot({ pivot: BASE_A, out: path.join(root, "fpo"), objective: "fpo", records, lambda: 0, lora: { rank: 4, alpha: 8 }, steps: 20, batchSize: 4, seqLen: 64, lr: 1e-2, seed: 2 });
    const tuned = await loadTeacher(path.join(root, "fpo", "hf"));
    const after = margin(tuned);
    disposeTeacher(tuned);
    expect(after).toBeGreaterThan(before + 0.1);
    expect(result.losses[result.losses.length - 1]).toBeLessThan(result.losses[0]!);
  });

  it("packs a response as a harness scores a continuation: tokenised with its prompt, BOS only where the tokenizer asks, a long prompt cut from the left", async () => {
    const tokenizer = await readBpeTokenizer(BASE_A);
    const bos = tokenizer.vocab.bosId!;
    expect(tokenizer.vocab.addBos).toBe(false);
    const prompt = "psoriasis: a chronic skin disease characterized by dry red";
    const response = " patches covered with scales";
    const whole = tokenizer.encode(prompt + response);
    const own = tokenizer.encode(prompt);
    const packed = packContinuation(tokenizer, prompt, response, 64);
    const n = packed.responseTokens;
    expect(n).toBeGreaterThan(1);
    expect(packed.responseBytes).toBe(Buffer.byteLength(response));
    // The zoo's tokenizers add no BOS (add_bos_token false), so after a prompt nothing comes first, as llama.cpp scores it.
    expect(Array.from(packed.inputs.subarray(0, whole.length - 1))).toEqual(whole.slice(0, -1));
    const masked = Array.from(packed.targets).filter((_, i) => packed.mask[i] === 1);
    expect(masked).toEqual(whole.slice(whole.length - n));
    expect(whole.slice(0, whole.length - n)).toEqual(own.slice(0, whole.length - n));
    // A tokenizer that asks for BOS gets it first; an empty prompt starts from BOS either way.
    const withBos = { ...tokenizer, vocab: { ...tokenizer.vocab, addBos: true } };
    expect(Array.from(packContinuation(withBos, prompt, response, 64).inputs.subarray(0, whole.length))).toEqual([bos, ...whole.slice(0, -1)]);
    const document = packContinuation(tokenizer, "", response, 64);
    expect(Array.from(document.inputs.subarray(0, document.responseTokens))).toEqual([bos, ...tokenizer.encode(response).slice(0, -1)]);
    expect(Array.from(document.mask.subarray(0, document.responseTokens + 1))).toEqual([...Array(document.responseTokens).fill(1), 0]);
    // A window of n + 2 positions keeps only the last two prompt tokens, as llama.cpp cuts a long context.
    const cut = packContinuation(withBos, prompt, response, n + 2);
    expect(Array.from(cut.inputs)).toEqual(whole.slice(whole.length - n - 3, whole.length - 1));
    expect(Array.from(cut.mask)).toEqual([0, 0, ...Array(n).fill(1)]);
    expect(() => packContinuation(tokenizer, prompt, response, n - 1)).toThrow(/more than seqLen/);
    expect(() => packContinuation(tokenizer, prompt, "", 64)).toThrow(/no tokens of its own/);
    expect(() => fpoObjective({ records: [], beta: 0, lambda: 0, batchSize: 1, seqLen: 4, seed: 0, bosId: 1 })).toThrow(/at least one preference record[\s\S]*beta must be positive/);
  });

  it("its loss is −log σ(β·[(ℓθ(chosen) − ℓθ(rejected)) − reference margin]) + λ·NLL(chosen), per byte or per token", async () => {
    const base = await loadTeacher(BASE_A);
    const prompt = "psoriasis: a chronic skin disease characterized by dry red";
    const chosen = " patches covered with scales";
    const rejected = " rhythms covered with scales";
    const loss = (unit: "byte" | "token", refMargin: number, lambda: number) => {
      const records: FpoRecord[] = [{ prompt, chosen, rejected, reference: { chosen: -1, rejected: -1 - refMargin } }];
      const objective = fpoObjective({ records, beta: 2, lambda, batchSize: 2, seqLen: 64, seed: 0, bosId: base.tokenizer.vocab.bosId!, unit });
      return tf.tidy(() => objective.loss(base.model, 0, base.tokenizer).dataSync()[0]!);
    };
    const softplus = (x: number) => Math.log1p(Math.exp(x));
    try {
      for (const unit of ["byte", "token"] as const) {
        const c = meanResponseLogProb(base.model, base.tokenizer, prompt, chosen, unit);
        const r = meanResponseLogProb(base.model, base.tokenizer, prompt, rejected, unit);
        expect(c).not.toBeCloseTo(r, 3);
        for (const refMargin of [0, 0.5]) {
          expect(loss(unit, refMargin, 0)).toBeCloseTo(softplus(-2 * (c - r - refMargin)), 4);
          expect(loss(unit, refMargin, 0.3)).toBeCloseTo(softplus(-2 * (c - r - refMargin)) - 0.3 * c, 4);
        }
      }
      // Per byte: the summed log-probability over the response's UTF-8 bytes.
      const scored = continuationLogProb(base.model, base.tokenizer, prompt, chosen);
      expect(meanResponseLogProb(base.model, base.tokenizer, prompt, chosen, "byte")).toBeCloseTo(scored.logprob / Buffer.byteLength(chosen), 10);
    } finally {
      disposeTeacher(base);
    }
  });
});
