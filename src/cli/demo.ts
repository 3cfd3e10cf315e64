import * as path from "node:path";
import { streamProgress } from "../core/progress.js";
import type { AdaptZooGoalsReport } from "../adapt/zoo-goals.js";
import { runDemo } from "../demo/run.js";
import { loadDemoZoo } from "../demo/zoo.js";
import { packageRoot } from "../core/package-root.js";
import { integerFlag, parseFlags, UsageError } from "./args.js";
import { formatTable, printJson } from "./output.js";
import { renderUnifyTable } from "./unify.js";

const HELP = `usage: cogen demo [--zoo DIR] [--out DIR] [--items N] [--adapt] [--json]

'cogen unify' on the embedded zoo: evaluate every expert, rank them per domain, build the unified
models (router, token-level ensemble, TIES merge of the family-A experts), judge them with the
zoo's mixtures of experts, distilled pivots, centralised model and evolved merge on held-out
items, print one table and write report.html, summary.json and a serve config (unified.yml).

  --zoo DIR    the zoo (default: zoo/ in the cogen package)
  --out DIR    where results, report.html and unified.yml go (default demo-out)
  --items N    items per domain, kind and split (default 10)
  --adapt      also measure cogen adapt on the zoo's unseen domain (music): a LoRA trained with the
               experts' budget and a LoraHub composition from 20 examples (several minutes more)
  --json       print the summary as JSON`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { zoo: { type: "string" }, out: { type: "string" }, items: { type: "string" }, adapt: { type: "boolean" }, json: { type: "boolean" } }, HELP, { positionals: 0 });
  const problems: string[] = [];
  const items = integerFlag(values.items, "--items", problems, 1) ?? 10;
  if (problems.length) throw new UsageError(problems);
  const zooDir = values.zoo ?? path.join(packageRoot(), "zoo");
  const outDir = path.resolve(values.out ?? "demo-out");
  const log = values.json ? () => {} : (line: string) => console.error(line);
  const zoo = await loadDemoZoo(zooDir);
  const report = await runDemo({ zoo, outDir, itemsPerDomain: items, progress: streamProgress(), log, ...(values.adapt ? { adapt: {} } : {}) });
  if (values.json) {
    printJson({ ...report, ranking: undefined });
    return 0;
  }
  console.log(renderUnifyTable(report));
  if (report.adapt) console.log(adaptLines(report.adapt).join("\n"));
  return 0;
}

/** `cogen adapt` on the unseen domain: bits per byte of each model and its paired gain over base-a. */
function adaptLines(adapt: AdaptZooGoalsReport): string[] {
  const signed = (x: number) => (x >= 0 ? "+" : "") + x.toFixed(3);
  const rows = adapt.rows.map((r) => [r.name, r.bpb.toFixed(3), r.role === "base" ? "" : `${signed(r.vsBase.mean)} ± ${r.vsBase.se.toFixed(3)}`]);
  return [
    "",
    `Adapt on ${adapt.domain}${adapt.unseen ? " (no zoo model trained on it)" : ""}: ${adapt.records} held-out records, bits per byte in llama.cpp.`,
    formatTable(["model", "bpb", "Δ vs base-a"], rows, ["l", "r", "r"]),
  ];
}
