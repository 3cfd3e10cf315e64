/**
 * The hub page in headless Chromium against the real hub (API, loop and gateway on one server,
 * SQLite, stub endpoint experts): the API's JSON is what the page expects, and a contribution
 * shows up on the page as a new leaderboard row and a new composition version.
 */
import { existsSync, promises as fs } from "node:fs";
import * as path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStub, type StubServer } from "../../models/openai-stub.js";
import { ITEMS_JSONL } from "../../eval/helpers.js";
import { sqliteBackend } from "../backends.js";
import { endpointExpert, hubFixture, type HubFixture } from "../hub-fixture.js";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = path.resolve("test-output/hub-web");

describe.skipIf(!existsSync(CHROMIUM))(`the hub page on a real hub${existsSync(CHROMIUM) ? "" : ` (skipped: no browser at ${CHROMIUM})`}`, () => {
  const backend = sqliteBackend();
  let stub: StubServer;
  let f: HubFixture;
  let url = "";
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    stub = await startStub();
    f = await hubFixture(backend, { serve: true, maxTokensCap: 16 });
    await f.hub.app.listen({ host: "127.0.0.1", port: 0 });
    const address = f.hub.app.server.address();
    url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    f.hub.servedAt(`${url}/v1`);
    expect((await f.call("POST", "/api/suites", f.keys.admin, { id: "stub-suite", provenance: "test/eval/helpers.ts", licence: "cc0", tasks: ITEMS_JSONL })).status).toBe(201);
    for (const [owner, id] of [["alice", "a1"], ["bob", "b1"]] as const) {
      expect((await f.call("POST", "/api/experts", f.keys[owner], endpointExpert(id, stub.url, ["geo", "math"]))).status).toBe(201);
    }
    await f.hub.loop.idle();
    await fs.mkdir(SHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
    page.on("console", (m) => (m.type() === "error" || m.type() === "warning") && problems.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("response", (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()}: ${r.url()}`));
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await f?.close();
    await stub?.close();
    await backend.teardown();
  });

  it("shows the real leaderboards and composition, and follows a new contribution", async () => {
    await page.goto(`${url}/hub/?refresh=500`);
    await page.waitForSelector("#leaderboard tbody tr");
    const experts = () => page.$$eval("#leaderboard tbody tr", (trs) => trs.map((tr) => tr.querySelectorAll("td")[2]?.textContent ?? ""));
    expect((await experts()).join(" ")).toMatch(/a1[\s\S]*b1|b1[\s\S]*a1/);
    const before = Number(await page.getAttribute("#composition-version", "data-version"));
    expect(before).toBeGreaterThan(0);

    expect((await f.call("POST", "/api/experts", f.keys.alice, endpointExpert("a2", stub.url, ["geo", "math"]))).status).toBe(201);
    await f.hub.loop.idle();
    await page.waitForSelector(`#composition-version:not([data-version='${before}'])`, { timeout: 20_000 });
    await page.waitForFunction(`[...document.querySelectorAll("#leaderboard tbody tr")].some((tr) => tr.textContent.includes("a2"))`, null, { timeout: 20_000 });
    await page.screenshot({ path: path.join(SHOTS, "real-hub.png"), fullPage: true });
    expect(problems).toEqual([]);
  }, 90_000);
});
