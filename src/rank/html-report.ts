/**
 * One self-contained HTML page for a Ranking: a forest plot of the models' intervals, a model ×
 * domain heatmap of abilities and (for per-item rankings) a difficulty / discrimination scatter of
 * the items, drawn by plotly.js, which the caller passes in to be inlined — the page loads nothing
 * from the network.
 */
import { escapeHtml, inlineScript, scriptJson } from "../core/html.js";
import type { Ranking } from "./ranking.js";

/** Most items drawn in the scatter (the most informative and every flagged one are kept). */
const MAX_SCATTER_ITEMS = 5000;

export function renderRankingHtml(ranking: Ranking, plotlyJs: string, title = "cogen ranking"): string {
  const models = [...ranking.models].reverse(); // best at the top of a horizontal plot
  const flagged = ranking.items.filter((it) => it.flags.length > 0 && it.discrimination !== null);
  const rest = ranking.items.filter((it) => it.flags.length === 0 && it.discrimination !== null);
  const scatterItems = [...flagged.slice(0, MAX_SCATTER_ITEMS), ...rest.slice(0, Math.max(0, MAX_SCATTER_ITEMS - flagged.length))];
  const data = {
    scale: ranking.scale,
    forest: {
      models: models.map((m) => m.model),
      rating: models.map((m) => m.rating),
      lo: models.map((m) => m.rating - m.ci[0]),
      hi: models.map((m) => m.ci[1] - m.rating),
      rank: models.map((m) => `rank ${m.rank} (${m.rankRange[0]}–${m.rankRange[1]})`),
    },
    heatmap: {
      domains: ranking.domains,
      models: models.map((m) => m.model),
      z: models.map((m) => ranking.domains.map((d) => m.domains[d]?.ability ?? null)),
    },
    scatter: {
      difficulty: scatterItems.map((it) => it.difficulty),
      discrimination: scatterItems.map((it) => it.discrimination),
      text: scatterItems.map((it) => `${it.item} [${it.domain}]${it.flags.length ? " " + it.flags.join(", ") : ""}`),
      color: scatterItems.map((it) => (it.flags.includes("negative_discrimination") ? "#c0392b" : it.flags.includes("low_discrimination") ? "#e67e22" : "#2c7fb8")),
    },
    warnings: ranking.warnings,
  };
  const json = scriptJson(data);
  const axis = ranking.scale === "arena" ? "rating (Arena scale)" : "ability (logit scale)";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
.plot { width: 100%; } .note { color: #555; font-size: 0.9em; }
</style>
${inlineScript(plotlyJs)}
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="note">${escapeHtml(ranking.method)}. ${ranking.models.length} models, ${ranking.domains.length} domains${ranking.items.length ? `, ${ranking.items.length} items` : ""}.</p>
<h2>Models: ${escapeHtml(axis)} with 95% intervals</h2>
<div id="forest" class="plot"></div>
<h2>Model × domain</h2>
<div id="heatmap" class="plot"></div>
${ranking.items.length ? `<h2>Items: difficulty and discrimination</h2>
<p class="note">Red: negative discrimination (likely a wrong answer key). Orange: low discrimination. Uninformative items (every model right or every model wrong) are not drawn.</p>
<div id="items" class="plot"></div>` : ""}
<script id="cogen-data" type="application/json">${json}</script>
<script>
const data = JSON.parse(document.getElementById("cogen-data").textContent);
const config = { displaylogo: false, responsive: true };
const height = Math.max(300, 22 * data.forest.models.length + 100);
Plotly.newPlot("forest", [{
  type: "scatter", mode: "markers", x: data.forest.rating, y: data.forest.models, text: data.forest.rank,
  error_x: { type: "data", symmetric: false, array: data.forest.hi, arrayminus: data.forest.lo },
  hovertemplate: "%{y}: %{x:.3f}<br>%{text}<extra></extra>",
}], { height, margin: { l: 220 }, xaxis: { title: { text: ${JSON.stringify(axis)} } }, yaxis: { automargin: true } }, config);
if (data.heatmap.domains.length > 0) {
  Plotly.newPlot("heatmap", [{
    type: "heatmap", x: data.heatmap.domains, y: data.heatmap.models, z: data.heatmap.z, colorscale: "RdBu", reversescale: true,
    hovertemplate: "%{y} / %{x}: %{z:.3f}<extra></extra>",
  }], { height, margin: { l: 220 }, yaxis: { automargin: true }, xaxis: { automargin: true } }, config);
}
if (document.getElementById("items")) {
  Plotly.newPlot("items", [{
    type: "scattergl", mode: "markers", x: data.scatter.difficulty, y: data.scatter.discrimination, text: data.scatter.text,
    marker: { color: data.scatter.color, size: 6, opacity: 0.7 }, hovertemplate: "%{text}<br>b=%{x:.2f} a=%{y:.2f}<extra></extra>",
  }], { height: 500, xaxis: { title: { text: "difficulty b" } }, yaxis: { title: { text: "discrimination a" } } }, config);
}
</script>
</body>
</html>
`;
}
