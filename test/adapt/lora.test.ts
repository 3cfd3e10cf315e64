import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adaptLora, type AdaptLoraOptions } from "../../src/adapt/lora.js";
import { ConfigError, InputFileError } from "../../src/core/errors.js";
import { readModelsFile } from "../../src/formats/models-file.js";
import { loraParity } from "../../src/models/llamacpp/parity.js";
import { FIXTURE_TEXT, makeTinyLlama, tempDir, type TinyLlama } from "../fixtures/tiny-llama.js";

/** Forty short paragraphs about one topic: a "domain" the tiny base has not seen much of. */
const USER_TEXT = Array.from({ length: 40 }, (_, i) =>
  `Note ${i}: the heart pumps blood through the arteries; patient ${i % 7} had a pulse of ${60 + i} beats.`).join("\n\n");

let root: string;
let tiny: TinyLlama;
let dataFile: string;

beforeAll(async () => {
  root = await tempDir("cogen-adapt-lora-");
  tiny = await makeTinyLlama(root, "byte-fallback");
  dataFile = path.join(root, "notes.txt");
  await fs.writeFile(dataFile, USER_TEXT);
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const small = (outDir: string, extra: Partial<AdaptLoraOptions> = {}): AdaptLoraOptions => ({
  base: tiny.dir, data: dataFile, outDir, rank: 2, steps: 6, evalEvery: 2, patience: 5, batchSize: 2, seqLen: 16, lr: 1e-2, seed: 3, ...extra,
});

describe("adaptLora", () => {
  it("trains, improves held-out bits per byte, and writes every export with a card and a models entry", async () => {
    const out = path.join(root, "run");
    const report = await adaptLora(small(out));
    expect(report.complete).toBe(true);
    expect(report.history.map((p) => p.step)).toEqual([0, 2, 4, 6]);
    expect(report.heldOutBpbAfter).toBeLessThan(report.heldOutBpbBefore);
    expect(report.data.heldOutDocuments).toBeGreaterThan(0);
    expect(report.data.trainDocuments + report.data.heldOutDocuments).toBe(40);
    for (const f of ["adapter/adapter_config.json", "adapter/adapter_model.safetensors", "adapter.gguf", "hf/config.json", "model.gguf", "README.md", "card.json"]) {
      await expect(fs.stat(path.join(out, f))).resolves.toBeTruthy();
    }
    const card = JSON.parse(await fs.readFile(path.join(out, "card.json"), "utf8"));
    expect(card.data.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(card.heldOutBpbAfter).toBe(report.heldOutBpbAfter);
    const [expert] = await readModelsFile(path.join(out, "models.yaml"));
    expect(expert.id).toBe("run");
    expect(expert.path).toBe(path.join(out, "model.gguf"));
    // The llama.cpp runtime adapter on the base gives the merged model's distributions.
    const kl = await loraParity(await tiny.gguf("f32"), path.join(out, "adapter.gguf"), path.join(out, "model.gguf"), tiny.config.vocabSize, [FIXTURE_TEXT.slice(0, 80)]);
    expect(kl).toBeLessThan(1e-3);
  });

  it("is deterministic with a seed, and an interrupted run resumed ends where an uninterrupted one does", async () => {
    const a = path.join(root, "det-a");
    const b = path.join(root, "det-b");
    await adaptLora(small(a));
    const partial = await adaptLora(small(b, { stopAtStep: 2 }));
    expect(partial.complete).toBe(false);
    await expect(fs.stat(path.join(b, "adapter.gguf"))).rejects.toThrow();
    const resumed = await adaptLora(small(b, { resume: true }));
    expect(resumed.history.map((p) => p.step)).toEqual([0, 2, 4, 6]);
    const bytes = async (dir: string) => fs.readFile(path.join(dir, "adapter", "adapter_model.safetensors"));
    expect(Buffer.compare(await bytes(a), await bytes(b))).toBe(0);
  });

  it("stops early when held-out bits per byte stop improving and exports the best step", async () => {
    const out = path.join(root, "early");
    // A learning rate this high makes held-out loss worse after the first rounds.
    const report = await adaptLora(small(out, { lr: 0.5, steps: 20, patience: 1 }));
    expect(report.stoppedEarly).toBe(true);
    expect(report.stepsRun).toBeLessThan(20);
    const best = Math.min(...report.history.map((p) => p.bitsPerByte));
    expect(report.heldOutBpbAfter).toBe(best);
    expect(report.history.find((p) => p.bitsPerByte === best)!.step).toBe(report.bestStep);
  });

  it("takes a GGUF base", async () => {
    const out = path.join(root, "from-gguf");
    const report = await adaptLora(small(out, { base: await tiny.gguf("f32"), steps: 2 }));
    expect(report.complete).toBe(true);
    await expect(fs.stat(path.join(out, "model.gguf"))).resolves.toBeTruthy();
  });

  it("refuses a run over --max-memory or --max-minutes with the estimate", async () => {
    const run = adaptLora(small(path.join(root, "big"), { maxMemoryBytes: 1000, maxMinutes: 1e-9 }));
    await expect(run).rejects.toThrow(ConfigError);
    await expect(run).rejects.toThrow(/memory ≈ .* > --max-memory[\s\S]*time ≈/);
  });

  it("refuses bad data naming the file", async () => {
    const cases: [string, Uint8Array | string, RegExp][] = [
      ["empty.txt", "", /empty/],
      ["blob.txt", Uint8Array.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x14]), /binary/],
      ["latin1.txt", Buffer.from("caf\xe9 cr\xe8me\n\nna\xefve", "latin1"), /not valid UTF-8.*offset 3/],
      ["utf16.txt", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("hello", "utf16le")]), /UTF-16/],
      ["short.txt", "One line.\n\nAnother line.", /shorter than one context/],
      ["bad.jsonl", '{"text": "fine"}\n{"body": "no text"}\n', /bad\.jsonl:2: .*'text'/],
    ];
    for (const [name, content, message] of cases) {
      const file = path.join(root, name);
      await fs.writeFile(file, content);
      const run = adaptLora(small(path.join(root, `bad-${name}`), { data: file }));
      await expect(run).rejects.toThrow(InputFileError);
      await expect(run).rejects.toThrow(message);
      await expect(run).rejects.toThrow(name);
    }
  });
});
