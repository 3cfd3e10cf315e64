import { promises as fs } from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { readModelsFile, type ExpertSpec } from "../../src/formats/models-file.js";
import { composeByPolicy, parseCompositionPolicy, type CompositionInput } from "../../src/hub/policy.js";
import { readRanking } from "../../src/rank/ranking-file.js";
import type { Ranking } from "../../src/rank/ranking.js";
import { LiveComposition } from "../../src/serve/live.js";
import { parseUnifiedConfig } from "../../src/serve/unified-config.js";
import { startGateway } from "../../src/serve/gateway.js";

// A real ranking: the zoo's family-A models evaluated on 160 cloze items (test/fixtures/hub/README.md).
const FIXTURES = path.resolve("test/fixtures/hub");
let ranking: Ranking;
let familyA: ExpertSpec[];

beforeAll(async () => {
  ranking = await readRanking(path.join(FIXTURES, "zoo-ranking.json"));
  familyA = (await readModelsFile(path.resolve("zoo/models.yaml"))).filter((e) => e.tags.includes("family-a"));
});

const input = (experts: ExpertSpec[] = familyA): CompositionInput => ({
  ranking,
  experts,
  evidence: { tasks: path.join(FIXTURES, "zoo-items.jsonl"), results: path.join(FIXTURES, "zoo-results.jsonl"), ranking: path.join(FIXTURES, "zoo-ranking.json") },
  file: path.join(FIXTURES, "composition.yml"),
});

const ability = (model: string, domain: string) => ranking.models.find((m) => m.model === model)!.domains[domain];

describe("composition policies on a real ranking of the zoo", () => {
  it("routes each domain to its leader with router top-1", () => {
    const c = composeByPolicy({ kind: "router", topK: 1 }, input());
    for (const domain of ranking.domains) {
      const best = [...ranking.models].sort((a, b) => b.domains[domain].ability - a.domains[domain].ability)[0].model;
      expect(c.routing[domain]).toEqual([best]);
    }
    // Each expert leads its own domain on this evidence.
    expect(c.routing.law).toEqual(["a-expert-law"]);
    expect(c.routing.computing).toEqual(["a-expert-computing"]);
    const unified = c.config.served.find((s) => s.id === "unified")!;
    expect(unified.policy).toBe("router");
    expect(new Set(unified.members)).toEqual(new Set(Object.values(c.routing).flat()));
    expect(unified.options).toMatchObject({ tasks: expect.stringContaining("zoo-items.jsonl") });
    // Members are served as themselves too, and the YAML reads back to the same config.
    expect(c.config.served.filter((s) => s.policy === "single").map((s) => s.id).sort()).toEqual([...unified.members].sort());
    expect(parseUnifiedConfig(c.yaml, c.config.file)).toEqual(c.config);
  });

  it("leaves out a top-k expert whose interval lies wholly below its domain leader's, unless asked to keep it", () => {
    const strict = composeByPolicy({ kind: "router", topK: 3 }, input());
    const kept = composeByPolicy({ kind: "router", topK: 3, keepClearlyWorse: true }, input());
    for (const domain of ranking.domains) {
      expect(kept.routing[domain]).toHaveLength(3);
      const [leader, ...rest] = strict.routing[domain];
      expect(leader).toBe(kept.routing[domain][0]);
      for (const m of rest) expect(ability(m, domain).ci[1]).toBeGreaterThanOrEqual(ability(leader, domain).ci[0]);
      for (const m of kept.routing[domain].filter((x) => !strict.routing[domain].includes(x))) {
        expect(ability(m, domain).ci[1]).toBeLessThan(ability(leader, domain).ci[0]);
        expect(strict.reasons.some((r) => r.startsWith(`${domain}: ${m} left out, clearly worse than ${leader}`))).toBe(true);
      }
    }
  });

  it("ensembles the top-n overall, with the ranking's abilities", () => {
    const c = composeByPolicy({ kind: "ensemble", topN: 3, maxAbilityGap: 1.5 }, input());
    const top3 = [...ranking.models].sort((a, b) => b.rating - a.rating).slice(0, 3).map((m) => m.model);
    const unified = c.config.served.find((s) => s.id === "unified")!;
    expect(unified).toMatchObject({ policy: "ensemble", members: top3, options: { max_ability_gap: 1.5, ranking: expect.stringContaining("zoo-ranking.json") } });
    expect(c.routing.food).toEqual(top3);

    // Over all 11, a-expert-computing's overall interval lies wholly below the leader's.
    const all = composeByPolicy({ kind: "ensemble", topN: 11 }, input());
    expect(all.config.served[0].members).toHaveLength(10);
    expect(all.config.served[0].members).not.toContain("a-expert-computing");
    expect(all.reasons.some((r) => r.startsWith("overall: a-expert-computing left out, clearly worse than a-expert-law"))).toBe(true);
    expect(composeByPolicy({ kind: "ensemble", topN: 11, keepClearlyWorse: true }, input()).config.served[0].members).toHaveLength(11);
  });

  it("prefers a derived model when it is ranked and not clearly worse than the best expert", () => {
    const tagged = (id: string, tag: string) => familyA.map((e) => (e.id === id ? { ...e, tags: [...e.tags, tag] } : e));
    const derived = composeByPolicy(
      { kind: "prefer-derived", derived: ["distilled"], otherwise: { kind: "router", topK: 1 } },
      input(tagged("a-centralised", "distilled")),
    );
    expect(derived.config.served.find((s) => s.id === "unified")).toMatchObject({ policy: "single", members: ["a-centralised"] });
    expect(derived.routing.law).toEqual(["a-centralised"]);

    // a-expert-computing's overall interval lies below a-expert-law's: the router is used instead, without it as a member.
    const worse = composeByPolicy({ kind: "prefer-derived", derived: ["moe"], otherwise: { kind: "router", topK: 1 } }, input(tagged("a-expert-computing", "moe")));
    expect(worse.config.served.find((s) => s.id === "unified")!.policy).toBe("router");
    expect(worse.reasons.some((r) => r.startsWith("a-expert-computing: derived, but clearly worse than a-expert-law overall"))).toBe(true);
    expect(worse.routing.computing).not.toContain("a-expert-computing");

    const none = composeByPolicy({ kind: "prefer-derived", derived: ["moe"], otherwise: { kind: "ensemble", topN: 2 } }, input());
    expect(none.reasons).toContain("no moe model registered");
    expect(none.config.served.find((s) => s.id === "unified")!.policy).toBe("ensemble");
  });

  it("serves only registered, ranked experts and says which were left out", () => {
    const extra: ExpertSpec = { id: "newcomer", backend: "llamacpp", path: "/x.gguf", domains: ["law"], tags: [] };
    const registered = [...familyA.filter((e) => e.id !== "a-expert-law"), extra];
    const c = composeByPolicy({ kind: "router", topK: 1 }, input(registered));
    expect(c.reasons).toContain("not ranked yet, so not served: newcomer");
    expect(c.config.experts.map((e) => e.id)).not.toContain("a-expert-law");
    expect(c.routing.law).toHaveLength(1);
    expect(() => composeByPolicy({ kind: "router", topK: 1 }, input([extra]))).toThrow(/no registered expert is ranked/);
  });

  it("reads policies from their YAML form and reports every problem at once", () => {
    expect(parseCompositionPolicy({ kind: "router", top_k: 2 })).toEqual({ kind: "router", topK: 2, keepClearlyWorse: false });
    expect(parseCompositionPolicy({ kind: "prefer-derived", otherwise: { kind: "ensemble", top_n: 4 } })).toMatchObject({
      kind: "prefer-derived", derived: ["moe", "distilled"], otherwise: { kind: "ensemble", topN: 4 },
    });
    let message = "";
    try {
      parseCompositionPolicy({ kind: "prefer-derived", derived: ["merged"], otherwise: { kind: "ensemble", top_n: 0, max_ability_gap: -1, colour: "red" } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("policy.derived: must be a non-empty list of moe, distilled");
    expect(message).toContain("policy.otherwise.top_n: must be a whole number ≥ 1, got 0");
    expect(message).toContain("policy.otherwise.max_ability_gap: must be a positive number");
    expect(message).toContain("policy.otherwise.colour");
    expect(() => parseCompositionPolicy("router")).toThrow(/must be a mapping/);
    expect(() => parseCompositionPolicy({ kind: "vote" })).toThrow(/kind: must be router, ensemble or prefer-derived/);
  });

  it("gives a config the gateway serves: the router answers from the zoo's experts", async () => {
    const c = composeByPolicy({ kind: "router", topK: 1 }, input());
    const live = new LiveComposition();
    await live.publish(c.config, "r1");
    const gateway = await startGateway({ models: live, host: "127.0.0.1", port: 0 });
    try {
      const response = await fetch(`${gateway.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "unified", prompt: "A contract is", max_tokens: 6, temperature: 0 }),
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { choices: { text: string }[] };
      expect(body.choices[0].text.length).toBeGreaterThan(0);
    } finally {
      await gateway.close();
      await live.close();
    }
    await fs.access(c.config.experts[0].path!);
  }, 60_000);
});
