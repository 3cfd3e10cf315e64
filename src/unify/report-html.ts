import { escapeHtml, inlineScript, scriptJson } from "../core/html.js";
import type { UnifyReport } from "./main-job.js";

/** The main job's self-contained report page: the table, the goals, and plots drawn by plotly.js. */
export function renderUnifyHtml(report: UnifyReport, plotlyJs: string): string {
  const rows = [...report.rows, report.oracle];
  const data = {
    domains: report.domains,
    bpb: rows.map((r) => ({ model: r.model, values: report.domains.map((d) => r.domains[d]?.bpb ?? null) })),
    acc: rows.map((r) => ({ model: r.model, acc: r.macroAcc ?? null, se: r.macroAccSe ?? null })),
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
table { border-collapse: collapse; font-size: 0.85em; } td, th { border: 1px solid #ddd; padding: 0.3em 0.5em; text-align: right; }
td:first-child, th:first-child { text-align: left; } tr.unified { background: #eef6ff; font-weight: 600; } tr.oracle { background: #f4f4f4; font-style: italic; }
li.met { color: #1a7f37; } li.missed { color: #b42318; } .note { color: #555; font-size: 0.9em; }
</style>
${inlineScript(plotlyJs)}
</head>
<body>
<h1>cogen: many experts, one model</h1>
<p class="note">Held-out test items, ${report.domains.length} domains. Each cell: bits per byte (lower is better) above multiple-choice accuracy. Unified models in blue; the oracle (best single model per domain, a ceiling) in grey. Run took ${report.seconds.toFixed(0)} s.</p>
<h2>Goals</h2>
<ul>${goals}</ul>
${policiesSection(report)}
<p class="note">Router: picked the request's domain for ${(report.routing.accuracy * 100).toFixed(0)}% of test items (mean confidence ${report.routing.meanConfidence.toFixed(2)}). Ensemble: ${report.ensemble.stats.ensembledSteps} of ${report.ensemble.stats.steps} generation steps consulted more than one member; ensembles in ${report.ensemble.ensembledDomains.length} domain(s).</p>
<h2>Table</h2>
<table>${header}${body}</table>
${moeSection(report)}
<h2>Bits per byte by domain</h2>
<div id="bpb"></div>
<h2>Multiple-choice accuracy (macro, ± 1 SE)</h2>
<div id="acc"></div>
<h2>Ranking: ability per domain (dev items)</h2>
<div id="abilities"></div>
<script>
const data = ${scriptJson(data)};
Plotly.newPlot("bpb", data.bpb.map((r) => ({ type: "bar", name: r.model, x: data.domains, y: r.values })), { barmode: "group", yaxis: { title: "bits per byte" }, height: 480 });
Plotly.newPlot("acc", [{ type: "bar", x: data.acc.map((r) => r.model), y: data.acc.map((r) => r.acc), error_y: { type: "data", array: data.acc.map((r) => r.se) } }], { yaxis: { title: "accuracy", range: [0, 1] }, height: 420 });
Plotly.newPlot("abilities", [{ type: "heatmap", x: data.domains, y: data.abilities.models, z: data.abilities.z, colorscale: "RdBu", reversescale: true }], { height: 120 + 24 * data.abilities.models.length, margin: { l: 160 } });
</script>
</body>
</html>
`;
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
<table>${head}${rows}</table>
${speed}`;
}
