import * as path from "node:path";
import { readTextFile } from "../core/files.js";
import { streamProgress } from "../core/progress.js";
import { parseMergeConfig } from "../merge/config.js";
import { modelRefs, runMerge, type MergeReport } from "../merge/engine.js";
import { refuseOutputOverInputs } from "../merge/inputs.js";
import { runMultiMerge, UNNAMED_MERGE } from "../merge/multi.js";
import { isMultiMergeConfig } from "../formats/mergekit-config.js";
import { methodNames } from "../merge/methods/registry.js";
import { integerFlag, parseFlags, parseSize, UsageError } from "./args.js";
import { formatBytes, printJson, refuseToReplace } from "./output.js";

const HELP = `usage: cogen merge CONFIG.yml OUT_DIR [--seed N] [--out-shard-size 5B] [--threads N]
                   [--out-format hf|gguf] [--dry-run] [--force] [--json]

Merge models that share an architecture, from a mergekit YAML config (mergekit-yaml compatible).
Models are local Hugging Face folders, GGUF files, or PATH+LORA_PATH (adapter merged in first);
relative paths resolve against the current directory. OUT_DIR appears complete or not at all.

A mergekit-multi file (several merges separated by '---', each with a 'name'; later merges use
an earlier one's name as a model) runs every merge in dependency order into OUT_DIR/<name>; the
unnamed merge (at most one) goes to OUT_DIR/${UNNAMED_MERGE} and is the result, else the last one is.

Methods: ${methodNames().join(", ")}

  --seed N            seed for random methods (dare_*, della*); same inputs + seed = same bytes
  --out-shard-size S  largest output shard (default 5B = 5e9 bytes; also 500M, 2GiB)
  --threads N         worker threads for the merge math (default 1)
  --out-format F      hf (default: sharded safetensors folder) or gguf (OUT_DIR/model.gguf)
  --force             replace OUT_DIR when it exists and is not empty (default: refuse)
  --dry-run           validate the config and every input's shapes; write nothing
  --json              print the report as JSON`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    seed: { type: "string" }, "out-shard-size": { type: "string" }, threads: { type: "string" },
    "out-format": { type: "string" }, "dry-run": { type: "boolean" }, json: { type: "boolean" }, force: { type: "boolean" },
  }, HELP);
  if (positionals.length !== 2) throw new UsageError([`give CONFIG.yml and OUT_DIR (got ${positionals.length} argument${positionals.length === 1 ? "" : "s"})`]);
  const [configFile, outDir] = positionals;
  const problems: string[] = [];
  const seed = integerFlag(values.seed, "--seed", problems, 0);
  const threads = integerFlag(values.threads, "--threads", problems, 1);
  const format = values["out-format"] ?? "hf";
  if (format !== "hf" && format !== "gguf") problems.push(`--out-format: expected hf or gguf, got '${format}'`);
  const maxShardBytes = values["out-shard-size"] ? parseSize(values["out-shard-size"], "--out-shard-size") : undefined;
  if (problems.length) throw new UsageError(problems);
  const text = await readTextFile(configFile);
  // Writing over an input is refused even with --force: say so before suggesting --force.
  if (!isMultiMergeConfig(text, configFile)) await refuseOutputOverInputs(outDir, modelRefs(parseMergeConfig(text, configFile).config), process.cwd());
  if (!values["dry-run"]) await refuseToReplace(outDir, values.force);
  const options = {
    config: text, configName: configFile, baseDir: process.cwd(), outDir: path.resolve(outDir),
    ...(seed !== undefined ? { seed } : {}), ...(threads !== undefined ? { threads } : {}),
    ...(maxShardBytes !== undefined ? { maxShardBytes } : {}),
    outFormat: format as "hf" | "gguf", dryRun: Boolean(values["dry-run"]),
    ...(values.json ? {} : { progress: streamProgress() }),
  };
  if (isMultiMergeConfig(text, configFile)) {
    const multi = await runMultiMerge(options);
    if (values.json) {
      printJson(multi);
      return 0;
    }
    for (const w of multi.warnings) console.error(`warning: ${w}`);
    for (const m of multi.merges) printReport(m.report, m.outDir);
    console.log(`result: ${multi.result}`);
    return 0;
  }
  const report = await runMerge(options);
  if (values.json) {
    printJson(report);
    return 0;
  }
  printReport(report, outDir);
  return 0;
}

function printReport(report: MergeReport, outDir: string): void {
  for (const w of report.warnings) console.error(`warning: ${w}`);
  if (report.dryRun) console.log(`ok: ${report.method}, ${report.tensors} tensors, ${report.layers} layers, ${formatBytes(report.outputBytes)} to write (dry run, nothing written)`);
  else {
    const mbps = report.inputBytesRead / 1e6 / Math.max(report.seconds, 1e-9);
    console.log(`merged (${report.method}) ${report.tensors} tensors, ${report.layers} layers → ${outDir} (${formatBytes(report.outputBytes)}) in ${report.seconds.toFixed(1)}s, ${mbps.toFixed(0)} MB/s of input`);
  }
}
