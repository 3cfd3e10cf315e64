/**
 * One self-contained HTML page for a Ranking: its warnings, a forest plot of the models'
 * intervals, a model × domain heatmap of abilities (a bar chart when there is one domain) and (for
 * per-item rankings) a difficulty / discrimination scatter of the items on robust axes, drawn by
 * plotly.js, which the caller passes in to be inlined — the page loads nothing from the network.
 */
import { escapeHtml, inlineScript, scriptJson } from "../core/html.js";
import { countOf } from "../core/words.js";
import type { Ranking } from "./ranking.js";

/** Most items drawn in the scatter (the most informative and every flagged one are kept). */
const MAX_SCATTER_ITEMS = 3000;
/** Axis limits reach this many interquartile ranges beyond the quartiles, and no further. */
const FENCE_IQRS = 3;

/**
 * An axis range that shows the bulk of `values` and is not stretched by a few extreme ones
 * (an item difficulty of −1361 among values within ±5): the range of the values inside
 * Tukey-style fences FENCE_IQRS interquartile ranges beyond the quartiles, with a 5% margin;
 * values beyond the fences are off-scale.
 */
export function robustRange(values: readonly number[]): [number, number] {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return [0, 1];
  const at = (q: number) => {
    const pos = q * (sorted.length - 1);
    const i = Math.floor(pos);
    return sorted[i] + (sorted[Math.min(i + 1, sorted.length - 1)] - sorted[i]) * (pos - i);
  };
  const [q1, q3] = [at(0.25), at(0.75)];
  const iqr = q3 - q1;
  const inside = sorted.filter((v) => v >= q1 - FENCE_IQRS * iqr && v <= q3 + FENCE_IQRS * iqr);
  const [lo, hi] = [inside[0], inside[inside.length - 1]];
  const margin = Math.max(hi - lo, 1e-9) * 0.05;
  return [lo - margin, hi + margin];
}

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
    scatter: itemScatter(scatterItems),
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
.warnings li { color: #8a4b00; margin: 0.3em 0; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
.plot { width: 100%; } .note { color: #555; font-size: 0.9em; }
</style>
${inlineScript(plotlyJs)}
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="note">${escapeHtml(ranking.method)}. ${countOf(ranking.models.length, "model")}, ${countOf(ranking.domains.length, "domain")}${ranking.items.length ? `, ${countOf(ranking.items.length, "item")}` : ""}.</p>
${ranking.warnings.length ? `<h2>Warnings</h2>
<ul id="warnings" class="warnings">${ranking.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join("\n")}</ul>` : ""}
<h2>Models: ${escapeHtml(axis)} with 95% intervals</h2>
<div id="forest" class="plot"></div>
${ranking.domains.length > 1 ? `<h2>Model × domain</h2>
<div id="heatmap" class="plot"></div>` : ranking.domains.length === 1 ? `<h2>${escapeHtml(axis)} in ${escapeHtml(ranking.domains[0])}</h2>
<div id="domain-bars" class="plot"></div>` : ""}
${ranking.items.length ? `<h2>Items: difficulty and discrimination</h2>
<p class="note">Red: negative discrimination (likely a wrong answer key). Orange: low discrimination. Uninformative items (every model right or every model wrong) are not drawn.${data.scatter.offScale ? ` ${data.scatter.offScale} of ${data.scatter.difficulty.length} items ${data.scatter.offScale === 1 ? "lies" : "lie"} off the axes (difficulty or discrimination beyond ${FENCE_IQRS} interquartile ranges of the rest); they are drawn as open diamonds at the edge, with their true values on hover.` : ""}</p>
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
}], { height, margin: { l: 220, t: 30 }, xaxis: { title: { text: ${JSON.stringify(axis)} } }, yaxis: { automargin: true } }, config);
if (document.getElementById("domain-bars")) {
  Plotly.newPlot("domain-bars", [{
    type: "bar", orientation: "h", x: data.heatmap.z.map((row) => row[0]), y: data.heatmap.models, marker: { color: "#2c7fb8" },
    hovertemplate: "%{y}: %{x:.3f}<extra></extra>",
  }], { height, margin: { l: 220, t: 30 }, yaxis: { automargin: true }, xaxis: { title: { text: ${JSON.stringify(axis)} } } }, config);
}
if (document.getElementById("heatmap")) {
  Plotly.newPlot("heatmap", [{
    type: "heatmap", x: data.heatmap.domains, y: data.heatmap.models, z: data.heatmap.z, colorscale: "RdBu", reversescale: true,
    colorbar: { title: { text: ${JSON.stringify(ranking.scale === "arena" ? "rating" : "ability")}, side: "right" } },
    hovertemplate: "%{y} / %{x}: %{z:.3f}<extra></extra>",
  }], { height, margin: { l: 220, t: 30 }, yaxis: { automargin: true }, xaxis: { automargin: true } }, config);
}
if (document.getElementById("items")) {
  Plotly.newPlot("items", [{
    type: "scatter", mode: "markers", x: data.scatter.x, y: data.scatter.y, text: data.scatter.text,
    marker: { color: data.scatter.color, symbol: data.scatter.symbol, size: data.scatter.size, opacity: 0.7 }, hovertemplate: "%{text}<extra></extra>",
    cliponaxis: false, // off-scale items sit on the axes' edge: draw them whole
  }], {
    height: 500, margin: { t: 30 }, xaxis: { title: { text: "difficulty b" }, range: data.scatter.xRange }, yaxis: { title: { text: "discrimination a" }, range: data.scatter.yRange },
  }, config);
}
</script>
</body>
</html>
`;
}

/** The items' scatter on robust axes: off-scale items are pinned to the edge and marked. */
function itemScatter(items: readonly Ranking["items"][number][]) {
  const b = items.map((it) => it.difficulty!);
  const a = items.map((it) => it.discrimination!);
  const xRange = robustRange(b);
  const yRange = robustRange(a);
  const clamp = (v: number, [lo, hi]: [number, number]) => Math.min(hi, Math.max(lo, v));
  const off = items.map((_, i) => clamp(b[i], xRange) !== b[i] || clamp(a[i], yRange) !== a[i]);
  return {
    x: b.map((v) => clamp(v, xRange)),
    y: a.map((v) => clamp(v, yRange)),
    xRange,
    yRange,
    offScale: off.filter(Boolean).length,
    difficulty: b,
    symbol: off.map((o) => (o ? "diamond-open" : "circle")),
    size: off.map((o) => (o ? 11 : 6)),
    text: items.map((it, i) => `${it.item} [${it.domain}]${it.flags.length ? " " + it.flags.join(", ") : ""}<br>b=${b[i].toFixed(2)} a=${a[i].toFixed(2)}${off[i] ? " (off-scale)" : ""}`),
    color: items.map((it) => (it.flags.includes("negative_discrimination") ? "#c0392b" : it.flags.includes("low_discrimination") ? "#e67e22" : "#2c7fb8")),
  };
}
