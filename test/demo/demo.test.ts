/**
 * The demo (`unify` on the zoo) end to end on a slice of the committed zoo (two domains, four models, two
 * items per domain, kind and split): its files, its table recomputed from the results it wrote,
 * and its serve config opened by the same loader and policies as `cogen serve`.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDemo } from "../../src/demo/run.js";
import type { UnifyReport } from "../../src/unify/main-job.js";
import { loadDemoZoo, type DemoZoo } from "../../src/demo/zoo.js";
import { openModel } from "../../src/models/open.js";
import { POLICIES } from "../../src/serve/policies.js";
import { buildServedModels, readUnifiedConfig } from "../../src/serve/unified-config.js";

const DOMAINS = ["medicine", "law"];
// In the zoo's order (the job keeps it).
const MODELS = ["a-base", "b-base", "a-expert-medicine", "a-expert-law"];

let out: string;
let report: UnifyReport;

beforeAll(async () => {
  out = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-demo-"));
  const whole = await loadDemoZoo(path.resolve("zoo"));
  const zoo: DemoZoo = {
    ...whole,
    domains: DOMAINS,
    models: whole.models.filter((m) => MODELS.includes(m.id)),
    // The distilled pivot, its CLM control and the evolved merge join the table as single checkpoints (members of nothing).
    distilled: (whole.distilled ?? []).filter((m) => m.role === "pivot" || m.role === "pivot-control"),
    items: whole.items.filter((i) => DOMAINS.includes(i.domain)),
  };
  report = await runDemo({ zoo, outDir: out, itemsPerDomain: 2 });
}, 180_000);
afterAll(async () => {
  await fs.rm(out, { recursive: true, force: true });
});

async function readJsonl(file: string): Promise<Record<string, unknown>[]> {
  return (await fs.readFile(file, "utf8")).trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("the demo's main job on a slice of the zoo", () => {
  it("builds the three unified models and judges them on items that shaped nothing", async () => {
    expect(report.singles).toEqual(MODELS);
    // (Other unified models may join these three.)
    expect(report.unified.slice(0, 3)).toEqual(["unified-router", "unified-ensemble", "unified-ties-merge"]);
    const devIds = new Set((await readJsonl(report.files.devItems)).map((i) => i.id as string));
    const testRecords = await readJsonl(report.files.testResults);
    const testIds = new Set(testRecords.map((r) => r.item as string));
    expect(devIds.size).toBeGreaterThan(0);
    expect(testIds.size).toBeGreaterThan(0);
    expect([...testIds].filter((id) => devIds.has(id))).toEqual([]);
    // Every model, single or unified, on every test item; the dev evidence covers the singles only.
    expect(testRecords).toHaveLength((report.singles.length + report.unified.length + report.references.length) * testIds.size);
    expect(report.references).toEqual(["pivot-all", "pivot-control", "a-evolved-ties"]);
    expect(report.goals.some((g) => g.goal.startsWith("the best distilled pivot beats its own CLM control"))).toBe(true);
    // The evolved merge is judged against the TIES merge unify built and base-a, on the same test items.
    expect(report.goals.find((g) => g.goal.startsWith("adapt evolve:"))?.detail).toMatch(/^a-evolved-ties \d\.\d{3} vs unified-ties-merge \d\.\d{3} \(paired [-+]\d\.\d{3} ± \d\.\d{3}\) and a-base/);
    expect(new Set((await readJsonl(report.files.devResults)).map((r) => r.model))).toEqual(new Set(MODELS));
  });

  it("reports the table that its own test results give (Σ bits / Σ bytes; mean accuracy)", async () => {
    const records = await readJsonl(report.files.testResults);
    for (const row of report.rows) {
      for (const d of DOMAINS) {
        const mine = records.filter((r) => r.model === row.model && r.domain === d);
        const bpb = mine.filter((r) => r.metric === "bpb");
        const acc = mine.filter((r) => r.metric === "acc");
        const bits = bpb.reduce((s, r) => s + (r.bpb as number) * (r.bytes as number), 0);
        const bytes = bpb.reduce((s, r) => s + (r.bytes as number), 0);
        expect(row.domains[d].bpb, `${row.model} ${d}`).toBeCloseTo(bits / bytes, 10);
        expect(row.domains[d].acc, `${row.model} ${d}`).toBeCloseTo(acc.reduce((s, r) => s + (r.score as number), 0) / acc.length, 10);
      }
    }
    // The oracle takes each domain's best single model.
    const singles = report.rows.filter((r) => report.singles.includes(r.model));
    for (const d of DOMAINS) expect(report.oracle.domains[d].bpb).toBe(Math.min(...singles.map((r) => r.domains[d].bpb!)));
    const bestSingle = Math.min(...singles.map((r) => r.macroBpb!));
    const bestUnified = Math.min(...report.rows.filter((r) => report.unified.includes(r.model)).map((r) => r.macroBpb!));
    expect(report.goals[0].met).toBe(bestUnified < bestSingle);
    const summary = JSON.parse(await fs.readFile(report.files.summary, "utf8"));
    expect(summary.goals).toEqual(report.goals);
    expect(summary.ranking).toBeUndefined();
    expect(JSON.parse(await fs.readFile(report.files.ranking, "utf8")).models.map((m: { model: string }) => m.model).sort()).toEqual([...MODELS].sort());
  });

  it("writes a unified.yml that cogen serve's loader and policies open, and whose router answers", async () => {
    const config = await readUnifiedConfig(report.files.serveConfig);
    // The experts, then the merge unify built and the zoo's mixtures it was given.
    expect(config.experts.map((e) => e.id).slice(0, MODELS.length + 1)).toEqual([...MODELS, "unified-ties-merge"]);
    expect(config.served.map((s) => s.id)).toEqual(expect.arrayContaining(["unified-router", "unified-ensemble", "unified-ties-merge", ...MODELS]));
    const { served, all } = await buildServedModels(config, POLICIES, (spec) => openModel(spec));
    try {
      const router = served.get("unified-router")!;
      const ll = await router.logLikelihood("", "the court ruled on the appeal");
      expect(Number.isFinite(ll.logprob)).toBe(true);
      expect(ll.logprob).toBeLessThan(0);
      const ensemble = served.get("unified-ensemble")!;
      expect((await ensemble.nextTokenLogprobs("disease: an impairment of", 3)).length).toBeGreaterThan(0);
      const merge = served.get("unified-ties-merge")!;
      expect((await merge.logLikelihood("", "the court ruled")).logprob).toBeLessThan(0);
    } finally {
      await Promise.all(all.map((m) => m.close()));
    }
  });
});
