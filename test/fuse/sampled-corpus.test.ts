/**
 * writeSampledCorpus on a real zoo expert (llama.cpp, family B): seeded and repeatable, prompts
 * cut from the given lines, and bad input (options, a source that cannot generate, a source that
 * generates nothing) refused with the source named and no folder left behind.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackendError, ConfigError } from "../../src/core/errors.js";
import type { GenerateChunk, LanguageModel } from "../../src/core/language-model.js";
import { promptOf, writeSampledCorpus, type SampledCorpusOptions } from "../../src/fuse/distill/sampled-corpus.js";
import { createLlamaCppModel } from "../../src/models/llamacpp/model.js";

const zoo = (file: string) => fileURLToPath(new URL(`../../zoo/${file}`, import.meta.url));
const LINES = [
  "peso: the basic unit of money in Mexico and several other countries",
  "",
  "stock exchange: a building where shares are bought and sold",
  "bond: a certificate of debt issued by a government or corporation",
];

let model: LanguageModel;
let dir: string;
beforeAll(async () => {
  model = await createLlamaCppModel({ id: "b/experts/finance", path: zoo("b/experts/finance/model.gguf"), contextSize: 64, threads: 1 });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-sampled-"));
});
afterAll(async () => {
  await model?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const options = (over: Partial<SampledCorpusOptions> = {}): SampledCorpusOptions => ({
  sources: [{ name: "finance", model, prefixes: LINES }],
  samplesPerSource: 12,
  maxTokens: 24,
  seed: 5,
  ...over,
});

/** A source at the test edge: generation fails, or gives only whitespace. */
const fake = (generate: () => AsyncIterable<GenerateChunk>): LanguageModel => ({ ...model, id: "fake", generate });

describe("writeSampledCorpus", () => {
  it("samples seeded continuations of the prefixes' first words, the same bytes for the same seed", async () => {
    const manifest = await writeSampledCorpus(path.join(dir, "one"), options());
    await writeSampledCorpus(path.join(dir, "two"), options());
    await writeSampledCorpus(path.join(dir, "other"), options({ seed: 6 }));
    const read = (name: string) => fs.readFile(path.join(dir, name, "finance.txt"), "utf8");
    const text = await read("one");
    expect(text).toBe(await read("two"));
    expect(text).not.toBe(await read("other"));
    const lines = text.trimEnd().split("\n");
    expect(lines.length).toBe(manifest.sources[0]!.samples);
    expect(manifest.sources[0]!.samples + manifest.sources[0]!.empty).toBe(12);
    const prompts = LINES.filter((l) => l).map((l) => promptOf(l, 4));
    for (const line of lines) {
      const prompt = prompts.find((p) => line.startsWith(p));
      expect(prompt, line).toBeDefined();
      expect(line.length).toBeGreaterThan(prompt!.length);
    }
    // Sampled, not greedy: one prompt does not always give one text.
    expect(new Set(lines).size).toBeGreaterThan(prompts.length);
    expect(JSON.parse(await fs.readFile(path.join(dir, "one", "manifest.json"), "utf8"))).toEqual(manifest);
    expect(manifest).toMatchObject({ format: "cogen-sampled-corpus/1", seed: 5, temperature: 1, maxTokens: 24, prefixWords: 4, samplesPerSource: 12 });
  });

  it("lists every bad option at once and writes nothing", async () => {
    const out = path.join(dir, "bad");
    const error = await writeSampledCorpus(out, options({
      sources: [{ name: "fin/ance", model, prefixes: ["", "  "] }],
      samplesPerSource: 0, temperature: 0, topP: 1.5,
    })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toHaveLength(5);
    expect((error as Error).message).toMatch(/samplesPerSource.*0/);
    expect((error as Error).message).toMatch(/temperature must be > 0/);
    expect((error as Error).message).toMatch(/no non-empty prefix line/);
    await expect(fs.access(out)).rejects.toThrow();
  });

  it("names a source that cannot generate, or generates nothing, and leaves no folder", async () => {
    const out = path.join(dir, "failed");
    const broken = fake(() => ({ [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error("decode failed")) }) }));
    const sources = (m: LanguageModel) => [{ name: "finance", model, prefixes: LINES }, { name: "broken", model: m, prefixes: LINES }];
    await expect(writeSampledCorpus(out, options({ sources: sources(broken) }))).rejects.toThrow(/source 'broken' cannot generate \(sample 0.*decode failed/);
    await expect(fs.access(out)).rejects.toThrow();
    const silent = fake(async function* () {
      yield { type: "text", text: "  \t" };
      yield { type: "finish", reason: "stop" };
    });
    const error = await writeSampledCorpus(out, options({ sources: sources(silent) })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect((error as Error).message).toMatch(/source 'broken' generated no text for any of its 12 prompts/);
    await expect(fs.access(out)).rejects.toThrow();
  });
});
