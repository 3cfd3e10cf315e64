import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeLoraGguf } from "../merge/lora/gguf-adapter.js";
import { streamProgress } from "../core/progress.js";
import { applyLora } from "../merge/lora/apply.js";
import { extractLora } from "../merge/lora/extract.js";
import { integerFlag, parseFlags, parseSize, UsageError, subcommand } from "./args.js";
import { printJson } from "./output.js";

const HELP = `usage: cogen lora extract --base B --model M --rank R OUT [--out-format peft|gguf] [--seed N] [--json]
       cogen lora apply --base B --adapter A OUT [--out-shard-size 5B] [--json]

extract  a PEFT LoRA adapter (adapter_model.safetensors + adapter_config.json) approximating
         M − B in every linear layer by a rank-R truncated SVD (randomized, 2 power iterations);
         --out-format gguf writes OUT as a llama.cpp LoRA adapter file instead
apply    merge a PEFT LoRA adapter into B's weights (W + alpha/r · B·A) as a new HF folder`;

export async function run(argv: string[]): Promise<number> {
  const { sub, rest } = subcommand(argv, ["extract", "apply"], HELP, "lora");
  const { values, positionals } = parseFlags(rest, {
    base: { type: "string" }, model: { type: "string" }, adapter: { type: "string" }, rank: { type: "string" },
    seed: { type: "string" }, "out-shard-size": { type: "string" }, "out-format": { type: "string" }, json: { type: "boolean" },
  }, HELP, { command: `lora ${sub}` });
  const problems: string[] = [];
  if (positionals.length !== 1) problems.push(`give exactly one output path (got ${positionals.length})`);
  if (!values.base) problems.push("--base is required");
  const format = values["out-format"] ?? "peft";
  if (format !== "peft" && format !== "gguf") problems.push(`--out-format: expected peft or gguf, got '${format}'`);
  if (sub === "apply" && values["out-format"]) problems.push("--out-format applies to extract only");
  const progress = values.json ? undefined : streamProgress();
  if (sub === "extract") {
    if (!values.model) problems.push("--model is required");
    if (values.rank === undefined) problems.push("--rank is required");
    const rank = integerFlag(values.rank, "--rank", problems, 1)!;
    const seed = integerFlag(values.seed, "--seed", problems, 0) ?? 0;
    if (problems.length) throw new UsageError(problems, "lora extract");
    const options = { base: values.base!, model: values.model!, rank, seed, ...(progress ? { progress } : {}) };
    let report;
    if (format === "gguf") {
      const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-lora-"));
      try {
        report = await extractLora({ ...options, outDir: path.join(tmp, "adapter") });
        await writeLoraGguf(path.join(tmp, "adapter"), values.base!, positionals[0]);
        report.files = [positionals[0]];
      } finally {
        await fs.rm(tmp, { recursive: true, force: true });
      }
    } else report = await extractLora({ ...options, outDir: positionals[0] });
    if (values.json) printJson(report);
    else console.log(`extracted rank-${rank} LoRA for ${report.modules} modules → ${positionals[0]} (mean relative error ${report.meanRelativeError.toExponential(2)})`);
    return 0;
  }
  if (!values.adapter) problems.push("--adapter is required");
  if (problems.length) throw new UsageError(problems, "lora apply");
  const maxShardBytes = values["out-shard-size"] ? parseSize(values["out-shard-size"], "--out-shard-size") : undefined;
  const report = await applyLora({ base: values.base!, adapter: values.adapter!, outDir: positionals[0], ...(maxShardBytes ? { maxShardBytes } : {}), ...(progress ? { progress } : {}) });
  if (values.json) printJson(report);
  else console.log(`applied ${report.modules} LoRA modules → ${positionals[0]}`);
  return 0;
}
