import { describe, expect, it } from "vitest";
import { renderRankingHtml, robustRange } from "../../src/rank/html-report.js";
import { singleDomainRanking } from "./report-fixture.js";

const dataOf = (html: string) => JSON.parse(/<script id="cogen-data" type="application\/json">(.*)<\/script>/.exec(html)![1]);

describe("robustRange", () => {
  it("covers the data when nothing is extreme", () => {
    const [lo, hi] = robustRange([-2, -1, 0, 1, 2]);
    expect(lo).toBeLessThan(-2);
    expect(hi).toBeGreaterThan(2);
    expect(hi - lo).toBeLessThan(4.5);
  });

  it("is not stretched by an outlier", () => {
    const values = [...Array.from({ length: 50 }, (_, i) => (i - 25) / 10), -1361];
    const [lo, hi] = robustRange(values);
    // The axis hugs the bulk (−2.5 … 2.4, with a 5% margin); the outlier is pinned at its edge.
    expect(lo).toBeGreaterThan(-3);
    expect(lo).toBeLessThan(-2.5);
    expect(hi).toBeLessThan(3);
  });

  it("has a width for constant or empty data", () => {
    const [lo, hi] = robustRange([3, 3, 3]);
    expect(hi).toBeGreaterThan(lo);
    expect(robustRange([])).toEqual([0, 1]);
  });
});

describe("the rank report page", () => {
  const html = renderRankingHtml(singleDomainRanking(), "window.Plotly = {};");

  it("shows the ranking's warnings, escaped", () => {
    expect(html).toContain("<h2>Warnings</h2>");
    expect(html).toContain("disagree with plain mean scores &lt;check&gt; (cogen rank --discrimination-sd 0.5)</li>");
  });

  it("draws one domain as a bar chart, not a one-column heatmap", () => {
    expect(html).toContain('<div id="domain-bars"');
    expect(html).not.toContain('<div id="heatmap"');
  });

  it("keeps the item axes on the bulk of the items and says how many lie off-scale", () => {
    const data = dataOf(html);
    expect(data.scatter.xRange[0]).toBeGreaterThan(-10);
    expect(data.scatter.offScale).toBeGreaterThanOrEqual(1);
    expect(html).toMatch(new RegExp(`${data.scatter.offScale} of 62 items lies? off the axes`));
    const wild = data.scatter.text.findIndex((t: string) => t.startsWith("wild"));
    expect(data.scatter.x[wild]).toBe(data.scatter.xRange[0]);
    expect(data.scatter.symbol[wild]).toBe("diamond-open");
    expect(data.scatter.text[wild]).toContain("b=-1361.00");
  });

  it("keeps the heatmap for several domains and shows no warnings section without warnings", () => {
    const ranking = singleDomainRanking();
    ranking.domains = ["chemistry", "physics"];
    for (const m of ranking.models) m.domains.physics = { ...m.domains.chemistry };
    ranking.warnings = [];
    const page = renderRankingHtml(ranking, "");
    expect(page).toContain('<div id="heatmap"');
    expect(page).not.toContain("Warnings");
  });
});
