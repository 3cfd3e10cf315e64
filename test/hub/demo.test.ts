/**
 * `cogen hub --demo` on a slice of the real zoo (llama.cpp): contributors own their experts, the
 * loop evaluates them, the leaderboards and a served composition follow, and the contributors'
 * keys are written for the person running it — readable by them only.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Composition, LeaderboardIndex } from "../../src/hub/api-types.js";
import { runHubDemo, type HubDemo } from "../../src/hub/demo.js";

describe("the hub demo on the zoo", () => {
  let dir: string;
  let demo: HubDemo;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "cogen-hub-demo-"));
    demo = await runHubDemo({ dir, perDomain: 1, experts: ["a-base", "a-expert-medicine", "a-expert-law"] });
  }, 300_000);
  afterAll(async () => {
    await demo?.hub.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = async <T>(url: string): Promise<T> => JSON.parse((await demo.hub.app.inject({ method: "GET", url })).body) as T;

  it("registers the experts under their contributors, evaluates them and fits every domain", async () => {
    const experts = await demo.hub.store.allExperts();
    expect(Object.fromEntries(experts.map((e) => [e.id, e.owner]))).toEqual({
      "a-base": "lab-foundation", "a-expert-medicine": "health-law-institute", "a-expert-law": "health-law-institute",
    });
    expect(experts.every((e) => e.state === "evaluated" && e.artefact.origin === "reference")).toBe(true);
    const index = await get<LeaderboardIndex>("/api/leaderboards");
    expect(index.leaderboards.length).toBeGreaterThanOrEqual(8);
    expect(index.leaderboards.every((l) => l.experts === 3)).toBe(true);
  });

  it("serves the published composition on /v1 and writes the keys readable by their owner only", async () => {
    const current = await get<Composition>("/api/compositions/current");
    expect(current.state).toBe("published");
    expect(current.endpoint).toEqual({ url: `${demo.hub.url}/v1`, model: "unified" });
    expect(demo.hub.live?.version).toBe(String(current.version));
    const answer = await demo.hub.app.inject({ method: "POST", url: "/v1/completions", payload: { model: "unified", prompt: "The doctor said", max_tokens: 4, temperature: 0 } });
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body).choices[0].text.length).toBeGreaterThan(0);
    expect(Object.keys(demo.keys).sort()).toEqual(["demo-maintainer", "finance-tech-coop", "health-law-institute", "lab-foundation"]);
    for (const file of [path.join(dir, "keys.json"), path.join(dir, "data", "admin.key")]) expect(statSync(file).mode & 0o077).toBe(0);
  });
});
