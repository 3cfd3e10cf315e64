import { promises as fs } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../fixtures/tiny-llama.js";
import { capture } from "./capture.js";

// Real sources and pivot: the committed zoo (family A pivot; a family-A and a family-B expert as sources).
const ZOO = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "zoo");
const BASE_A = path.join(ZOO, "a", "base", "hf");
let root: string;

beforeAll(async () => {
  root = await tempDir("cogen-distill-cli-");
  await fs.writeFile(path.join(root, "texts.txt"), [
    "aspirin: the acetylated derivative of salicylic acid; used as an analgesic",
    "cell: the basic structural and functional unit of all organisms",
    "fever: a rise in the temperature of the body",
  ].join("\n") + "\n");
  await fs.writeFile(path.join(root, "models.yml"), [
    "experts:",
    `  - { id: a-medicine, backend: llamacpp, path: ${JSON.stringify(path.join(ZOO, "a/experts/medicine/model.gguf"))}, threads: 1, context_size: 64 }`,
    `  - { id: b-biology, backend: llamacpp, path: ${JSON.stringify(path.join(ZOO, "b/experts/biology/model.gguf"))}, threads: 1, context_size: 64 }`,
  ].join("\n") + "\n");
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const small = ["--steps", "3", "--batch", "2", "--seq-len", "32", "--lora", "2", "--json", "--quiet"];

describe("cogen distill train", () => {
  it("trains a pivot on 'cogen distill targets' output from both tokenizer families and exports it checked in llama.cpp", async () => {
    const targets = path.join(root, "targets");
    const texts = path.join(root, "texts.txt");
    expect((await capture(["distill", "targets", "--sources", path.join(root, "models.yml"), "--corpus", texts, "--out", targets, "--top-k", "4", "--quiet", "--json"])).code).toBe(0);
    const out = path.join(root, "pivot");
    const run = await capture(["distill", "train", "--pivot", BASE_A, "--corpus", texts, "--targets", targets, "--out", out, ...small]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.out);
    expect(report.steps).toBe(3);
    expect(report.exported).toEqual(["hf", "model.gguf", "lora", "lora.gguf"]);
    expect(report.parity.maxKl).toBeLessThan(1e-4);
    expect(report.parity.loraMaxKl).toBeLessThan(1e-4);
    // A rerun resumes from the finished checkpoint: nothing is trained again.
    const again = JSON.parse((await capture(["distill", "train", "--pivot", BASE_A, "--corpus", texts, "--targets", targets, "--out", out, ...small])).out);
    expect(again.startStep).toBe(3);
    expect(again.losses).toBeUndefined();
    // Targets from another corpus are refused before training.
    const other = path.join(root, "other.txt");
    await fs.writeFile(other, "something else entirely\n");
    const refused = await capture(["distill", "train", "--pivot", BASE_A, "--corpus", other, "--targets", targets, "--out", path.join(root, "x"), ...small]);
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/another corpus/);
  });

  it("trains with FPO on preference records and names a bad record's line and field", async () => {
    const prefs = path.join(root, "prefs.jsonl");
    await fs.writeFile(prefs, [
      { prompt: "fever: a rise in the", chosen: " temperature of the body", rejected: " furniture of the body", reference: { chosen: -2.1, rejected: -3.4 } },
      { prompt: "cell: the basic structural and", chosen: " functional unit", rejected: " fictional unit", reference: { chosen: -1.9, rejected: -2.8 } },
    ].map((r) => JSON.stringify(r)).join("\n") + "\n");
    const run = await capture(["distill", "train", "--objective", "fpo", "--pivot", BASE_A, "--prefs", prefs, "--out", path.join(root, "fpo"), ...small]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.out).exported).toContain("lora.gguf");
    const bad = path.join(root, "bad.jsonl");
    await fs.writeFile(bad, JSON.stringify({ prompt: "p", chosen: "a", rejected: "b", reference: { chosen: 0.5, rejected: -1 } }) + "\n");
    const refused = await capture(["distill", "train", "--objective", "fpo", "--pivot", BASE_A, "--prefs", bad, "--out", path.join(root, "y"), ...small]);
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/bad\.jsonl:1: "reference\.chosen" must be a log-probability/);
  });

  it("trains FPO in the records' unit and refuses records of another unit, naming the file and field", async () => {
    const prefs = path.join(root, "prefs-byte.jsonl");
    await fs.writeFile(prefs, [
      { format: "cogen-fpo/2", unit: "byte", prompt: "fever: a rise in the", chosen: " temperature of the body", rejected: " furniture of the body", reference: { chosen: -0.9, rejected: -1.4 } },
    ].map((r) => JSON.stringify(r)).join("\n") + "\n");
    const fpo = (out: string, ...unit: string[]) => capture(["distill", "train", "--objective", "fpo", "--pivot", BASE_A, "--prefs", prefs, "--out", path.join(root, out), ...unit, ...small]);
    const refused = await fpo("fpo-token", "--unit", "token");
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/prefs-byte\.jsonl:1: "unit" is "byte" .*--unit token/);
    await expect(fs.stat(path.join(root, "fpo-token", "hf"))).rejects.toThrow();
    // Without --unit the trainer takes the records' unit: the same weights as --unit byte.
    expect((await fpo("fpo-inferred")).code).toBe(0);
    expect((await fpo("fpo-byte", "--unit", "byte")).code).toBe(0);
    const weights = (dir: string) => fs.readFile(path.join(root, dir, "hf", "model.safetensors"));
    expect((await weights("fpo-inferred")).equals(await weights("fpo-byte"))).toBe(true);
  });

  it("--online distils from teachers inside each step: deterministic, resumable, exported and checked in llama.cpp", async () => {
    const medicine = path.join(root, "medicine.txt");
    const law = path.join(root, "law.txt");
    await fs.writeFile(medicine, "aspirin: the acetylated derivative of salicylic acid; used as an analgesic\nfever: a rise in the temperature of the body\n".repeat(3));
    await fs.writeFile(law, "tort: any wrongdoing for which an action for damages may be brought\ncontract: a binding agreement between two or more persons\n".repeat(3));
    const online = (out: string, lambda = "0.2") => ["distill", "train", "--online", "--pivot", BASE_A, "--train-text", `${medicine},${law}`,
      "--teachers", `${path.join(ZOO, "a/experts/medicine/hf")},-`, "--lambda", lambda, "--top-k", "4", "--out", out, ...small];
    const first = await capture(online(path.join(root, "online-1")));
    expect(first.code).toBe(0);
    const report = JSON.parse(first.out);
    expect(report.exported).toEqual(["hf", "model.gguf", "lora", "lora.gguf"]);
    expect(report.parity.maxKl).toBeLessThan(1e-4);
    // Same flags, another folder: the same weights.
    expect((await capture(online(path.join(root, "online-2")))).code).toBe(0);
    const weights = (dir: string) => fs.readFile(path.join(root, dir, "hf", "model.safetensors"));
    expect((await weights("online-2")).equals(await weights("online-1"))).toBe(true);
    // The fusion term changes the weights (λ 1 is the CLM control of the same run).
    expect((await capture(online(path.join(root, "online-control"), "1"))).code).toBe(0);
    expect((await weights("online-control")).equals(await weights("online-1"))).toBe(false);
    // A rerun resumes from the finished checkpoint.
    expect(JSON.parse((await capture(online(path.join(root, "online-1")))).out).startStep).toBe(3);
  });

  it("--online distils from a teacher with another tokenizer (family B into a family-A pivot)", async () => {
    const text = path.join(root, "medicine.txt");
    const cross = (out: string, fusion: string) => ["distill", "train", "--online", "--pivot", BASE_A, "--train-text", text,
      "--teachers", path.join(ZOO, "b/experts/biology/hf"), "--fusion", fusion, "--out", path.join(root, out), ...small];
    const aligned = await capture(cross("cross-aligned", "aligned"));
    expect(aligned.code).toBe(0);
    expect(JSON.parse(aligned.out).exported).toEqual(["hf", "model.gguf", "lora", "lora.gguf"]);
    expect((await capture(cross("cross-uld", "uld"))).code).toBe(0);
    const weights = (dir: string) => fs.readFile(path.join(root, dir, "hf", "model.safetensors"));
    // The teacher's targets reach the pivot: ULD and aligned targets train different weights.
    expect((await weights("cross-uld")).equals(await weights("cross-aligned"))).toBe(false);
  });

  it("--online refuses an empty text and mismatched lists before training", async () => {
    const text = path.join(root, "medicine.txt");
    const empty = path.join(root, "empty.txt");
    await fs.writeFile(empty, "\n");
    const base = ["distill", "train", "--online", "--pivot", BASE_A, "--out", path.join(root, "refused"), ...small];
    const emptyText = await capture([...base, "--train-text", empty, "--teachers", "-"]);
    expect(emptyText.code).not.toBe(0);
    expect(emptyText.err).toMatch(/empty\.txt: is empty/);
    const lists = await capture([...base, "--train-text", `${text},${text}`, "--teachers", "-", "--corpus", text]);
    expect(lists.err).toMatch(/drop --corpus[\s\S]*one --teachers entry per --train-text file/);
    await expect(fs.stat(path.join(root, "refused", "hf"))).rejects.toThrow();
  });

  it("lists every flag problem at once", async () => {
    const flags = await capture(["distill", "train", "--objective", "dpo", "--steps", "0", "--lora", "4", "--full"]);
    expect(flags.code).not.toBe(0);
    expect(flags.err).toMatch(/--pivot is required[\s\S]*--out is required[\s\S]*--objective: expected kd or fpo[\s\S]*--steps: expected a positive integer[\s\S]*--lora RANK or --full/);
    expect((await capture(["distill", "train", "--pivot", BASE_A, "--out", path.join(root, "z"), "--corpus", "t.txt"])).err).toMatch(/one of --targets DIR or --teachers/);
    const unit = await capture(["distill", "train", "--pivot", BASE_A, "--out", path.join(root, "z"), "--objective", "fpo", "--prefs", "p.jsonl", "--unit", "char"]);
    expect(unit.code).not.toBe(0);
    expect(unit.err).toMatch(/--unit: expected token or byte, got 'char'/);
    expect((await capture(["distill", "train", "--pivot", BASE_A, "--out", path.join(root, "z"), "--corpus", "t.txt", "--teachers", BASE_A, "--unit", "byte"])).err).toMatch(/--unit applies to --objective fpo only/);
  });
});
