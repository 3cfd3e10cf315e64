import { escapeHtml, inlineScript, scriptJson } from "../core/html.js";
import { countOf } from "../core/words.js";
import type { UnifyReport } from "./main-job.js";

/** What a row of the report is; the plots colour and group by it so unified models stand out. */
type RowKind = "unified" | "reference" | "single" | "oracle";

const KIND_TITLES: Record<RowKind, string> = {
  unified: "unified models", reference: "references (members of nothing)", single: "single models", oracle: "oracle (ceiling)",
};

/**
 * One colour per model, none repeated: single models spread evenly over muted hues, unified
 * models over saturated ones (drawn with an outline), references (e.g. distilled) dotted, the oracle grey.
 */
export function modelColours(kinds: readonly RowKind[]): string[] {
  const count = (k: RowKind) => kinds.filter((x) => x === k).length;
  const seen: Partial<Record<RowKind, number>> = {};
  return kinds.map((kind) => {
    const i = (seen[kind] = (seen[kind] ?? -1) + 1);
    const hue = (offset: number) => Math.round((offset + (360 * i) / Math.max(1, count(kind))) % 360);
    if (kind === "oracle") return "#9e9e9e";
    if (kind === "unified") return `hsl(${hue(10)}, 85%, 42%)`;
    if (kind === "reference") return `hsl(${hue(280)}, 55%, 50%)`;
    return `hsl(${hue(200)}, 40%, 68%)`;
  });
}

/** The main job's self-contained report page: the table, the goals, and plots drawn by plotly.js. */
export function renderUnifyHtml(report: UnifyReport, plotlyJs: string): string {
  const rows = [...report.rows, report.oracle];
  const kinds: RowKind[] = rows.map((r) =>
    r === report.oracle ? "oracle" : report.unified.includes(r.model) ? "unified" : report.references.includes(r.model) ? "reference" : "single");
  const colours = modelColours(kinds);
  const data = {
    domains: report.domains,
    kindTitles: KIND_TITLES,
    bpb: rows.map((r, i) => ({ model: r.model, kind: kinds[i], colour: colours[i], values: report.domains.map((d) => r.domains[d]?.bpb ?? null) })),
    acc: rows.map((r, i) => ({ model: r.model, kind: kinds[i], acc: r.macroAcc ?? null, se: r.macroAccSe ?? null })),
    abilities: {
      models: report.ranking.models.map((m) => m.model),
      z: report.ranking.models.map((m) => report.domains.map((d) => m.domains[d]?.ability ?? null)),
    },
  };
  const f = (x: number | undefined, digits = 3) => (x === undefined ? "" : x.toFixed(digits));
  const header = `<tr><th>model</th>${report.domains.map((d) => `<th>${escapeHtml(d)}</th>`).join("")}<th>macro bpb</th><th>macro acc</th></tr>`;
  const body = rows
    .map((r) => {
      const unified = report.unified.includes(r.model) ? ' class="unified"' : r === report.oracle ? ' class="oracle"' : "";
      const cells = report.domains.map((d) => `<td>${f(r.domains[d]?.bpb)}<br><small>${f(r.domains[d]?.acc, 2)}</small></td>`).join("");
      return `<tr${unified}><td>${escapeHtml(r.model)}</td>${cells}<td>${f(r.macroBpb)}</td><td>${f(r.macroAcc)} ± ${f(r.macroAccSe)}</td></tr>`;
    })
    .join("\n");
  const goals = report.goals.map((g) => `<li class="${g.met ? "met" : "missed"}">${g.met ? "✓" : "✗"} ${escapeHtml(g.goal)}: ${escapeHtml(g.detail)}</li>`).join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>cogen unify: many experts, one model</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
.table { overflow-x: auto; } table { border-collapse: collapse; font-size: 0.85em; }
td, th { border: 1px solid #ddd; padding: 0.3em 0.5em; text-align: right; white-space: nowrap; }
td:first-child, th:first-child { text-align: left; white-space: normal; overflow-wrap: anywhere; min-width: 12em; max-width: 26em; } tr.unified { background: #eef6ff; font-weight: 600; } tr.oracle { background: #f4f4f4; font-style: italic; }
li.met { color: #1a7f37; } li.missed { color: #b42318; } .note { color: #555; font-size: 0.9em; }
</style>
${inlineScript(plotlyJs)}
</head>
<body>
<h1>cogen: many experts, one model</h1>
<p class="note">Held-out test items, ${countOf(report.domains.length, "domain")}. Each cell: bits per byte (lower is better) above accuracy (multiple-choice and exact-match items). Unified models in blue (in the charts: bold colours with an outline); the oracle (best single model per domain, a ceiling) in grey. Run took ${report.seconds.toFixed(0)} s.</p>
<h2>Goals</h2>
<ul>${goals}</ul>
${policiesSection(report)}
<p class="note">Router: picked the request's domain for ${(report.routing.accuracy * 100).toFixed(0)}% of test items (mean confidence ${report.routing.meanConfidence.toFixed(2)}). ${ensembleNote(report)}</p>
<h2>Table</h2>
<div class="table"><table>${header}${body}</table></div>
${unjudgedNote(report)}
${moeSection(report)}
<h2>Bits per byte by domain</h2>
<div id="bpb"></div>
<h2>Multiple-choice accuracy (macro, ± 1 SE)</h2>
<div id="acc"></div>
<h2>Ranking: ability per domain (dev items)</h2>
<div id="abilities"></div>
<script>
const data = ${scriptJson(data)};
const config = { displaylogo: false, responsive: true };
const style = (r) => ({
  color: r.colour ?? undefined,
  line: r.kind === "unified" ? { color: "#111", width: 1.5 } : undefined,
  pattern: r.kind === "oracle" ? { shape: "/" } : r.kind === "reference" ? { shape: "." } : undefined,
});
// One legend entry per model, grouped by kind; the plot grows with the legend so none is cut off.
// A legend that would take more than a third of the width (a user's long "org/Model-8B-Instruct-…"
// names, or a narrow window) goes under the plot, which keeps the width for the bars.
const legendBelow = 60 + 7 * Math.max(...data.bpb.map((r) => r.model.length)) > document.getElementById("bpb").clientWidth / 3;
const legendHeight = 21 * data.bpb.length + 34 * new Set(data.bpb.map((r) => r.kind)).size;
Plotly.newPlot("bpb", data.bpb.map((r) => ({
  type: "bar", name: r.model, x: data.domains, y: r.values, marker: style(r),
  legendgroup: r.kind, legendgrouptitle: { text: data.kindTitles[r.kind] },
  hovertemplate: r.model.replace(/[<>&]/g, "") + " / %{x}: %{y:.3f}<extra></extra>",
})), {
  barmode: "group", yaxis: { title: { text: "bits per byte (lower is better)" } },
  // About 20 px per entry, a title and a gap per group, and the plot's own margins.
  height: legendBelow ? 420 + legendHeight : Math.max(480, 200 + legendHeight),
  legend: legendBelow
    ? { groupclick: "toggleitem", tracegroupgap: 12, orientation: "v", x: 0, xanchor: "left", y: -0.08, yanchor: "top" }
    : { groupclick: "toggleitem", tracegroupgap: 12 },
  xaxis: { automargin: true }, margin: { t: 30 },
}, config);
const kindsPresent = [...new Set(data.acc.map((r) => r.kind))];
const kindColour = { unified: "#c0392b", reference: "#8e44ad", single: "#7fa7c9", oracle: "#9e9e9e" };
Plotly.newPlot("acc", kindsPresent.map((kind) => {
  const rs = data.acc.filter((r) => r.kind === kind);
  return {
    type: "bar", orientation: "h", name: data.kindTitles[kind], y: rs.map((r) => r.model), x: rs.map((r) => r.acc), error_x: { type: "data", array: rs.map((r) => r.se) },
    marker: { color: kindColour[kind], line: kind === "unified" ? { color: "#111", width: 1.5 } : undefined },
    hovertemplate: "%{y}: %{x:.3f}<extra></extra>",
  };
}), {
  // Horizontal bars, first model on top: a long name reads in full instead of slanting off the page.
  barmode: "overlay", yaxis: { categoryorder: "array", categoryarray: data.acc.map((r) => r.model).reverse(), automargin: true },
  xaxis: { title: { text: "accuracy" }, range: [0, 1] }, height: 120 + 22 * data.acc.length, legend: { traceorder: "normal" }, margin: { t: 30 },
}, config);
// One domain: a bar per model (a one-column heatmap says little).
Plotly.newPlot("abilities", data.domains.length === 1
  ? [{ type: "bar", orientation: "h", x: data.abilities.z.map((z) => z[0]), y: data.abilities.models, marker: { color: "#2c7fb8" } }]
  : [{ type: "heatmap", x: data.domains, y: data.abilities.models, z: data.abilities.z, colorscale: "RdBu", reversescale: true, colorbar: { title: { text: "ability", side: "right" } } }],
  { height: 120 + 24 * data.abilities.models.length, margin: { t: 30 }, yaxis: { automargin: true }, xaxis: data.domains.length === 1 ? { title: { text: "ability in " + data.domains[0] } } : {} }, config);
</script>
</body>
</html>
`;
}

/** What the ensemble did, or nothing misleading when it ran no generation step. */
/** Test items some model could not answer (e.g. too long for its context): left out of every row, named here. */
function unjudgedNote(report: UnifyReport): string {
  const unjudged = report.items.unjudged;
  if (!unjudged.length) return "";
  const list = unjudged.map((u) => `<li>${escapeHtml(u.item)}: no result from ${escapeHtml(u.missing.join(", "))}</li>`).join("");
  return `<p class="note">${countOf(unjudged.length, "test item")} of ${report.items.test} left out of the table, because some model has no result for them:</p><ul class="note">${list}</ul>`;
}

function ensembleNote(report: UnifyReport): string {
  const { stats, ensembledDomains } = report.ensemble;
  const where = `Ensemble: combines members in ${countOf(ensembledDomains.length, "domain")}`;
  if (stats.steps === 0) return `${where}; the test items were all scored by log-likelihood, so it ran no generation steps.`;
  return `${where}; ${stats.ensembledSteps} of ${stats.steps} generation steps consulted more than one member.`;
}

/** Which unified models were built, and every policy asked for but skipped, with its reason. */
function policiesSection(report: UnifyReport): string {
  const built = report.policies.built.map((b) => `<li>${escapeHtml(b.policy)}: ${escapeHtml(b.id)}${b.from ? ` (from ${escapeHtml(b.from.experts.join(", "))} on ${escapeHtml(b.from.base)})` : ""}</li>`);
  const skipped = report.policies.skipped.map((s) => `<li class="missed">${escapeHtml(s.policy)}: skipped: ${escapeHtml(s.reason)}</li>`);
  const notes = report.policies.notes.map((n) => `<li class="note">${escapeHtml(n)}</li>`);
  return `<h2>Policies</h2>\n<ul>${[...built, ...skipped, ...notes].join("\n")}</ul>`;
}

/** The mixtures' gate quality: per domain, the share of held-out tokens routed top-1 to its own expert. */
function moeSection(report: UnifyReport): string {
  if (!report.moe) return "";
  const domains = report.moe.experts;
  const head = `<tr><th>model</th>${domains.map((d) => `<th>${escapeHtml(d)}</th>`).join("")}<th>macro</th></tr>`;
  const rows = Object.entries(report.moe.gateQuality)
    .map(([model, q]) => `<tr><td>${escapeHtml(model)}</td>${domains.map((d) => `<td>${q.domains[d]?.share.toFixed(2) ?? ""}</td>`).join("")}<td>${q.macroShare.toFixed(3)}</td></tr>`)
    .join("\n");
  const speed = report.moe.speed ? `<p class="note">Generation: ${escapeHtml(report.moe.speed.moe)} at ${report.moe.speed.ratio.toFixed(2)}× the tokens/s of ${escapeHtml(report.moe.speed.dense)} in llama.cpp (median of ${report.moe.speed.rounds} alternating rounds).</p>` : "";
  return `<h2>Mixture of experts: gate quality</h2>
<p class="note">Share of held-out tokens of each domain whose top-1 expert (averaged over layers) is that domain's expert; chance is ${(1 / domains.length).toFixed(3)}.</p>
<div class="table"><table>${head}${rows}</table></div>
${speed}`;
}
