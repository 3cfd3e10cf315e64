/**
 * Every report page in real headless Chromium: the unified-model report (a zoo-shaped fixture) and
 * the rank report (a one-domain fixture with a wild item, and ChemBench when the reference data is
 * there). No console errors, every plot drawn (Plotly's SVG), the legend complete, and a
 * screenshot of each under test-output/screenshots/.
 */
import { promises as fs } from "node:fs";
import { readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readPlotly } from "../../src/core/html.js";
import { parseResultsCsv } from "../../src/formats/results.js";
import { renderRankingHtml } from "../../src/rank/html-report.js";
import { rankResults } from "../../src/rank/per-item.js";
import { renderUnifyHtml } from "../../src/unify/report-html.js";
import { referenceFile } from "../reference-data.js";
import { singleDomainRanking, votesRanking } from "../rank/report-fixture.js";
import { wideReport, zooLikeReport } from "../unify/report-fixture.js";
import { capture } from "../cli/capture.js";
import { chromiumAvailable, chromiumSkipNote, clippedPlotTexts, launchChromium, openPage, pageOverflow, screenshot } from "./chromium.js";

let browser: Browser;
let dir: string;
let plotly: string;

beforeAll(async () => {
  if (!chromiumAvailable) return;
  [browser, dir, plotly] = await Promise.all([launchChromium(), fs.mkdtemp(path.join(os.tmpdir(), "cogen-browser-")), readPlotly()]);
});
afterAll(async () => {
  await browser?.close();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

async function load(name: string, html: string, width?: number): Promise<{ page: Page; errors: string[] }> {
  const file = path.join(dir, `${name}.html`);
  await fs.writeFile(file, html);
  return openPage(browser, file, width);
}

/** What a user would see as broken layout: the page scrolling sideways, or a plot's labels cut off. */
async function expectFits(page: Page, plots: string[]): Promise<void> {
  expect(await pageOverflow(page), "page wider than the window").toBe(0);
  for (const id of plots) expect(await clippedPlotTexts(page, id), `labels cut off in #${id}`).toEqual([]);
}

/** Number of Plotly SVG roots inside the element `id` (0 when it was not drawn). */
const svgCount = (page: Page, id: string) => page.locator(`#${id} svg.main-svg`).count();

describe.skipIf(!chromiumAvailable)(`report pages in headless Chromium${chromiumSkipNote}`, () => {
  it("the unified-model report draws every plot, one distinct legend entry per model, no errors", async () => {
    const report = zooLikeReport();
    const { page, errors } = await load("unify-report", renderUnifyHtml(report, plotly));
    await screenshot(page, "unify-report");
    for (const id of ["bpb", "acc", "abilities"]) expect(await svgCount(page, id), id).toBeGreaterThan(0);
    const models = report.rows.length + 1; // and the oracle
    // Legend entries (group titles are entries without a symbol), each with its own colour.
    const entries = page.locator("#bpb .legend .traces:has(.legendpoints path)");
    expect(await entries.count()).toBe(models);
    const fills = await entries.evaluateAll((nodes) => nodes.map((n) => /fill: ([^;]+)/.exec(n.querySelector(".legendpoints path")?.getAttribute("style") ?? "")?.[1]));
    expect(new Set(fills).size).toBe(models);
    expect(await page.locator("#bpb .legend .traces:not(:has(.legendpoints path))").allTextContents()).toEqual(["single models", "unified models", "references (members of nothing)", "oracle (ceiling)"]);
    // The legend fits: Plotly adds a scrollbar only when it does not.
    expect(await page.locator("#bpb .legend .scrollbar").evaluateAll((nodes) => nodes.filter((n) => n.getBoundingClientRect().height > 0).length)).toBe(0);
    // Accuracy bars by kind: the unified models are a trace (and a legend entry) of their own.
    expect(await page.locator("#acc .legend .traces").allTextContents()).toEqual(expect.arrayContaining(["single models", "unified models"]));
    expect(await page.locator("body").textContent()).not.toContain("0 of 0");
    await expectFits(page, ["bpb", "acc", "abilities"]);
    expect(errors).toEqual([]);
    await page.close();
  });

  // A user's own experts: long Hugging Face names, eight domains, a laptop-sized and a narrow window.
  it.each([[1280], [820]])("the unified-model report of long-named experts fits a %i px window, every label whole", async (width) => {
    const report = wideReport();
    const { page, errors } = await load(`unify-report-wide-${width}`, renderUnifyHtml(report, plotly), width);
    await screenshot(page, `unify-report-wide-${width}`);
    await expectFits(page, ["bpb", "acc", "abilities"]);
    // Every model and the oracle in the legend, and every model named on the accuracy axis.
    expect(await page.locator("#bpb .legend .traces:has(.legendpoints path)").count()).toBe(report.rows.length + 1);
    expect(await page.locator("#acc .ytick text").allTextContents()).toEqual([...report.rows.map((r) => r.model), report.oracle.model].reverse());
    // The bars keep most of the width: the legend goes under the plot rather than beside it.
    const plotWidth = await page.locator("#bpb .nsewdrag").first().evaluate((n) => n.getBoundingClientRect().width);
    expect(plotWidth).toBeGreaterThan(width * 0.6);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("the rank report shows warnings, a bar chart for one domain and items on robust axes, no errors", async () => {
    const ranking = singleDomainRanking();
    const { page, errors } = await load("rank-report-one-domain", renderRankingHtml(ranking, plotly, "one domain"));
    await screenshot(page, "rank-report-one-domain");
    expect(await page.locator("#warnings li").count()).toBe(1);
    expect(await svgCount(page, "forest")).toBeGreaterThan(0);
    expect(await svgCount(page, "domain-bars")).toBeGreaterThan(0);
    expect(await page.locator("#heatmap").count()).toBe(0);
    expect(await page.locator("#domain-bars .bars .point").count()).toBe(ranking.models.length);
    expect(await page.locator("#items .scatterlayer .point").count()).toBe(ranking.items.length);
    // The x axis shows the bulk of the items, not −1361.
    const ticks = (await page.locator("#items .xtick text").allTextContents()).map((t) => Number(t.replace("−", "-")));
    expect(Math.min(...ticks)).toBeGreaterThan(-20);
    expect(await page.locator("body").textContent()).toContain("1 of 62 items lies off the axes");
    expect(await page.locator("body").textContent()).toContain("4 models, 1 domain, 62 items.");
    await expectFits(page, ["forest", "domain-bars", "items"]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("the rank report of votes over several domains draws a heatmap with every (long) model name whole, no item plot", async () => {
    const ranking = votesRanking();
    const { page, errors } = await load("rank-report-votes", renderRankingHtml(ranking, plotly, "votes"), 820);
    await screenshot(page, "rank-report-votes");
    expect(await svgCount(page, "heatmap")).toBeGreaterThan(0);
    expect(await page.locator("#items").count()).toBe(0);
    expect(await page.locator("#warnings").count()).toBe(0);
    expect((await page.locator("#heatmap .ytick text").allTextContents()).sort()).toEqual(ranking.models.map((m) => m.model).sort());
    expect(await page.locator("#forest .xtitle").textContent()).toBe("rating (Arena scale)");
    expect(await page.locator("#heatmap .cbtitle").textContent()).toBe("rating");
    await expectFits(page, ["forest", "heatmap"]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("the page 'cogen rank --html' writes (committed ChemBench sample, into a new folder) shows its warning and fits", async () => {
    const sample = path.join(import.meta.dirname, "../fixtures/chembench/binary_matrix-every-5th-item.csv");
    const file = path.join(dir, "new-folder", "chembench.html");
    const result = await capture(["rank", sample, "--quiet", "--html", file]);
    expect(result.code, result.err).toBe(0);
    const { page, errors } = await openPage(browser, file);
    await screenshot(page, "rank-report-cli");
    expect(await page.locator("#warnings li").count()).toBeGreaterThan(0);
    expect(await page.locator("#warnings").textContent()).toContain("--discrimination-sd 0.5");
    for (const id of ["forest", "domain-bars", "items"]) expect(await svgCount(page, id), id).toBeGreaterThan(0);
    await expectFits(page, ["forest", "domain-bars", "items"]);
    expect(errors).toEqual([]);
    await page.close();
  });

  const chembench = referenceFile("chembench", "binary_matrix.csv");
  it.skipIf(!chembench.available)(`the rank report of ChemBench (real data) shows its IRT/accuracy warning with the flag that resolves it${chembench.skipNote}`, async () => {
    const { ranking } = rankResults(parseResultsCsv(readFileSync(chembench.path, "utf8"), chembench.path));
    const { page, errors } = await load("rank-report-chembench", renderRankingHtml(ranking, plotly, "ChemBench"));
    await screenshot(page, "rank-report-chembench");
    expect(await page.locator("#warnings").textContent()).toContain("--discrimination-sd 0.5");
    expect(await svgCount(page, "domain-bars")).toBeGreaterThan(0);
    expect(await svgCount(page, "items")).toBeGreaterThan(0);
    const ticks = (await page.locator("#items .xtick text").allTextContents()).map((t) => Number(t.replace("−", "-")));
    expect(Math.min(...ticks)).toBeGreaterThan(-100);
    await expectFits(page, ["forest", "domain-bars", "items"]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
