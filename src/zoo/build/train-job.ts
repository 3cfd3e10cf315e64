/**
 * One zoo model: train it (from scratch, or LoRA on a base), export it in every form the zoo
 * holds, and measure its held-out bits per byte on every domain with the trainer's own forward
 * pass. A job is plain JSON so a lane (a child process) can run it.
 *
 * Exports, under `outDir`:
 *   hf/          Hugging Face folder, F32, LoRA merged into the weights
 *   model.gguf   the same converted for llama.cpp (F32)
 *   lora/        PEFT adapter (LoRA jobs only)
 *   lora.gguf    llama.cpp runtime LoRA adapter (LoRA jobs only)
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { Progress } from "../../core/progress.js";
import { convertHfToGguf } from "../../formats/convert/hf-to-gguf.js";
import { parseLlamaConfig } from "../../formats/hf/config.js";
import { evaluateBitsPerByte } from "../train/evaluate.js";
import { exportHf, exportLora } from "../train/export.js";
import { exportLoraGguf } from "../train/lora-gguf.js";
import { disposeTrainModel } from "../train/model.js";
import { readBpeTokenizer } from "../train/tokenize.js";
import { trainLanguageModel } from "../train/train.js";

export type ModelRole = "base" | "expert" | "control" | "centralised";

export interface TrainJob {
  /** Zoo-relative id and folder: "a/base", "a/experts/law", "a/control". */
  id: string;
  family: string;
  role: ModelRole;
  /** The expert's domain. */
  domain?: string;
  /** Absolute output folder (replaced). */
  outDir: string;
  /** A file holding the training text. */
  trainTextFile: string;
  steps: number;
  lr: number;
  seed: number;
  batchSize: number;
  seqLen: number;
  /** config.json object for a model trained from scratch. */
  config?: Record<string, unknown>;
  /** Folder with tokenizer.json (from-scratch models). */
  tokenizerDir?: string;
  /** The base's HF folder (adapted models). */
  init?: string;
  lora?: { rank: number; alpha: number };
  /** Held-out text per domain, for bits per byte. */
  heldOut: { domain: string; file: string }[];
}

export interface TrainJobResult {
  id: string;
  seconds: number;
  stepsPerSecond: number;
  /** Mean training loss (nats per token) over the last 10% of steps. */
  finalLoss: number;
  /** Trainer's held-out bits per byte per domain. */
  heldOutBpb: Record<string, number>;
  exported: string[];
}

export async function runTrainJob(job: TrainJob, progress?: Progress): Promise<TrainJobResult> {
  const trainText = await fs.readFile(job.trainTextFile, "utf8");
  const tokenizer = job.tokenizerDir ? await readBpeTokenizer(job.tokenizerDir) : undefined;
  const config = job.config ? parseLlamaConfig(job.config, `${job.id}: config`) : undefined;
  const result = await trainLanguageModel({
    config, tokenizer, init: job.init, lora: job.lora, trainText,
    steps: job.steps, batchSize: job.batchSize, seqLen: job.seqLen, lr: job.lr, seed: job.seed, progress,
  });
  try {
    await fs.mkdir(job.outDir, { recursive: true });
    const exported: string[] = [];
    const hfDir = path.join(job.outDir, "hf");
    await exportHf(result.model, hfDir, { tokenizer: result.tokenizer });
    exported.push("hf");
    await convertHfToGguf(hfDir, path.join(job.outDir, "model.gguf"), { dtype: "f32", name: `cogen-zoo-${job.id.replaceAll("/", "-")}` });
    exported.push("model.gguf");
    if (job.lora) {
      // base_model_name_or_path: the base's HF folder, relative to the adapter folder.
      const loraDir = path.join(job.outDir, "lora");
      await exportLora(result.model, loraDir, { baseModel: job.init ? path.relative(loraDir, job.init).split(path.sep).join("/") : undefined });
      exported.push("lora");
      await exportLoraGguf(result.model, path.join(job.outDir, "lora.gguf"));
      exported.push("lora.gguf");
    }
    const heldOutBpb: Record<string, number> = {};
    for (const { domain, file } of job.heldOut) {
      const text = await fs.readFile(file, "utf8");
      heldOutBpb[domain] = (await evaluateBitsPerByte(result.model, result.tokenizer, text, { seqLen: job.seqLen })).bitsPerByte;
    }
    const tail = result.losses.slice(-Math.max(1, Math.floor(result.losses.length / 10)));
    return {
      id: job.id, seconds: result.seconds, stepsPerSecond: result.stepsPerSecond,
      finalLoss: tail.reduce((s, x) => s + x, 0) / tail.length, heldOutBpb, exported,
    };
  } finally {
    disposeTrainModel(result.model);
  }
}
