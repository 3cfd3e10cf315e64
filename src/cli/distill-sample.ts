/**
 * `cogen distill sample`: sequence-level distillation's transfer text — each source model samples
 * seeded continuations of short prompts cut from its own prefix lines (writeSampledCorpus).
 */
import { promises as fs } from "node:fs";
import { InputFileError } from "../core/errors.js";
import { silentProgress, streamProgress } from "../core/progress.js";
import { readModelsFile } from "../formats/models-file.js";
import { writeSampledCorpus, type SampledSource } from "../fuse/distill/sampled-corpus.js";
import { integerFlag, numberFlag, parseFlags, UsageError } from "./args.js";
import { formatTable, printJson } from "./output.js";

const HELP = `usage: cogen distill sample --sources MODELS.yml --prefixes ID=FILE[,ID=FILE…] --out DIR [options]

Transfer text for sequence-level distillation: every source (an entry of MODELS.yml) samples
continuations of the first words of lines of its FILE (e.g. its domain's training lines), one
sample per line, into DIR/<ID>.txt, with DIR/manifest.json. Seeded: the same models, files and
options give the same bytes. The folder appears complete or not at all. Train on it with
'cogen distill train --online --train-text DIR/<ID>.txt,… --teachers …'.

options:
  --samples N        samples per source (default 1000)
  --max-tokens N     tokens generated per sample at most (default 48)
  --prefix-words N   words of a line kept as the prompt (default 4)
  --temperature T    > 0 (default 1)
  --top-p P          nucleus sampling, in (0, 1]
  --seed S           default 0
  --gpu              let llama.cpp use a GPU
  --json             print the manifest as JSON
  --quiet            no progress`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    sources: { type: "string" },
    prefixes: { type: "string" },
    out: { type: "string" },
    samples: { type: "string", default: "1000" },
    "max-tokens": { type: "string", default: "48" },
    "prefix-words": { type: "string", default: "4" },
    temperature: { type: "string", default: "1" },
    "top-p": { type: "string" },
    seed: { type: "string", default: "0" },
    gpu: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
  }, HELP, { positionals: 0, command: "distill sample" });
  const problems: string[] = [];
  for (const flag of ["sources", "prefixes", "out"] as const) if (!values[flag]) problems.push(`--${flag} is required`);
  // Range checks beyond these (temperature > 0, top-p ≤ 1, …) are writeSampledCorpus's, listed at once.
  const samplesPerSource = integerFlag(values.samples, "--samples", problems)!;
  const maxTokens = integerFlag(values["max-tokens"], "--max-tokens", problems)!;
  const prefixWords = integerFlag(values["prefix-words"], "--prefix-words", problems)!;
  const seed = integerFlag(values.seed, "--seed", problems)!;
  const temperature = numberFlag(values.temperature, "--temperature", problems)!;
  const topP = numberFlag(values["top-p"], "--top-p", problems);
  const pairs = (values.prefixes ?? "").split(",").filter(Boolean).map((entry) => entry.split("="));
  for (const pair of pairs) if (pair.length !== 2 || !pair[0] || !pair[1]) problems.push(`--prefixes entries are ID=FILE, got '${pair.join("=")}'`);
  if (problems.length > 0) throw new UsageError(problems);
  const experts = await readModelsFile(values.sources!);
  const unknown = pairs.filter(([id]) => !experts.some((e) => e.id === id));
  if (unknown.length) throw new UsageError(unknown.map(([id]) => `--prefixes names '${id}', which is not an entry of ${values.sources} (entries: ${experts.map((e) => e.id).join(", ")})`));
  const { openModel } = await import("../models/open.js");
  const sources: SampledSource[] = [];
  try {
    for (const [id, file] of pairs as [string, string][]) {
      const text = await fs.readFile(file, "utf8").catch((error: Error) => {
        throw new InputFileError(file, `cannot read the prefix lines: ${error.message}`);
      });
      const spec = experts.find((e) => e.id === id)!;
      sources.push({ name: id.replace(/[^A-Za-z0-9._-]/g, "-"), model: await openModel(spec, { gpu: values.gpu ? "auto" : false }), prefixes: text.split("\n") });
    }
    const manifest = await writeSampledCorpus(values.out!, {
      sources, samplesPerSource, maxTokens, prefixWords, seed,
      temperature,
      ...(topP !== undefined ? { topP } : {}),
      progress: values.quiet || values.json ? silentProgress : streamProgress(),
    });
    if (values.json) printJson(manifest);
    else console.log(formatTable(["source", "model", "file", "samples", "empty", "bytes"], manifest.sources.map((s) => [s.name, s.model, s.file, String(s.samples), String(s.empty), String(s.bytes)])));
    return 0;
  } finally {
    for (const s of sources) await s.model.close();
  }
}
