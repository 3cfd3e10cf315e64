import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.js";
import { simulate } from "../rank/simulate.js";

let dir: string;
beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-rank-cli-")); });
afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });

/** Run the CLI, capturing what it prints. */
async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => { stdout += String(chunk); return true; });
  const log = vi.spyOn(console, "log").mockImplementation((...args) => { stdout += args.join(" ") + "\n"; });
  const err = vi.spyOn(console, "error").mockImplementation((...args) => { stderr += args.join(" ") + "\n"; });
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    log.mockRestore();
    err.mockRestore();
  }
}

describe("cogen rank / select on per-item results", () => {
  let resultsFile: string;
  beforeAll(async () => {
    const sim = simulate({ models: 16, domainSizes: [30, 60, 120], seed: 4, specialisation: 0.5, missing: 0.05 });
    // An item with a reversed answer key (the weaker half of the models get it right) and an
    // item every model gets right.
    const results = [...sim.results];
    const median = [...sim.theta[2]].sort((x, y) => x - y)[8];
    sim.models.forEach((model, m) => results.push({ model, item: "reversed", domain: "domain-2", score: sim.theta[2][m] < median ? 1 : 0 }));
    for (const model of sim.models) results.push({ model, item: "trivial", domain: "domain-0", score: 1 });
    resultsFile = path.join(dir, "results.jsonl");
    await fs.writeFile(resultsFile, results.map((r) => JSON.stringify(r)).join("\n") + "\n");
  });

  it("writes the ranking JSON and a self-contained HTML report, and prints the table", async () => {
    const json = path.join(dir, "ranking.json");
    const html = path.join(dir, "report.html");
    const { code, stdout } = await cli(["rank", resultsFile, "--json-out", json, "--html", html, "--anchors", "5"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/rank\s+model\s+ability\s+95% interval\s+rank range\s+domain-0\s+domain-1\s+domain-2/);
    expect(stdout).toMatch(/most suspicious items/);
    const ranking = JSON.parse(await fs.readFile(json, "utf8"));
    expect(ranking.kind).toBe("per-item");
    expect(ranking.models).toHaveLength(16);
    for (const m of ranking.models) {
      expect(typeof m.model).toBe("string");
      expect(m.ci[0]).toBeLessThan(m.rating);
      expect(m.ci[1]).toBeGreaterThan(m.rating);
      expect(m.rankRange[0]).toBe(m.rank);
      expect(Object.keys(m.domains).sort()).toEqual(["domain-0", "domain-1", "domain-2"]);
      expect(m.domains["domain-1"].ci).toHaveLength(2);
    }
    expect(ranking.models.map((m: { rating: number }) => m.rating)).toEqual([...ranking.models.map((m: { rating: number }) => m.rating)].sort((x, y) => y - x));
    const trivial = ranking.items.find((it: { item: string }) => it.item === "trivial");
    expect(trivial).toMatchObject({ domain: "domain-0", difficulty: null, discrimination: null, information: 0, flags: ["uninformative"] });
    const flipped = ranking.items.find((it: { item: string }) => it.item === "reversed");
    expect(flipped.discrimination).toBeLessThan(0);
    expect(flipped.flags).toEqual(["negative_discrimination"]);
    expect(stdout).toMatch(/reversed\s+domain-2\s+-[\d.]+.*negative_discrimination/);
    // Items are ordered by information.
    const info = ranking.items.map((it: { information: number }) => it.information);
    expect(info).toEqual([...info].sort((x, y) => y - x));
    expect(ranking.anchors.anchors).toHaveLength(5);
    expect(ranking.anchors.heldOutMae).toBeGreaterThan(0);
    expect(ranking.anchors.heldOutMae).toBeLessThan(0.25);

    const page = await fs.readFile(html, "utf8");
    expect(page).toContain('Plotly.newPlot("forest"');
    expect(page).toContain('Plotly.newPlot("heatmap"');
    expect(page).toContain('Plotly.newPlot("items"');
    expect(page).toContain(ranking.models[0].model);
    expect(page.length).toBeGreaterThan(1_000_000); // plotly.js is inlined
    expect(page).not.toMatch(/<script[^>]+src=/i);
    expect(page).not.toMatch(/<link[^>]+href=/i);
    expect(page.match(/<\/script>/g)!.length).toBe(3);

    const selected = await cli(["select", json, "--domain", "domain-2", "--top", "2", "--json"]);
    expect(selected.code).toBe(0);
    const experts = JSON.parse(selected.stdout).experts;
    expect(experts).toHaveLength(2);
    const best = Math.max(...ranking.models.map((m: { domains: Record<string, { ability: number }> }) => m.domains["domain-2"].ability));
    expect(experts[0].ability).toBe(best);
    expect(experts[0].probabilityBest).toBeGreaterThan(0);
    expect(experts[0].probabilityBest).toBeLessThanOrEqual(1);

    const unknown = await cli(["select", json, "--domain", "law"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no model has an ability in domain "law"; domains in this ranking: overall, domain-0, domain-1, domain-2/);
  });

  it("reports bad input and bad flags without a stack trace", async () => {
    const bad = path.join(dir, "bad.jsonl");
    await fs.writeFile(bad, '{"model":"m","item":"q","score":1}\n{"model":"m","item":"q","score":0.5}\n');
    const dup = await cli(["rank", bad, "--quiet"]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain(`${bad}:2: duplicate result for model "m" on item "q" (first on line 1)`);
    const flags = await cli(["rank", resultsFile, "--anchors", "x", "--format", "xml"]);
    expect(flags.code).toBe(2);
    expect(flags.stderr).toMatch(/--format must be one of auto, results, battles, lm-eval/);
    expect(flags.stderr).toMatch(/--anchors: expected an integer ≥ 1, got 'x'/);
    const missing = await cli(["rank", path.join(dir, "nope.csv")]);
    expect(missing.stderr).toMatch(/nope\.csv: no such file or folder/);
    const none = await cli(["rank", "--quiet"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^cogen rank: no inputs/);
  });

  it("prints the ranking as JSON on standard output with --json (no file argument), and nothing else there", async () => {
    const { code, stdout } = await cli(["rank", resultsFile, "--json"]);
    expect(code).toBe(0);
    const ranking = JSON.parse(stdout);
    expect(ranking.kind).toBe("per-item");
    expect(ranking.models).toHaveLength(16);
  });
});

describe("cogen rank on votes", () => {
  it("rates on the Arena scale with bootstrap intervals", async () => {
    const file = path.join(dir, "battles.csv");
    const rows = ["model_a,model_b,winner"];
    const outcomes = ["model_a", "model_a", "model_a", "model_b", "tie"];
    for (let k = 0; k < 60; k++) {
      rows.push(`strong,weak,${outcomes[k % 5]}`);
      rows.push(`strong,middle,${outcomes[(k + 1) % 5]}`);
      rows.push(`middle,weak,${outcomes[(k + 2) % 5]}`);
    }
    await fs.writeFile(file, rows.join("\n") + "\n");
    const json = path.join(dir, "votes.json");
    const { code } = await cli(["rank", file, "--bootstrap", "20", "--seed", "1", "--json-out", json, "--quiet"]);
    expect(code).toBe(0);
    const ranking = JSON.parse(await fs.readFile(json, "utf8"));
    expect(ranking.kind).toBe("pairwise");
    expect(ranking.scale).toBe("arena");
    expect(ranking.models[0].model).toBe("strong");
    expect(ranking.models[0].rating).toBeGreaterThan(1000);
    expect(ranking.items).toEqual([]);
    expect(ranking.robustness.leader).toBe("strong");
    expect(ranking.robustness.votesToFlip).toBeGreaterThan(0);
    const mixed = await cli(["rank", file, path.join(dir, "results.jsonl"), "--quiet"]);
    expect(mixed.stderr).toMatch(/mix per-item results with pairwise votes/);
  });
});

describe("cogen rank on an lm-evaluation-harness folder", () => {
  it("finds the run folders, uses tasks as domains and ranks the models", async () => {
    const root = path.join(dir, "lm-eval-out");
    const date = "2024-05-13T12-30-45.123456";
    const accuracy: Record<string, number> = { "org__small": 0.3, "org__medium": 0.55, "org__large": 0.8 };
    for (const [folder, p] of Object.entries(accuracy)) {
      await fs.mkdir(path.join(root, folder), { recursive: true });
      for (const task of ["arc_easy", "boolq"]) {
        // Deterministic pattern: the item is right when its rank among 40 is below p·40.
        const lines = Array.from({ length: 40 }, (_, k) => JSON.stringify({ doc_id: k, filter: "none", metrics: ["acc"], acc: ((k * 17) % 40) < p * 40 ? 1 : 0 }));
        await fs.writeFile(path.join(root, folder, `samples_${task}_${date}.jsonl`), lines.join("\n") + "\n");
      }
    }
    const json = path.join(dir, "lm-eval.json");
    const { code } = await cli(["rank", root, "--json-out", json, "--quiet"]);
    expect(code).toBe(0);
    const ranking = JSON.parse(await fs.readFile(json, "utf8"));
    expect(ranking.models.map((m: { model: string }) => m.model)).toEqual(["org/large", "org/medium", "org/small"]);
    expect(ranking.domains).toEqual(["arc_easy", "boolq"]);
    expect(ranking.items[0].item).toMatch(/^(arc_easy|boolq)\/\d+$/);
  });
});
