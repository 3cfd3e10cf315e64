import { existsSync, promises as fs } from "node:fs";
import * as path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readModelsFile, type ExpertSpec } from "../../../src/formats/models-file.js";
import { composeByPolicy, type CompositionPolicy } from "../../../src/hub/policy.js";
import { registerHubPage } from "../../../src/hub/web/page.js";
import { readRanking } from "../../../src/rank/ranking-file.js";
import type { Ranking } from "../../../src/rank/ranking.js";
import { createGateway } from "../../../src/serve/gateway.js";
import { LiveComposition } from "../../../src/serve/live.js";
import { registerHubApiStub, type PublishedRecord } from "./hub-api-stub.js";

const CHROMIUM = "/usr/bin/chromium";
const FIXTURES = path.resolve("test/fixtures/hub");
// Screenshots for a person to look at (git-ignored).
const SHOTS = path.resolve("test-output/hub-web");

describe.skipIf(!existsSync(CHROMIUM))(`the hub page in headless Chromium${existsSync(CHROMIUM) ? "" : ` (skipped: no browser at ${CHROMIUM})`}`, () => {
  let ranking: Ranking;
  let experts: ExpertSpec[];
  let live: LiveComposition;
  const published: PublishedRecord[] = [];
  let url = "";
  let close: () => Promise<void>;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  let readerKey: string | undefined;
  let fit: { ranking: Ranking; version: number };

  const publish = async (version: number, policy: CompositionPolicy, name: string) => {
    const c = composeByPolicy(policy, {
      ranking, experts, file: path.join(FIXTURES, "composition.yml"),
      evidence: { tasks: path.join(FIXTURES, "zoo-items.jsonl"), results: path.join(FIXTURES, "zoo-results.jsonl"), ranking: path.join(FIXTURES, "zoo-ranking.json") },
    });
    await live.publish(c.config, version);
    published.push({ version, policy: { name, params: { ...policy } }, config: c.config, yaml: c.yaml, routing: c.routing, publishedAt: new Date().toISOString() });
  };

  beforeAll(async () => {
    ranking = await readRanking(path.join(FIXTURES, "zoo-ranking.json"));
    experts = (await readModelsFile(path.resolve("zoo/models.yaml"))).filter((e) => e.tags.includes("family-a"));
    live = new LiveComposition();
    await publish(1, { kind: "router", topK: 1 }, "router-top-k");
    const app = await createGateway({ models: live, maxTokensCap: 64 });
    await registerHubPage(app);
    fit = { ranking, version: 1 };
    await registerHubApiStub(app, { ranking: () => fit, experts, live, published, resultsFile: path.join(FIXTURES, "zoo-results.jsonl"), gateway: () => `${url}/v1`, readerKey: () => readerKey });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    close = () => app.close();
    await fs.mkdir(SHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1280, height: 1800 } });
    page.on("console", (m) => (m.type() === "error" || m.type() === "warning") && problems.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
    page.on("response", (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()}: ${r.url()}`));
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await close?.();
    await live?.close();
  });

  it("loads with leaderboard rows, intervals and the published composition, without console errors", async () => {
    await page.goto(`${url}/hub/?refresh=300`);
    await page.waitForSelector("#leaderboard tbody tr");
    const rows = await page.$$eval("#leaderboard tbody tr", (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")));
    expect(rows).toHaveLength(ranking.models.length);
    const domain = ranking.domains[0];
    const leader = [...ranking.models].sort((a, b) => b.domains[domain].ability - a.domains[domain].ability)[0];
    expect(rows[0][2]).toContain(leader.model);
    expect(rows[0][5]).toBe(`[${leader.domains[domain].ci[0].toFixed(2)}, ${leader.domains[domain].ci[1].toFixed(2)}]`);
    expect(await page.textContent("#composition-version")).toBe("v1");
    expect(await page.$$("#leaderboard-plot .scatterlayer .point")).toHaveLength(ranking.models.length);
    expect(await page.$$eval("#domains button", (b) => b.map((x) => x.textContent))).toEqual(ranking.domains);
    await page.waitForSelector("#item-table tbody tr");
    await page.screenshot({ path: path.join(SHOTS, "hub-loaded.png"), fullPage: true });
    expect(problems).toEqual([]);
  }, 60_000);

  it("switches domain and opens an expert card, showing contributor text as text", async () => {
    await page.click("#domains button:text-is('law')");
    await page.waitForSelector("#leaderboard-meta:text-matches('^law:')");
    await page.click("#leaderboard tbody tr:first-child button");
    await page.waitForSelector("#expert:not([hidden]) #expert-card dl");
    const card = await page.textContent("#expert-card");
    expect(await page.textContent("#expert-id")).toBe("a-expert-law");
    expect(card).toContain("<b>a-expert-law</b>: a tiny llama of the zoo");
    expect(await page.$$("#expert-card dd b")).toHaveLength(0);
    expect(card).toMatch(/v1unifiedsingle|v1unifiedrouter/);
    await page.screenshot({ path: path.join(SHOTS, "hub-expert.png"), fullPage: true });
    expect(problems).toEqual([]);
  }, 30_000);

  it("streams the playground's answer from the unified model", async () => {
    await page.waitForSelector("#playground-model option[value='unified']", { state: "attached" });
    expect(await page.inputValue("#playground-model")).toBe("unified");
    await page.evaluate(`
      window.appends = 0;
      new MutationObserver(() => window.appends++).observe(document.getElementById("playground-output"), { childList: true, characterData: true, subtree: true });
    `);
    await page.fill("#playground-prompt", "A contract is");
    const response = page.waitForResponse((r) => r.url().endsWith("/v1/chat/completions"));
    await page.click("#playground-send");
    await page.waitForSelector("#playground-output[data-state='done'], #playground-output[data-state='failed']");
    // It streamed: server-sent events, several chunks before [DONE].
    const stream = await response;
    expect(stream.headers()["content-type"]).toContain("text/event-stream");
    expect((await stream.text()).split("\n").filter((line) => line.startsWith("data: {")).length).toBeGreaterThan(1);
    expect(await page.getAttribute("#playground-output", "data-state")).toBe("done");
    const text = await page.textContent("#playground-output");
    expect(text!.length).toBeGreaterThan(0);
    // The page wrote the answer as it came (chunks read in one network read may land in one update).
    expect(await page.evaluate("window.appends")).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(SHOTS, "hub-playground.png"), fullPage: true });
    expect(problems).toEqual([]);
  }, 60_000);

  it("shows the new composition version after a publish, with the history", async () => {
    await publish(2, { kind: "ensemble", topN: 3 }, "ensemble-top-n");
    await page.waitForSelector("#composition-version[data-version='2']", { timeout: 10_000 });
    expect(await page.textContent("#composition-version")).toBe("v2");
    expect(await page.$$eval("#history tbody tr", (trs) => trs.map((tr) => tr.getAttribute("data-version")))).toEqual(["2", "1"]);
    expect(await page.textContent("#composition-detail")).toContain("ensemble-top-n");
    await page.screenshot({ path: path.join(SHOTS, "hub-published.png"), fullPage: true });
    expect(problems).toEqual([]);
  }, 60_000);

  it("shows a refit leaderboard without a new composition (a newcomer evaluated, the composition unchanged)", async () => {
    const domain = (await page.$eval("#domains button[aria-pressed='true']", (b) => b.textContent))!;
    const rows = () => page.$$eval("#leaderboard tbody tr", (trs) => trs.map((tr) => tr.querySelectorAll("td")[2].textContent ?? ""));
    const before = await rows();
    // The refit: the last expert of this domain now leads it.
    const last = before.at(-1)!.trim();
    const refit = structuredClone(ranking);
    const lead = Math.max(...refit.models.filter((m) => m.domains[domain]).map((m) => m.domains[domain].ability));
    const moved = refit.models.find((m) => m.model === last)!;
    moved.domains[domain] = { ...moved.domains[domain], ability: lead + 1, ci: [lead + 0.5, lead + 1.5] };
    fit = { ranking: refit, version: 2 };
    try {
      await page.waitForSelector(`#leaderboard-meta:text-matches('^${domain}: fit v2')`, { timeout: 10_000 });
      expect((await rows())[0]).toContain(last);
      expect(await page.textContent("#composition-version")).toBe("v2");
      await page.screenshot({ path: path.join(SHOTS, "hub-refit.png"), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      fit = { ranking, version: 1 };
    }
  }, 30_000);

  it("asks for a reader's key when the hub's reads need one, and sends it to this hub only", async () => {
    readerKey = "cgk_0123456789abcdef_reader-key-for-the-page-test";
    const authorised: string[] = [];
    page.on("request", (r) => r.headers().authorization && authorised.push(new URL(r.url()).pathname));
    try {
      await page.reload();
      // The reload aborts the old page's requests still running (a "request failed" each).
      problems.length = 0;
      await page.waitForSelector("#key-form:not([hidden])");
      expect(await page.textContent("#key-note")).toContain("an API key is required");
      expect(await page.textContent("#status")).toContain("Could not read the hub's API");
      await page.fill("#api-key", "cgk_0123456789abcdef_a-wrong-key");
      await page.click("#api-key-use");
      await page.waitForSelector("#key-form:not([hidden])");
      await page.waitForSelector("#key-note:text-matches('unknown or revoked API key')");
      await page.fill("#api-key", readerKey);
      await page.click("#api-key-use");
      await page.waitForSelector("#leaderboard tbody tr");
      // The page hides the form once the keyed reads succeed, which may land just after the rows.
      await page.waitForSelector("#key-form", { state: "hidden", timeout: 10_000 });
      expect(await page.isHidden("#key-form")).toBe(true);
      expect(await page.$$("#leaderboard tbody tr")).toHaveLength(ranking.models.length);
      expect(await page.textContent("#status")).toContain("experts from");
      // The playground streams from this hub's own /v1, which needs the key too.
      await page.waitForSelector("#playground-model option[value='unified']", { state: "attached" });
      await page.click("#playground-send");
      await page.waitForSelector("#playground-output[data-state='done'], #playground-output[data-state='failed']");
      expect(await page.getAttribute("#playground-output", "data-state")).toBe("done");
      // The key went to this hub's API and gateway, and to nothing else (no page asset needs it).
      expect(authorised.some((p) => p.startsWith("/api/")) && authorised.includes("/v1/chat/completions")).toBe(true);
      expect(authorised.filter((p) => !p.startsWith("/api/") && !p.startsWith("/v1/"))).toEqual([]);
      await page.screenshot({ path: path.join(SHOTS, "hub-keyed.png"), fullPage: true });
      // The only problems were the hub's answers to the requests without a (right) key.
      expect(problems.length).toBeGreaterThan(0);
      expect(problems.filter((p) => !/^(HTTP 401: .*\/api\/|error: Failed to load resource: the server responded with a status of 401)/.test(p))).toEqual([]);
    } finally {
      readerKey = undefined;
      problems.length = 0;
    }
  }, 60_000);
});
