import * as path from "node:path";
import { ConfigError } from "../core/errors.js";
import { silentProgress, streamProgress } from "../core/progress.js";
import type { JobQueue } from "../eval/jobs/queue.js";
import { readModelsFile } from "../formats/models-file.js";
import { readTasksFile } from "../formats/tasks.js";
import { unify, type UnifyReport } from "../unify/main-job.js";
import { describeUnjudged } from "../unify/scoreboard.js";
import { DEFAULT_UNIFY_POLICIES, parsePolicies, UNIFY_POLICIES } from "../unify/policies.js";
import { integerFlag, parseFlags, QUEUE_FLAGS, queueChoice, UsageError } from "./args.js";
import { formatTable, printJson } from "./output.js";

const HELP = `usage: cogen unify --models MODELS.yml --tasks TASKS.jsonl OUT_DIR
                   [--policies router,ensemble,merge,moe,distill] [--queue redis://HOST:PORT]
                   [--items N] [--passage-chars N] [--distill-steps N] [--json]

The main job on your own experts: evaluate each one on the dev half of the items (resumable:
rerun the same command to continue), rank them per domain with intervals and flag suspicious
items, build the unified models, judge every model on the test half, print one table and the
goals, and write OUT_DIR/unified.yml (serve it with 'cogen serve --config'), report.html and
summary.json. Items split into dev and test by a hash of their id (docs/FORMATS.md).

  --models FILE     the experts (models file: docs/FORMATS.md); a merge or mixture takes experts
                    that name the same 'base' in it
  --tasks FILE      held-out items, JSONL (multiple choice, bits per byte, exact match)
  --policies LIST   unified models to build, of ${UNIFY_POLICIES.join(", ")}
                    (default ${DEFAULT_UNIFY_POLICIES.join(",")}); router and ensemble are always built;
                    a policy that cannot apply is skipped, with its reason, in the table and
                    summary.json
  --queue URL       redis://HOST:PORT: evaluate the experts through 'cogen worker' processes
  --connect-timeout S with --queue: exit (status 1) when Redis cannot be reached for S seconds
  --distill-steps N training steps of the distilled pivot (policy distill; default 200)
  --items N         keep at most N items per domain, kind and side (default: all)
  --passage-chars N cut bits-per-byte passages at N characters, at a word boundary (default: whole)
  --json            print summary.json instead of the table`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    models: { type: "string" }, tasks: { type: "string" }, policies: { type: "string" }, ...QUEUE_FLAGS,
    items: { type: "string" }, "passage-chars": { type: "string" }, "distill-steps": { type: "string" }, json: { type: "boolean" },
  }, HELP);
  const problems: string[] = [];
  for (const flag of ["models", "tasks"] as const) if (!values[flag]) problems.push(`--${flag} is required`);
  if (positionals.length !== 1) problems.push(positionals.length ? `one OUT_DIR expected, got ${positionals.length}: ${positionals.join(" ")}` : "OUT_DIR is required");
  const queueAt = queueChoice(values, problems);
  const items = integerFlag(values.items, "--items", problems, 1);
  const chars = integerFlag(values["passage-chars"], "--passage-chars", problems, 16);
  const steps = integerFlag(values["distill-steps"], "--distill-steps", problems, 1);
  let policies = DEFAULT_UNIFY_POLICIES;
  try {
    if (values.policies !== undefined) policies = parsePolicies(values.policies);
  } catch (error) {
    if (!ConfigError.isInstance(error)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length) throw new UsageError(problems);
  // Both files are read and checked before anything is written.
  const experts = await readModelsFile(values.models!);
  const tasks = await readTasksFile(values.tasks!);
  let queue: JobQueue | undefined;
  if (queueAt) {
    // Say so, and keep trying visibly, when Redis is not there (instead of ioredis's errors).
    const { reachQueue } = await import("./queue-reachable.js");
    await reachQueue("unify", queueAt.url, queueAt.timeoutSeconds);
    const { BullMqQueue } = await import("../eval/jobs/bullmq.js");
    queue = new BullMqQueue(queueAt.url);
  }
  let report: UnifyReport;
  try {
    report = await unify({
      experts, modelsFile: values.models, items: tasks, outDir: path.resolve(positionals[0]), policies, queue,
      ...(steps !== undefined ? { distill: { steps } } : {}),
      split: { ...(items !== undefined ? { perDomainAndKind: items } : {}), ...(chars !== undefined ? { maxPassageChars: chars } : {}) },
      progress: values.json ? silentProgress : streamProgress(),
      log: values.json ? () => {} : (line) => console.error(line),
    });
  } finally {
    await queue?.close();
  }
  if (values.json) printJson({ ...report, ranking: undefined });
  else console.log(renderUnifyTable(report));
  return 0;
}

/** The job's table, goals, policies and the serve command, as the terminal shows them. */
export function renderUnifyTable(report: UnifyReport): string {
  const f = (x: number | undefined, d = 3) => (x === undefined ? "–" : x.toFixed(d));
  const rows = [...report.rows, report.oracle].map((r) => [
    (report.unified.includes(r.model) ? "* " : report.references.includes(r.model) ? "~ " : "  ") + r.model,
    ...report.domains.map((d) => `${f(r.domains[d]?.bpb, 2)} / ${f(r.domains[d]?.acc, 2)}`),
    f(r.macroBpb),
    `${f(r.macroAcc)} ± ${f(r.macroAccSe)}`,
  ]);
  const lines = [
    "",
    `Held-out test items: bits per byte / accuracy (multiple choice, exact match) per domain (* = unified model${report.references.length ? "; ~ = reference checkpoint, member of nothing" : ""}).`,
    formatTable(["model", ...report.domains, "macro bpb", "macro acc"], rows, ["l", ...report.domains.map(() => "r" as const), "r", "r"]),
    ...(report.items.unjudged.length
      ? [`Table ${describeUnjudged(report.items.unjudged, report.items.test)}.`]
      : []),
    "",
    "Goals:",
    ...report.goals.map((g) => `  ${g.met ? "✓" : "✗"} ${g.goal}: ${g.detail}`),
    "",
    `Router picked the request's domain for ${(report.routing.accuracy * 100).toFixed(0)}% of test items (mean confidence ${report.routing.meanConfidence.toFixed(2)}).`,
    ...rankingLines(report),
    `Most suspicious dev items: ${report.suspicious.map((s) => `${s.item} (${s.flags.join(", ")})`).join("; ") || "none"}.`,
    ...policyLines(report),
    ...moeLines(report),
    "",
    `Report: ${report.files.report}`,
    `Serve the unified models:  ${report.serveCommand}`,
    `  then e.g.  curl http://127.0.0.1:8080/v1/completions -H 'content-type: application/json' -d '{"model":"unified-router","prompt":"The heart","max_tokens":16}'`,
    `Done in ${report.seconds.toFixed(0)} s.`,
  ];
  return lines.join("\n");
}

/** Each domain's ranking of the experts on the dev items, best first, with 95% intervals, and the ranking's warnings. */
function rankingLines(report: UnifyReport): string[] {
  const { models, warnings } = report.ranking;
  const domains = report.domains.filter((d) => models.some((m) => m.domains[d]));
  if (domains.length === 0) return [];
  return [
    "Ranking on the dev items (ability, 95% interval; ranking.json), best first:",
    ...domains.map((d) => {
      const ranked = models.filter((m) => m.domains[d]).sort((a, b) => b.domains[d].ability - a.domains[d].ability);
      return `  ${d}: ${ranked.map((m) => `${m.model} ${m.domains[d].ability.toFixed(2)} [${m.domains[d].ci.map((x) => x.toFixed(2)).join(", ")}]`).join("; ")}`;
    }),
    ...warnings.map((w) => `Ranking warning: ${w}`),
  ];
}

/** Gate quality of the mixtures of experts: held-out tokens routed top-1 to the domain's own expert. */
function moeLines(report: UnifyReport): string[] {
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

/** Each unified model built, each policy skipped with its reason, and notes. */
function policyLines(report: UnifyReport): string[] {
  const { built, skipped, notes } = report.policies;
  return [
    "",
    `Unified models: ${built.map((b) => `${b.id} (${b.policy}${b.from ? `: ${b.from.experts.length} experts on ${b.from.base}` : ""})`).join(", ")}.`,
    ...skipped.map((s) => `Skipped ${s.policy}: ${s.reason}`),
    ...notes.map((n) => `Note: ${n}`),
  ];
}
