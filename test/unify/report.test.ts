/** The main job's outputs from a report: report.html's content and unified.yml as `cogen serve` reads it. */
import { describe, expect, it } from "vitest";
import type { UnifyReport } from "../../src/unify/main-job.js";
import { modelColours, renderUnifyHtml } from "../../src/unify/report-html.js";
import { rowOf, oracleRow } from "../../src/unify/scoreboard.js";
import { unifiedYaml } from "../../src/unify/serve-config.js";
import type { ExpertSpec } from "../../src/formats/models-file.js";
import type { ResultRecord } from "../../src/eval/result.js";
import type { Ranking } from "../../src/rank/ranking.js";
import { parseUnifiedConfig } from "../../src/serve/unified-config.js";

const DOMAINS = ["law", "food"];
const records = (model: string, lawBits: number, foodBits: number, right: number): ResultRecord[] => [
  { model, item: "l", domain: "law", task: "law", metric: "bpb", score: 0, bpb: lawBits, bytes: 10 },
  { model, item: "f", domain: "food", task: "food", metric: "bpb", score: 0, bpb: foodBits, bytes: 10 },
  { model, item: "q", domain: "law", task: "law", metric: "acc", score: right },
  { model, item: "r", domain: "food", task: "food", metric: "acc", score: 1 },
];

function report(): UnifyReport {
  const singles = [rowOf("a-base", records("a-base", 2.5, 2.25, 0), DOMAINS), rowOf("<b>bold</b>", records("<b>bold</b>", 2, 3, 1), DOMAINS)];
  const router = rowOf("unified-router", records("unified-router", 2, 2.25, 1), DOMAINS);
  const ranking = {
    kind: "per-item", scale: "logit", method: "test", domains: DOMAINS, items: [], warnings: [],
    models: [{ model: "a-base", rating: 0.1, ci: [0, 0.2], rank: 1, rankRange: [1, 2], domains: { law: { ability: 0.3, ci: [0, 1] }, food: { ability: -0.1, ci: [-1, 1] } } }],
  } as Ranking;
  return {
    domains: DOMAINS,
    singles: ["a-base", "<b>bold</b>"],
    unified: ["unified-router"],
    references: [],
    policies: {
      requested: ["router", "ensemble", "merge"],
      built: [{ policy: "router", id: "unified-router" }],
      skipped: [{ policy: "merge", reason: "no two <local> experts name the same base" }],
      notes: [],
    },
    items: { dev: 4, test: 4, unjudged: [] },
    rows: [...singles, router],
    oracle: oracleRow(singles, DOMAINS),
    goals: [
      { goal: "beats the best single model", met: true, detail: "unified-router 2.125 vs <b>bold</b> 2.500" },
      { goal: "closes the gap", met: false, detail: "closed 0%" },
    ],
    ranking,
    suspicious: [],
    ensemble: { stats: { steps: 40, ensembledSteps: 12, memberCalls: 52 }, ensembledDomains: ["law"], members: { law: ["a-base", "<b>bold</b>"], food: ["a-base"] } },
    routing: { accuracy: 0.75, meanConfidence: 0.5 },
    files: { serveConfig: "/tmp/out dir/unified.yml" },
    serveCommand: "npx cogen serve --config '/tmp/out dir/unified.yml'",
    seconds: 42,
  };
}

describe("report.html", () => {
  const html = renderUnifyHtml(report(), "window.Plotly = {}; // </script> must not end the element");

  it("shows every row with its cells, the unified and oracle rows marked, names escaped", () => {
    expect(html).toContain('<tr class="unified"><td>unified-router</td><td>2.000<br><small>1.00</small></td><td>2.250<br><small>1.00</small></td><td>2.125</td><td>1.000 ± 0.000</td></tr>');
    expect(html).toContain("<tr><td>a-base</td><td>2.500<br><small>0.00</small></td>");
    expect(html).toContain('<tr class="oracle"><td>oracle (best single model per domain)</td><td>2.000<br><small>1.00</small></td><td>2.250<br><small>1.00</small></td>');
    expect(html).not.toContain("<b>bold</b>");
    expect(html).toContain("<td>&lt;b&gt;bold&lt;/b&gt;</td>");
  });

  it("lists the goals met and missed, and the routing and ensemble figures", () => {
    expect(html).toContain('<li class="met">✓ beats the best single model: unified-router 2.125 vs &lt;b&gt;bold&lt;/b&gt; 2.500</li>');
    expect(html).toContain('<li class="missed">✗ closes the gap: closed 0%</li>');
    expect(html).toContain("picked the request's domain for 75% of test items (mean confidence 0.50)");
    expect(html).toContain("Ensemble: combines members in 1 domain; 12 of 40 generation steps consulted more than one member.");
    expect(html).toContain("Run took 42 s.");
    expect(html).toContain('<li class="missed">merge: skipped: no two &lt;local&gt; experts name the same base</li>');
  });

  it("names the test items left out of the table, and says nothing when none were", () => {
    expect(html).not.toContain("left out of the table");
    const some = report();
    some.items.unjudged = [{ item: "law-<long>", missing: ["remote-small"] }];
    const page = renderUnifyHtml(some, "");
    expect(page).toContain("1 test item of 4 left out of the table, because some model has no result for them:");
    expect(page).toContain("<li>law-&lt;long&gt;: no result from remote-small</li>");
  });

  it("words the ensemble sensibly when it ran no generation step, never '0 of 0'", () => {
    const none = report();
    none.ensemble.stats = { steps: 0, ensembledSteps: 0, memberCalls: 0 };
    const page = renderUnifyHtml(none, "");
    expect(page).not.toMatch(/0 of 0/);
    expect(page).toContain("Ensemble: combines members in 1 domain; the test items were all scored by log-likelihood, so it ran no generation steps.");
  });

  it("gives every model its own colour and marks the unified ones apart", () => {
    const data = JSON.parse(/const data = (.*);\n/.exec(html)![1]);
    const colours = data.bpb.map((r: { colour: string }) => r.colour);
    expect(new Set(colours).size).toBe(colours.length);
    expect(data.bpb.map((r: { kind: string }) => r.kind)).toEqual(["single", "single", "unified", "oracle"]);
    expect(data.acc.find((r: { model: string }) => r.model === "unified-router").kind).toBe("unified");
    // 17 models of the zoo's demo: still no colour twice.
    const many = modelColours([...Array(12).fill("single"), ...Array(3).fill("unified"), "reference", "oracle"]);
    expect(new Set(many).size).toBe(17);
  });

  it("embeds plotly.js inline and the plot data as JSON", () => {
    expect(html).toContain("<script>window.Plotly = {}; // <\\/script> must not end the element</script>");
    const data = JSON.parse(/const data = (.*);\n/.exec(html)![1]);
    expect(data.domains).toEqual(DOMAINS);
    expect(data.bpb.map((r: { model: string }) => r.model)).toEqual(["a-base", "<b>bold</b>", "unified-router", "oracle (best single model per domain)"]);
    expect(data.bpb[0].values).toEqual([2.5, 2.25]);
    expect(data.abilities).toEqual({ models: ["a-base"], z: [[0.3, -0.1]] });
  });
});

describe("unified.yml", () => {
  const spec = (id: string, file: string, extra: Partial<ExpertSpec> = {}): ExpertSpec => ({ id, backend: "llamacpp", path: file, domains: [], tags: [], ...extra });
  const experts = [
    spec("a-base", "/z/my zoo: a/base/model.gguf", { threads: 1, contextSize: 512 }),
    spec("a-expert-law", "/z/a/experts/law/model.gguf", { base: "a-base", weights: "/z/a/experts/law/hf", domains: ["law"] }),
    { id: "remote", backend: "openai", url: "http://127.0.0.1:9/v1", model: "big-7b", apiKeyEnv: "KEY", domains: [], tags: [] } as ExpertSpec,
  ];
  const merged = spec("unified-ties-merge", "/tmp/out dir/merged-ties/model.gguf", { tags: ["unified"] });
  const text = unifiedYaml({ experts, checkpoints: [merged], outDir: "/tmp/out dir", domainItems: true, report: { ...report(), singles: experts.map((e) => e.id) } });

  it("parses with cogen serve's config loader: every expert, the merge, the router, the ensemble and each single model", () => {
    expect(text).toContain("npx cogen serve --config '/tmp/out dir/unified.yml'");
    const config = parseUnifiedConfig(text, "/tmp/out dir/unified.yml");
    expect(config.experts.map((e) => [e.id, e.backend, e.path ?? e.url])).toEqual([
      ["a-base", "llamacpp", "/z/my zoo: a/base/model.gguf"],
      ["a-expert-law", "llamacpp", "/z/a/experts/law/model.gguf"],
      ["remote", "openai", "http://127.0.0.1:9/v1"],
      // Written relative to the output folder, read back where it lies.
      ["unified-ties-merge", "llamacpp", "/tmp/out dir/merged-ties/model.gguf"],
    ]);
    expect(text).toContain("path: merged-ties/model.gguf");
    // Every field survives the round trip.
    expect(config.experts.slice(0, 3)).toEqual(experts);
    expect(config.served.map((s) => [s.id, s.policy, s.members])).toEqual([
      ["unified-router", "router", ["a-base", "a-expert-law", "remote"]],
      ["unified-ensemble", "ensemble", ["a-base", "a-expert-law", "remote"]],
      ["unified-ties-merge", "single", ["unified-ties-merge"]],
      ["a-base", "single", ["a-base"]],
      ["a-expert-law", "single", ["a-expert-law"]],
      ["remote", "single", ["remote"]],
    ]);
    const evidence = { tasks: "dev-items.jsonl", results: "dev-results.jsonl", ranking: "ranking.json", domain_items: "domain-items.jsonl" };
    expect(config.served[0].options).toEqual(evidence);
    expect(config.served[1].options).toEqual({ ...evidence, max_ability_gap: 1.5, weight_temperature: 0.5 });
  });
});
