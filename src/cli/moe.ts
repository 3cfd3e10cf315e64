import * as path from "node:path";
import { readTextFile } from "../core/files.js";
import { streamProgress } from "../core/progress.js";
import { buildMoe, moeModelRefs } from "../fuse/moe/build.js";
import { GATE_MODES, parseMoeConfig } from "../formats/moe-config.js";
import { refuseOutputOverInputs } from "../merge/inputs.js";
import { integerFlag, parseFlags, parseSize, UsageError } from "./args.js";
import { formatBytes, printJson, refuseToReplace } from "./output.js";

const HELP = `usage: cogen moe CONFIG.yml OUT_DIR [--out-format hf|gguf] [--non-expert base|average]
                 [--seed N] [--out-shard-size 5B] [--threads N] [--dry-run] [--force] [--json]
       cogen moe train-gates MOE_DIR OUT_DIR --data ... (train the gates: 'cogen moe train-gates --help')

Assemble same-base experts into one Mixtral-style mixture of experts from a mergekit-moe YAML
config (base_model, gate_mode, dtype, experts_per_token, experts[].source_model,
positive_prompts, negative_prompts, noise_scale, residual_scale). Experts are local Hugging Face
folders, GGUF files, or BASE+LORA_PATH. Each expert keeps its whole feed-forward network; the
routers start from the prompts (gate modes: ${GATE_MODES.join(", ")}). OUT_DIR appears complete
or not at all.

  --out-format F      hf (default: MixtralForCausalLM folder) or gguf (OUT_DIR/model.gguf, llama.cpp)
  --non-expert S      attention, norms and embeddings from the base (default, as mergekit-moe) or
                      the experts' average (Branch-Train-MiX); overrides cogen_non_expert in the config
  --seed N            seed for random gates and noise_scale (default 0)
  --out-shard-size S  largest output shard (default 5B = 5e9 bytes)
  --threads N         worker threads for the hidden gates' forward pass (default 1; the same gates)
  --force             replace OUT_DIR when it exists and is not empty (default: refuse)
  --dry-run           check the config and every input; write nothing
  --json              print the report as JSON`;

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === "train-gates") return (await import("./moe-train-gates.js")).run(argv.slice(1));
  const { values, positionals } = parseFlags(argv, {
    "out-format": { type: "string" }, "non-expert": { type: "string" }, seed: { type: "string" },
    "out-shard-size": { type: "string" }, threads: { type: "string" }, "dry-run": { type: "boolean" }, json: { type: "boolean" }, force: { type: "boolean" },
  }, HELP);
  if (positionals.length !== 2) throw new UsageError([`give CONFIG.yml and OUT_DIR (got ${positionals.length} argument${positionals.length === 1 ? "" : "s"})`]);
  const [configFile, outDir] = positionals;
  const problems: string[] = [];
  const format = values["out-format"] ?? "hf";
  if (format !== "hf" && format !== "gguf") problems.push(`--out-format: expected hf or gguf, got '${format}'`);
  const nonExpert = values["non-expert"];
  if (nonExpert !== undefined && nonExpert !== "base" && nonExpert !== "average") problems.push(`--non-expert: expected base or average, got '${nonExpert}'`);
  const seed = integerFlag(values.seed, "--seed", problems, 0);
  const threads = integerFlag(values.threads, "--threads", problems, 1);
  const maxShardBytes = values["out-shard-size"] ? parseSize(values["out-shard-size"], "--out-shard-size") : undefined;
  if (problems.length) throw new UsageError(problems);
  const text = await readTextFile(configFile);
  // Writing over an input is refused even with --force: say so before suggesting --force.
  await refuseOutputOverInputs(outDir, moeModelRefs(parseMoeConfig(text, configFile)), process.cwd());
  if (!values["dry-run"]) await refuseToReplace(outDir, values.force);
  const report = await buildMoe({
    config: text, configName: configFile, baseDir: process.cwd(), outDir: path.resolve(outDir),
    outFormat: format as "hf" | "gguf", dryRun: Boolean(values["dry-run"]),
    ...(nonExpert ? { nonExpert: nonExpert as "base" | "average" } : {}),
    ...(seed !== undefined ? { seed } : {}), ...(threads !== undefined ? { threads } : {}), ...(maxShardBytes !== undefined ? { maxShardBytes } : {}),
    ...(values.json ? {} : { progress: streamProgress() }),
  });
  if (values.json) {
    printJson(report);
    return 0;
  }
  for (const w of report.warnings) console.error(`warning: ${w}`);
  const what = `${report.experts} experts (top-${report.expertsPerToken}), ${report.layers} layers, gates ${report.gateMode}, non-expert weights ${report.nonExpert === "base" ? "from the base" : "averaged"}`;
  if (report.dryRun) console.log(`ok: ${what}, ${report.tensors} tensors, ${formatBytes(report.outputBytes)} to write (dry run, nothing written)`);
  else console.log(`built ${what} → ${outDir} (${formatBytes(report.outputBytes)}) in ${report.seconds.toFixed(1)}s (gates ${report.gateSeconds.toFixed(1)}s)`);
  return 0;
}
