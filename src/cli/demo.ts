import * as path from "node:path";
import { ConfigError } from "../core/errors.js";
import { readPlotly } from "../core/html.js";
import { writeFileAtomic } from "../core/atomic.js";
import { streamProgress } from "../core/progress.js";
import { runMainJob, type MainJobReport } from "../unify/main-job.js";
import { renderDemoHtml } from "../unify/report-html.js";
import { loadDemoZoo } from "../unify/zoo.js";
import { packageRoot } from "../core/package-root.js";
import { parseFlags } from "./args.js";
import { formatTable, printJson } from "./output.js";

const HELP = `usage: cogen demo [--zoo DIR] [--out DIR] [--items N] [--adapt] [--json]

The main job on the embedded zoo: evaluate every expert, rank them per domain, build the unified
models (router, token-level ensemble, TIES merge), judge everything on held-out items, print one
table and write report.html and a serve config.

  --zoo DIR    the zoo (default: zoo/ in the cogen package)
  --out DIR    where results, report.html and unified.yml go (default demo-out)
  --items N    items per domain, kind and split (default 10)
  --adapt      also measure cogen adapt on the zoo's unseen domain (music): a LoRA trained with the
               experts' budget and a LoraHub composition from 20 examples (several minutes more)
  --json       print the summary as JSON`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { zoo: { type: "string" }, out: { type: "string" }, items: { type: "string" }, adapt: { type: "boolean" }, json: { type: "boolean" } }, HELP);
  const items = values.items === undefined ? 10 : Number(values.items);
  if (!Number.isInteger(items) || items < 1) throw new ConfigError(["--items must be a positive integer"]);
  const zooDir = values.zoo ?? path.join(packageRoot(), "zoo");
  const outDir = path.resolve(values.out ?? "demo-out");
  const log = values.json ? () => {} : (line: string) => console.error(line);
  const zoo = await loadDemoZoo(zooDir);
  const report = await runMainJob({ zoo, outDir, itemsPerDomain: items, progress: streamProgress(), log, ...(values.adapt ? { adapt: {} } : {}) });
  await writeFileAtomic(report.files.report, renderDemoHtml(report, await readPlotly()));
  if (values.json) {
    printJson({ ...report, ranking: undefined });
    return 0;
  }
  console.log(renderTable(report));
  return 0;
}

export function renderTable(report: MainJobReport): string {
  const f = (x: number | undefined, d = 3) => (x === undefined ? "–" : x.toFixed(d));
  const rows = [...report.rows, report.oracle].map((r) => [
    (report.unified.includes(r.model) ? "* " : report.distilled.includes(r.model) ? "~ " : "  ") + r.model,
    ...report.domains.map((d) => `${f(r.domains[d]?.bpb, 2)} / ${f(r.domains[d]?.acc, 2)}`),
    f(r.macroBpb),
    `${f(r.macroAcc)} ± ${f(r.macroAccSe)}`,
  ]);
  const lines = [
    "",
    `Held-out test items: bits per byte / multiple-choice accuracy per domain (* = unified model${report.distilled.length ? "; ~ = distilled pivot or centralised model, one checkpoint" : ""}).`,
    formatTable(["model", ...report.domains, "macro bpb", "macro acc"], rows, ["l", ...report.domains.map(() => "r" as const), "r", "r"]),
    "",
    "Goals:",
    ...report.goals.map((g) => `  ${g.met ? "✓" : "✗"} ${g.goal}: ${g.detail}`),
    "",
    `Router picked the request's domain for ${(report.routing.accuracy * 100).toFixed(0)}% of test items (mean confidence ${report.routing.meanConfidence.toFixed(2)}).`,
    `Most suspicious dev items: ${report.suspicious.map((s) => `${s.item} (${s.flags.join(", ")})`).join("; ") || "none"}.`,
    ...moeLines(report),
    ...adaptLines(report),
    "",
    `Report: ${report.files.report}`,
    `Serve the unified models:  npx cogen serve --config ${report.files.serveConfig}`,
    `  then e.g.  curl http://127.0.0.1:8080/v1/completions -H 'content-type: application/json' -d '{"model":"unified-router","prompt":"The heart","max_tokens":16}'`,
    `Done in ${report.seconds.toFixed(0)} s.`,
  ];
  return lines.join("\n");
}

/** Gate quality of the mixtures of experts: held-out tokens routed top-1 to the domain's own expert. */
function moeLines(report: MainJobReport): string[] {
  if (!report.moe) return [];
  const entries = Object.entries(report.moe.gateQuality);
  const domains = report.moe.experts;
  const rows = entries.map(([model, q]) => [model, ...domains.map((d) => q.domains[d]?.share.toFixed(2) ?? "–"), q.macroShare.toFixed(3)]);
  const training = report.moe.checkpoints.filter((c) => c.training).map((c) => `${c.id} ${c.training!.steps} steps at ${c.training!.stepsPerSecond.toFixed(2)} steps/s`);
  return [
    "",
    `MoE gate quality: share of held-out tokens routed top-1 to the domain's own expert (chance ${(1 / domains.length).toFixed(3)}).`,
    formatTable(["model", ...domains, "macro"], rows, ["l", ...domains.map(() => "r" as const), "r"]),
    ...(training.length ? [`Gate training (zoo build): ${training.join("; ")}.`] : []),
  ];
}

/** `cogen adapt` on the unseen domain: bits per byte of each model and its paired gain over base-a. */
function adaptLines(report: MainJobReport): string[] {
  if (!report.adapt) return [];
  const { adapt } = report;
  const signed = (x: number) => (x >= 0 ? "+" : "") + x.toFixed(3);
  const rows = adapt.rows.map((r) => [r.name, r.bpb.toFixed(3), r.role === "base" ? "" : `${signed(r.vsBase.mean)} ± ${r.vsBase.se.toFixed(3)}`]);
  return [
    "",
    `Adapt on ${adapt.domain}${adapt.unseen ? " (no zoo model trained on it)" : ""}: ${adapt.records} held-out records, bits per byte in llama.cpp.`,
    formatTable(["model", "bpb", "Δ vs base-a"], rows, ["l", "r", "r"]),
  ];
}
