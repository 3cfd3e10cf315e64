/**
 * `cogen rank INPUT...`: rank models from per-item results (IRT, domain-fair) or pairwise votes
 * (Bradley–Terry), print the table and the most suspicious items, and optionally write the
 * ranking as JSON and as a self-contained HTML report.
 */
import { writeFileAtomic } from "../core/atomic.js";
import { silentProgress, streamProgress } from "../core/progress.js";
import { selectAnchors } from "../rank/anchors.js";
import { EVIDENCE_FORMATS, loadEvidence, type EvidenceFormat } from "../rank/evidence-files.js";
import { rankVotes } from "../rank/from-votes.js";
import { renderRankingHtml } from "../rank/html-report.js";
import { readPlotly } from "../core/html.js";
import { IRT_DEFAULTS } from "../rank/irt.js";
import { suspiciousItems } from "../rank/item-quality.js";
import { rankResults } from "../rank/per-item.js";
import { relativeMatrix } from "../rank/relative-scores.js";
import type { Ranking } from "../rank/ranking.js";
import { integerFlag, numberFlag, parseFlags, UsageError } from "./args.js";
import { formatTable, printJson } from "./output.js";

const HELP = `usage: cogen rank INPUT... [options]

Rank models from evidence: per-item results (JSONL/CSV, long "model,item,score[,domain]" or a wide
item × model matrix), lm-evaluation-harness output folders (--log_samples), or pairwise battle
files (Arena "model_a,model_b,winner" or llmfao "left,right,winner").

options:
  --format F       auto | results | battles | lm-eval (default auto)
  --metric M       lm-eval metric to read (default: acc, exact_match, acc_norm, ... whichever exists)
  --bootstrap N    bootstrap rounds for the intervals: votes (default 100) resample votes;
                   per-item results resample items within each domain (default: none,
                   intervals from the Fisher information)
  --seed S         seed for the bootstrap and anchors (default 0)
  --ties T         votes: half | davidson (default half)
  --domain-column C  votes: the column holding each vote's domain
  --anchors K      per-item: pick K anchor items that predict the full-benchmark score
  --discrimination-sd X  per-item: prior sd of item discriminations (default 1; smaller pulls
                   the 2PL towards Rasch, i.e. towards plain accuracy, when models are few)
  --relative       per-item: rescale each item's scores to [0, 1] across models (best 1, worst 0)
                   first — for continuous scores such as cogen eval's bits-per-byte rows
  --json           print the ranking as JSON on standard output (instead of the table)
  --json-out FILE  also write the ranking as JSON to FILE (for 'cogen select' and serve's ranking)
  --html FILE      write a self-contained HTML report to FILE
  --quiet          no progress or table`;

/** Per-item fits with more responses than this show progress. */
const PROGRESS_THRESHOLD = 200_000;
const SUSPICIOUS_SHOWN = 10;
const DOMAIN_COLUMNS_SHOWN = 8;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    format: { type: "string", default: "auto" },
    metric: { type: "string" },
    bootstrap: { type: "string" },
    seed: { type: "string", default: "0" },
    ties: { type: "string", default: "half" },
    "domain-column": { type: "string" },
    anchors: { type: "string" },
    "discrimination-sd": { type: "string" },
    json: { type: "boolean", default: false },
    "json-out": { type: "string" },
    html: { type: "string" },
    quiet: { type: "boolean", default: false },
    relative: { type: "boolean", default: false },
  }, HELP);

  const problems: string[] = [];
  const format = values.format as EvidenceFormat;
  if (!EVIDENCE_FORMATS.includes(format)) problems.push(`--format must be one of ${EVIDENCE_FORMATS.join(", ")}, got "${values.format}"`);
  const bootstrap = integerFlag(values.bootstrap, "--bootstrap", problems);
  const seed = integerFlag(values.seed, "--seed", problems)!;
  const anchors = integerFlag(values.anchors, "--anchors", problems, 1);
  const discriminationSd = numberFlag(values["discrimination-sd"], "--discrimination-sd", problems, { above: 0 });
  if (values.ties !== "half" && values.ties !== "davidson") problems.push(`--ties must be half or davidson, got "${values.ties}"`);
  if (positionals.length === 0) problems.push("no inputs: give results files, lm-eval output folders or battle files");
  if (problems.length > 0) throw new UsageError(problems);

  const quiet = values.quiet || values.json;
  const evidence = await loadEvidence(positionals, {
    format,
    metric: values.metric,
    battles: { domainColumn: values["domain-column"], selfComparisons: "skip" },
  });

  let ranking: Ranking;
  if (evidence.kind === "battles") {
    if (anchors !== undefined) throw new UsageError(["--anchors needs per-item results, not votes"]);
    ranking = rankVotes(evidence.comparisons, {
      bootstrap,
      seed,
      ties: values.ties as "half" | "davidson",
      progress: quiet ? silentProgress : streamProgress(),
      robustness: true,
    });
  } else {
    const progress = !quiet && evidence.count > PROGRESS_THRESHOLD ? streamProgress() : undefined;
    const irt = discriminationSd === undefined ? undefined : { discriminationPrior: { mean: IRT_DEFAULTS.discriminationPrior.mean, sd: discriminationSd } };
    const matrix = values.relative ? relativeMatrix(evidence.matrix) : evidence.matrix;
    const fit = rankResults(matrix, { progress, bootstrap, seed, irt });
    ranking = fit.ranking;
    if (anchors !== undefined) ranking.anchors = selectAnchors(fit.matrix, anchors, { seed });
  }
  ranking.warnings.unshift(...evidence.warnings);

  if (values["json-out"] !== undefined) await writeFileAtomic(values["json-out"], JSON.stringify(ranking, null, 2) + "\n");
  if (values.json) printJson(ranking);
  if (values.html !== undefined) {
    await writeFileAtomic(values.html, renderRankingHtml(ranking, await readPlotly()));
  }
  if (!quiet) printRanking(ranking);
  for (const w of ranking.warnings) console.error(`warning: ${w}`);
  return 0;
}

function printRanking(ranking: Ranking): void {
  const shownDomains = ranking.domains.length > 1 ? ranking.domains.slice(0, DOMAIN_COLUMNS_SHOWN) : [];
  const value = ranking.scale === "arena" ? (x: number) => x.toFixed(1) : (x: number) => x.toFixed(3);
  const headers = ["rank", "model", ranking.scale === "arena" ? "rating" : "ability", "95% interval", "rank range", ...shownDomains];
  const rows = ranking.models.map((m) => [
    m.rank,
    m.model,
    value(m.rating),
    `[${value(m.ci[0])}, ${value(m.ci[1])}]`,
    m.rankRange[0] === m.rankRange[1] ? `${m.rankRange[0]}` : `${m.rankRange[0]}–${m.rankRange[1]}`,
    ...shownDomains.map((d) => (m.domains[d] ? value(m.domains[d].ability) : "—")),
  ]);
  console.log(formatTable(headers, rows, ["r", "l", "r", "l", "l", ...shownDomains.map(() => "r" as const)]));
  if (ranking.domains.length > shownDomains.length && shownDomains.length > 0) {
    console.log(`(${ranking.domains.length - shownDomains.length} more domains in --json, --json-out and --html)`);
  }
  console.log(`\n${ranking.method}.`);
  if (ranking.robustness) {
    const r = ranking.robustness;
    console.log(`\nrobustness: removing ${r.votesToFlip} of the votes (${(r.fractionOfVotes * 100).toPrecision(2)}%) ${r.confirmed ? "puts" : "would, to first order, put"} ${r.challenger} ahead of ${r.leader} (gap ${r.gap.toFixed(1)} points)`);
  }
  if (ranking.kind !== "per-item") return;

  const count = (flag: string) => ranking.items.filter((it) => (it.flags as string[]).includes(flag)).length;
  console.log(`\nitems: ${ranking.items.length}; uninformative ${count("uninformative")}, negative discrimination ${count("negative_discrimination")}, low discrimination ${count("low_discrimination")}`);
  const suspicious = suspiciousItems(ranking.items, SUSPICIOUS_SHOWN);
  if (suspicious.length > 0) {
    console.log("most suspicious items:");
    console.log(formatTable(
      ["item", "domain", "discrimination", "difficulty", "mean score", "flags"],
      suspicious.map((it) => [it.item, it.domain, it.discrimination?.toFixed(2) ?? "—", it.difficulty?.toFixed(2) ?? "—", it.meanScore.toFixed(2), it.flags.join(", ")]),
      ["l", "l", "r", "r", "r", "l"],
    ));
  }
  if (ranking.anchors) {
    console.log(`\n${ranking.anchors.anchors.length} anchor items predict the full-benchmark score with held-out mean absolute error ${ranking.anchors.heldOutMae.toFixed(4)} (${ranking.anchors.folds}-fold over models)`);
  }
}
