/**
 * `cogen zoo build` and `cogen zoo eval`: train the embedded zoo of tiny domain experts, and
 * evaluate every zoo model × domain with llama.cpp. Thin: flags → src/zoo/build → a table.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError } from "../core/errors.js";
import { streamProgress } from "../core/progress.js";
import { buildZooPivots, clearZooPivots, readZooSampledText, zooPivotsPlan, ZOO_PIVOTS_DIR } from "../fuse/distill/zoo-pivots.js";
import { buildZooMoePivots, ZOO_MOE_PIVOTS_DIR } from "../fuse/distill/zoo-moe-pivots.js";
import { buildZoo } from "../zoo/build/build.js";
import { DEFAULT_EVAL_KINDS, evaluateZoo, type ZooEvalReport } from "../eval/zoo-eval.js";
import { DEFAULT_ZOO_DIR } from "../zoo/build/manifest.js";
import { zooPlan } from "../zoo/build/plan.js";
import { ITEM_KINDS, type ItemKind } from "../zoo/items/generate.js";
import { parseFlags, UsageError } from "./args.js";
import { formatTable, printJson } from "./output.js";

const BUILD_HELP = `usage: cogen zoo build [--out DIR] [--quick] [--fresh] [--moe-pivots] [--json]

Train and export the zoo: per family a BPE tokenizer and a base trained on all eight domains,
LoRA experts adapted from the base (one domain each), an equal-compute control, a centralised
model (the experts' total compute spent on the mixture) and, under pivots/, pivots distilled from
the experts (all of them, family B alone, after FPO, on their committed sampled text beside its
hard-label control, and the same at a wider size: a/centralised widened, trained in full) with their CLM control (with --moe-pivots
also pivots-moe/: the trained mixture of zoo/moe distilled beside its own CLM control),
exported as Hugging Face folders, GGUF files, PEFT adapters and llama.cpp LoRA adapters; then check every
GGUF against cogen's TypeScript forward pass in llama.cpp. Deterministic: training length is in
steps and every seed is fixed. Training runs in two child processes (one per core).

  --out DIR   output folder (default ${DEFAULT_ZOO_DIR}; with --quick required)
  --quick     a tiny build (small models, few steps) for tests and smoke checks
  --fresh     retrain everything (default: keep every model an earlier build trained the same way)
  --moe-pivots  also distil zoo/moe's trained mixture (needs cogen zoo moe first; ~30 min on 2 loaded
              cores; not in the committed zoo: it ties its control, docs/ARCHITECTURE.md)
  --json      print the manifest as JSON`;

export async function runBuild(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    { out: { type: "string" }, quick: { type: "boolean" }, fresh: { type: "boolean" }, "moe-pivots": { type: "boolean" }, json: { type: "boolean" } },
    BUILD_HELP,
    { positionals: 0 },
  );
  if (values.quick && !values.out) throw new UsageError(["--quick needs --out DIR (the committed zoo is the full build)"]);
  const out = values.out ?? DEFAULT_ZOO_DIR;
  const started = Date.now();
  const log = (line: string) => console.error(`[zoo build ${Math.round((Date.now() - started) / 1000)}s] ${line}`);
  const kind = values.quick ? "quick" : "full";
  const pivotsPlan = zooPivotsPlan(kind);
  // The pivots' committed sampled text is checked before hours of training, not after.
  if (pivotsPlan.online?.sampled) await readZooSampledText(out, pivotsPlan.online.sampled);
  const manifest = await buildZoo({ out, plan: zooPlan(kind), resume: !values.fresh, log });
  // Then the pivots distilled from the experts (fuse: distillation); kept when their jobs are unchanged.
  if (values.fresh) await clearZooPivots(out, pivotsPlan);
  const pivots = await buildZooPivots({ zoo: out, plan: pivotsPlan, log, progress: values.json ? undefined : streamProgress() });
  // The mixture-of-experts pivot and its control (zoo/pivots-moe), on request: they need zoo/moe.
  if (values.fresh && values["moe-pivots"]) await fs.rm(path.join(out, ZOO_MOE_PIVOTS_DIR), { recursive: true, force: true });
  const moePivots = values["moe-pivots"] ? await buildZooMoePivots({ zoo: out, log, progress: values.json ? undefined : streamProgress() }) : undefined;
  if (values["moe-pivots"] && !moePivots) throw new ConfigError([`--moe-pivots: ${out} has no trained mixture (moe/manifest.json); run cogen zoo moe --zoo ${out} first`]);
  if (values.json) {
    printJson({ ...manifest, pivots, moePivots: moePivots ?? null });
    return 0;
  }
  const rows = manifest.models.map((m) => [
    m.id, m.method.split(" on ")[0], m.data, m.steps, m.trainSeconds, m.finalLoss.toFixed(3),
    m.parity ? m.parity.maxKl.toExponential(1) : "-", m.parity?.loraMaxKl != null ? m.parity.loraMaxKl.toExponential(1) : "-",
  ]);
  console.log(formatTable(["model", "method", "data", "steps", "seconds", "loss", "KL gguf", "KL lora"], rows, ["l", "l", "l", "r", "r", "r", "r", "r"]));
  if (manifest.specialisation?.length) {
    console.log("\nheld-out bits per byte on the expert's own domain (trainer's forward pass):");
    console.log(formatTable(
      ["family", "domain", "expert", "control", "base", "best other expert", "beats control", "beats others"],
      manifest.specialisation.map((s) => [
        s.family, s.domain, s.expert.toFixed(3), s.control?.toFixed(3) ?? "-", s.base.toFixed(3), s.bestOtherExpert?.toFixed(3) ?? "-",
        s.beatsControl === null ? "-" : s.beatsControl ? "yes" : "NO", s.beatsOtherExperts ? "yes" : "NO",
      ]),
      ["l", "l", "r", "r", "r", "r", "l", "l"],
    ));
  }
  console.log("\ndistilled pivots (LoRA, or in full from a widening where \"from\" says so; online: teachers run inside each step, kd: the experts' precomputed targets):");
  console.log(formatTable(["model", "objective", "from", "λ", "teachers", "steps", "seconds", "loss", "KL gguf", "KL lora"], pivots.models.map((m) => [
    m.id, m.objective, m.files.lora ? m.init : `${m.init} widened`, m.lambda, m.teachers.length, m.steps, m.trainSeconds, m.finalLoss.toFixed(3),
    m.parity ? m.parity.maxKl.toExponential(1) : "-", m.parity?.loraMaxKl != null ? m.parity.loraMaxKl.toExponential(1) : "-",
  ]), ["l", "l", "l", "r", "r", "r", "r", "r", "r", "r"]));
  if (moePivots) {
    console.log("\nmixture-of-experts pivots (full fine-tune of zoo/moe's trained mixture; online KD and its CLM control):");
    console.log(formatTable(["model", "from", "λ", "teachers", "steps", "seconds", "loss", "KL gguf"], moePivots.models.map((m) => [
      m.id, m.init, m.lambda, m.teachers.length, m.steps, m.trainSeconds, m.finalLoss.toFixed(3), m.parity ? m.parity.maxKl.toExponential(1) : "-",
    ]), ["l", "l", "r", "r", "r", "r", "r", "r"]));
  }
  console.log(`\nwrote ${out} (${manifest.models.length} models in ${manifest.buildSeconds} s, ${pivots.models.length} pivots; manifest.json, models.yaml, items/, ${ZOO_PIVOTS_DIR}/)`);
  return 0;
}

const EVAL_HELP = `usage: cogen zoo eval [--zoo DIR] [--kinds K,...] [--per-domain N] [--models ID,...] [--results FILE] [--resume] [--json]

Evaluate every zoo model on every domain with llama.cpp through cogen's eval runner: held-out
bits per byte and multiple-choice accuracy, each with its standard error; says which item
kinds a model answers clearly above chance (accuracy − 2 se > chance).

  --zoo DIR         the zoo folder (default ${DEFAULT_ZOO_DIR})
  --kinds K,...     item kinds: ${ITEM_KINDS.join(", ")} (default ${DEFAULT_EVAL_KINDS.join(",")})
  --per-domain N    at most N items per domain and kind (default: all); or per kind, as
                    KIND=N,... (for example bitsPerByte=10,continuation=40; others: all)
  --models ID,...   only these models (ids as in the zoo's models.yaml)
  --results FILE    per-item results JSONL (default: a file under the system's temporary folder)
  --resume          continue FILE, skipping results already in it
  --json            print the report as JSON`;

export async function runEvalZoo(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      zoo: { type: "string" }, kinds: { type: "string" }, "per-domain": { type: "string" }, models: { type: "string" },
      results: { type: "string" }, resume: { type: "boolean" }, json: { type: "boolean" },
    },
    EVAL_HELP,
    { positionals: 0 },
  );
  const kinds = values.kinds?.split(",").map((k) => k.trim()) as ItemKind[] | undefined;
  const unknown = kinds?.filter((k) => !ITEM_KINDS.includes(k)) ?? [];
  if (unknown.length) throw new UsageError([`--kinds: unknown kind(s) ${unknown.join(", ")} (known: ${ITEM_KINDS.join(", ")})`]);
  const perDomain = values["per-domain"] === undefined ? undefined : parsePerDomain(values["per-domain"]);
  const zoo = values.zoo ?? DEFAULT_ZOO_DIR;
  const results = values.results ?? path.join(os.tmpdir(), `cogen-zoo-eval-${process.pid}.jsonl`);
  const report = await evaluateZoo(zoo, {
    kinds, perDomain, results, resume: values.resume, models: values.models?.split(",").map((m) => m.trim()),
    progress: values.json ? undefined : streamProgress(),
  });
  if (values.json) {
    printJson(report);
    return report.failures.length ? 1 : 0;
  }
  printEvalReport(report);
  return report.failures.length ? 1 : 0;
}

function parsePerDomain(text: string): number | Partial<Record<ItemKind, number>> {
  const count = (n: string, what: string) => {
    if (!/^\d+$/.test(n) || Number(n) < 1) throw new UsageError([`--per-domain: ${what} '${n}' must be a positive integer`]);
    return Number(n);
  };
  if (!text.includes("=")) return count(text, "count");
  const out: Partial<Record<ItemKind, number>> = {};
  for (const part of text.split(",")) {
    const [kind, n] = part.split("=").map((x) => x.trim());
    if (!ITEM_KINDS.includes(kind as ItemKind)) throw new UsageError([`--per-domain: unknown kind '${kind}' (known: ${ITEM_KINDS.join(", ")})`]);
    out[kind as ItemKind] = count(n ?? "", kind);
  }
  return out;
}

function printEvalReport(report: ZooEvalReport): void {
  for (const kind of report.kinds) {
    const bpb = kind === "bitsPerByte";
    console.log(`\n${bpb ? "held-out bits per byte (lower is better)" : `${kind} accuracy`} ± standard error`);
    const rows = report.models.map((model) => [
      model,
      ...report.domains.map((domain) => {
        const cell = report.cells.find((c) => c.model === model && c.domain === domain && c.kind === kind);
        return cell ? `${cell.mean.toFixed(bpb ? 3 : 2)}±${cell.se.toFixed(bpb ? 3 : 2)}` : "-";
      }),
    ]);
    console.log(formatTable(["model", ...report.domains], rows, ["l", ...report.domains.map(() => "r" as const)]));
  }
  for (const c of report.chance) {
    const above = c.models.filter((m) => m.aboveChance).map((m) => m.model);
    console.log(`\n${c.kind}: chance ${c.chance.toFixed(3)}; above chance (acc − 2 se): ${above.length}/${c.models.length} models${above.length ? ` (${above.join(", ")})` : ""}`);
  }
  for (const f of report.failures) console.error(`failed: ${f.model}: ${f.error} (${f.items} items)`);
  console.log(`\nper-item results: ${report.results} (${report.seconds.toFixed(0)} s)`);
}
