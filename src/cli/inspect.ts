import { inspectWeights } from "../formats/inspect.js";
import { integerFlag, parseFlags, UsageError } from "./args.js";
import { formatBytes, formatTable, printJson } from "./output.js";

const HELP = `usage: cogen inspect PATH [--json] [--limit N]

Show the format, architecture, metadata and tensors of a GGUF file, a .safetensors file or a
Hugging Face model folder.

  --json      print everything as JSON
  --limit N   show at most N tensors in the table (default 50; --json lists all)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { json: { type: "boolean" }, limit: { type: "string" } }, HELP);
  const problems: string[] = [];
  if (positionals.length !== 1) problems.push(`give exactly one PATH (got ${positionals.length})`);
  const limit = integerFlag(values.limit, "--limit", problems, 1) ?? 50;
  if (problems.length) throw new UsageError(problems);
  const inspection = await inspectWeights(positionals[0]);
  if (values.json) {
    printJson(inspection);
    return 0;
  }
  const lines = [
    `path          ${inspection.path}`,
    `format        ${inspection.format}`,
    `architecture  ${inspection.architecture ?? "(unknown)"}`,
  ];
  const meta = Object.entries(inspection.metadata);
  if (meta.length) {
    lines.push("", "metadata:");
    for (const [key, value] of meta) {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      lines.push(`  ${key} = ${text.length > 100 ? text.slice(0, 97) + "..." : text}`);
    }
  }
  if (inspection.config) {
    lines.push("", "config.json:");
    for (const [key, value] of Object.entries(inspection.config)) lines.push(`  ${key} = ${JSON.stringify(value)}`);
  }
  const shown = inspection.tensors.slice(0, limit);
  lines.push(
    "",
    formatTable(
      ["tensor", "dtype", "shape", "bytes"],
      shown.map((t) => [t.name, t.dtype, `[${t.shape.join(", ")}]`, formatBytes(t.bytes)]),
      ["l", "l", "l", "r"],
    ),
  );
  if (inspection.tensors.length > shown.length) lines.push(`... ${inspection.tensors.length - shown.length} more (use --limit or --json)`);
  const { tensors, parameters, bytes } = inspection.totals;
  lines.push("", `total: ${tensors} tensors, ${parameters.toLocaleString("en-US")} parameters, ${formatBytes(bytes)}`);
  console.log(lines.join("\n"));
  return 0;
}
