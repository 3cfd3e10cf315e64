import { promises as fs } from "node:fs";
import * as path from "node:path";
import { writeDirAtomic } from "../../core/atomic.js";
import { BackendError, CogenError, ConfigError } from "../../core/errors.js";
import { generateText, type LanguageModel } from "../../core/language-model.js";
import { silentProgress, type Progress } from "../../core/progress.js";
import { Rng, seedFromLabel } from "../../core/rng.js";

/**
 * Sequence-level distillation's transfer text: each teacher samples continuations of short
 * prefixes of its own domain's training lines, so the pivot can then be taught (hard labels or the
 * teacher's top-k) on text that no model trained on. Every choice is seeded: the prefix of sample
 * i and its sampling seed come from (seed, source name, i), so the same models and options give
 * the same bytes, and one source's text does not depend on the others.
 */
export interface SampledSource {
  /** Names the source's file (`<name>.txt`): letters, digits, '.', '_' and '-'. */
  name: string;
  model: LanguageModel;
  /** Lines the prompts are cut from (e.g. the domain's training lines); empty lines are ignored. */
  prefixes: readonly string[];
}

export interface SampledCorpusOptions {
  sources: readonly SampledSource[];
  samplesPerSource: number;
  /** Tokens generated per sample at most (prompt and sample must fit the model's context). */
  maxTokens: number;
  /** Words of a prefix line kept as the prompt (default 4). */
  prefixWords?: number;
  /** Sampling temperature, > 0 (default 1). */
  temperature?: number;
  /** Nucleus sampling in (0, 1] (default none). */
  topP?: number;
  seed: number;
  progress?: Progress;
}

export const SAMPLED_CORPUS_FORMAT = "cogen-sampled-corpus/1";

export interface SampledCorpusManifest {
  format: typeof SAMPLED_CORPUS_FORMAT;
  seed: number;
  temperature: number;
  topP?: number;
  maxTokens: number;
  prefixWords: number;
  samplesPerSource: number;
  /** Per source: its file, the samples written and those that came back empty (not written). */
  sources: { name: string; model: string; file: string; samples: number; empty: number; bytes: number }[];
}

const NAME = /^[A-Za-z0-9._-]+$/;

function check(options: SampledCorpusOptions): void {
  const problems: string[] = [];
  const { sources, samplesPerSource, maxTokens } = options;
  const temperature = options.temperature ?? 1;
  if (sources.length === 0) problems.push("no sources to sample from");
  if (!(Number.isInteger(samplesPerSource) && samplesPerSource >= 1)) problems.push(`samplesPerSource must be a positive integer (got ${samplesPerSource})`);
  if (!(Number.isInteger(maxTokens) && maxTokens >= 1)) problems.push(`maxTokens must be a positive integer (got ${maxTokens})`);
  if (options.prefixWords !== undefined && !(Number.isInteger(options.prefixWords) && options.prefixWords >= 1)) problems.push(`prefixWords must be a positive integer (got ${options.prefixWords})`);
  if (!(temperature > 0 && Number.isFinite(temperature))) problems.push(`temperature must be > 0: greedy decoding repeats one text per prefix (got ${temperature})`);
  if (options.topP !== undefined && !(options.topP > 0 && options.topP <= 1)) problems.push(`topP must be in (0, 1] (got ${options.topP})`);
  const seen = new Set<string>();
  for (const s of sources) {
    if (!NAME.test(s.name)) problems.push(`source name '${s.name}' must use only letters, digits, '.', '_' and '-' (it names a file)`);
    if (seen.has(s.name)) problems.push(`source name '${s.name}' is given twice`);
    seen.add(s.name);
    if (!s.prefixes.some((line) => line.trim())) problems.push(`source '${s.name}' has no non-empty prefix line`);
  }
  if (problems.length) throw new ConfigError(problems);
}

/** The first `words` words of a line: the prompt a teacher continues. */
export function promptOf(line: string, words: number): string {
  return line.trim().split(/\s+/).slice(0, words).join(" ");
}

/** One source's samples: prompt + continuation per line, each sample's prefix and seed drawn from (seed, name, i). */
async function sampleSource(source: SampledSource, options: SampledCorpusOptions, progress: Progress): Promise<{ lines: string[]; empty: number }> {
  const lines = source.prefixes.filter((line) => line.trim());
  const words = options.prefixWords ?? 4;
  const rng = new Rng(seedFromLabel(`sampled-corpus/${options.seed}/${source.name}`));
  const out: string[] = [];
  let empty = 0;
  for (let i = 0; i < options.samplesPerSource; i++) {
    const prompt = promptOf(lines[rng.nextU32() % lines.length]!, words);
    const seed = rng.nextU32() & 0x7fffffff;
    let text: string;
    try {
      ({ text } = await generateText(source.model, prompt, { maxTokens: options.maxTokens, temperature: options.temperature ?? 1, topP: options.topP, seed, stop: ["\n"] }));
    } catch (error) {
      if (CogenError.isInstance(error)) throw error;
      throw new BackendError(source.model.id, `source '${source.name}' cannot generate (sample ${i}, prompt ${JSON.stringify(prompt)}): ${(error as Error).message}`);
    }
    // A sample is one line of text, as the training text is; an empty continuation teaches nothing.
    const continuation = text.replace(/\s+/g, " ").trimEnd();
    if (!continuation.trim()) empty++;
    else out.push(prompt + continuation);
    progress.tick(1);
  }
  if (out.length === 0) throw new BackendError(source.model.id, `source '${source.name}' generated no text for any of its ${options.samplesPerSource} prompts`);
  return { lines: out, empty };
}

/**
 * Sample every source and write `<out>/<name>.txt` (one sample per line) and `<out>/manifest.json`.
 * The folder appears complete or not at all (written under a temporary name, then renamed), and
 * a source that cannot generate, or whose every sample is empty, fails the run with its name.
 */
export async function writeSampledCorpus(out: string, options: SampledCorpusOptions): Promise<SampledCorpusManifest> {
  check(options);
  const progress = options.progress ?? silentProgress;
  progress.start("sampling transfer text", options.sources.length * options.samplesPerSource, "samples");
  const manifest: SampledCorpusManifest = {
    format: SAMPLED_CORPUS_FORMAT,
    seed: options.seed,
    temperature: options.temperature ?? 1,
    ...(options.topP !== undefined ? { topP: options.topP } : {}),
    maxTokens: options.maxTokens,
    prefixWords: options.prefixWords ?? 4,
    samplesPerSource: options.samplesPerSource,
    sources: [],
  };
  await writeDirAtomic(out, async (dir) => {
    for (const source of options.sources) {
      const { lines, empty } = await sampleSource(source, options, progress);
      const text = lines.join("\n") + "\n";
      const file = `${source.name}.txt`;
      await fs.writeFile(path.join(dir, file), text);
      manifest.sources.push({ name: source.name, model: source.model.id, file, samples: lines.length, empty, bytes: Buffer.byteLength(text) });
    }
    await fs.writeFile(path.join(dir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  });
  progress.done(`${manifest.sources.reduce((s, x) => s + x.samples, 0)} samples`);
  return manifest;
}
