/**
 * `cogen unify` as a new user runs it: three GGUF experts of their own (tiny llamas written by
 * the test, two fine-tuned from one base as far as the models file says) and a task file →
 * unified.yml (served by the real gateway), report.html and summary.json; policies that cannot
 * apply are listed as skipped with their reason; bad inputs fail naming file, line and field,
 * leaving no output that looks complete.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, InputFileError } from "../../src/core/errors.js";
import { readModelsFile } from "../../src/formats/models-file.js";
import { readTasksFile } from "../../src/formats/tasks.js";
import { silentProgress } from "../../src/core/progress.js";
import type { ResultRecord } from "../../src/eval/result.js";
import { openModel } from "../../src/models/open.js";
import { startGateway } from "../../src/serve/gateway.js";
import { POLICIES } from "../../src/serve/policies.js";
import { buildServedModels, readUnifiedConfig } from "../../src/serve/unified-config.js";
import { evaluateModels } from "../../src/unify/evaluate-models.js";
import { unify, type UnifyReport } from "../../src/unify/main-job.js";
import { parsePolicies } from "../../src/unify/policies.js";
import { sideOf } from "../../src/unify/items.js";
import { createLlamaCppModel } from "../../src/models/llamacpp/model.js";
import { capture } from "../cli/capture.js";
import { startStub } from "../models/openai-stub.js";
import { hasRedis, startRedis } from "../eval/jobs/redis.js";
import { makeTinyLlama, tempDir } from "../fixtures/tiny-llama.js";

const SENTENCES: Record<string, string[]> = {
  medicine: [
    "The heart pumps blood through the arteries and veins of the body.",
    "A fever is the body's response to an infection by bacteria or viruses.",
    "The doctor listened to the patient's lungs and prescribed rest.",
    "Blood carries oxygen from the lungs to every organ of the body.",
    "The nurse measured the pressure of the blood in the patient's arm.",
    "A vaccine teaches the body to recognise a virus before an infection.",
  ],
  law: [
    "A contract is an agreement between parties that the law will enforce.",
    "The court heard the appeal and ruled that the contract was void.",
    "A judge decides questions of law and the jury decides questions of fact.",
    "The parties signed the agreement before a witness and a lawyer.",
    "The law requires a written contract for the sale of land.",
    "The defendant appealed the ruling of the lower court.",
  ],
};

function taskLines(): string {
  const lines: object[] = [];
  for (const [domain, texts] of Object.entries(SENTENCES)) {
    texts.forEach((text, i) => {
      lines.push({ id: `${domain}-text-${i}`, domain, text });
      const words = text.split(" ");
      lines.push({ id: `${domain}-mc-${i}`, domain, context: words.slice(0, -1).join(" "), choices: [` ${words.at(-1)}`, " banana.", " seven."], answer: 0 });
      if (i < 2) lines.push({ id: `${domain}-em-${i}`, domain, prompt: `${words.slice(0, 3).join(" ")}`, answer: words[3], max_tokens: 3 });
    });
  }
  // Passages of their own: those on the dev side are the router's unscored domain examples.
  lines.push(
    { id: "medicine-extra-0", domain: "medicine", text: "Antibiotics treat infections caused by bacteria, not those caused by viruses." },
    { id: "medicine-extra-1", domain: "medicine", text: "The surgeon washed her hands before the operation on the knee." },
    { id: "law-extra-0", domain: "law", text: "Statutes passed by parliament override the common law where they conflict." },
    { id: "law-extra-1", domain: "law", text: "The tenant sued the landlord for breach of the lease." },
  );
  return lines.map((l) => JSON.stringify(l)).join("\n") + "\n";
}

let root: string;
let models: string;
let tasks: string;
let out: string;
let report: UnifyReport;

beforeAll(async () => {
  root = await tempDir("cogen-unify-");
  // One base and two "fine-tunes" of it: same shapes and tokenizer, other weights.
  const base = await makeTinyLlama(root, "byte-level", { seed: 7 });
  const medicine = await makeTinyLlama(root, "byte-level", { seed: 8 });
  const law = await makeTinyLlama(root, "byte-level", { seed: 9 });
  const [baseGguf, medicineGguf, lawGguf] = await Promise.all([base.gguf(), medicine.gguf(), law.gguf()]);
  models = path.join(root, "models.yml");
  await fs.writeFile(models, [
    "experts:",
    `  - { id: my-base, backend: llamacpp, path: ${path.basename(baseGguf)}, weights: ${path.basename(base.dir)}, threads: 1, context_size: 256 }`,
    `  - { id: my-medicine, backend: llamacpp, path: ${path.basename(medicineGguf)}, base: my-base, threads: 1, context_size: 256, domains: [medicine] }`,
    `  - { id: my-law, backend: llamacpp, path: ${path.basename(lawGguf)}, base: my-base, threads: 1, context_size: 256, domains: [law] }`,
    "",
  ].join("\n"));
  tasks = path.join(root, "tasks.jsonl");
  await fs.writeFile(tasks, taskLines());
  out = path.join(root, "out");
  report = await unify({
    experts: await readModelsFile(models), items: await readTasksFile(tasks), outDir: out,
    policies: parsePolicies("router,ensemble,merge,moe,distill"), distill: { steps: 20 },
  });
}, 300_000);
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe("unify on three GGUF experts", () => {
  it("builds router, ensemble, merge, mixture and distilled pivot, and judges all on test items", async () => {
    expect(report.singles).toEqual(["my-base", "my-medicine", "my-law"]);
    expect(report.unified).toEqual(["unified-router", "unified-ensemble", "unified-ties-merge", "unified-moe", "unified-distilled"]);
    expect(report.policies.built.find((b) => b.policy === "merge")?.from).toEqual({ base: "my-base", experts: ["my-medicine", "my-law"] });
    expect(report.policies.built.find((b) => b.policy === "distill")?.from).toEqual({ base: "my-base", experts: ["my-base", "my-medicine", "my-law"] });
    expect(report.policies.skipped).toEqual([]);
    const summary = JSON.parse(await fs.readFile(path.join(out, "summary.json"), "utf8"));
    expect(summary.policies.built).toEqual(report.policies.built);
    expect(summary.rows.map((r: { model: string }) => r.model)).toEqual([...report.singles, ...report.unified]);
    for (const row of report.rows) for (const d of ["medicine", "law"]) expect(row.domains[d].bpbItems + row.domains[d].accItems).toBeGreaterThan(0);
    const html = await fs.readFile(path.join(out, "report.html"), "utf8");
    expect(html).toContain("distill: unified-distilled");
    expect(html).toContain("<td>unified-ties-merge</td>");
    // Dev and test are disjoint, and the table's test results cover every model on every test item.
    const ids = (file: string) => fs.readFile(path.join(out, file), "utf8").then((t) => t.trim().split("\n").map((l) => JSON.parse(l) as { id?: string; item?: string; model?: string }));
    const dev = new Set((await ids("dev-items.jsonl")).map((i) => i.id));
    const test = await ids("test-results.jsonl");
    expect(test.filter((r) => dev.has(r.item))).toEqual([]);
    expect(test).toHaveLength((report.singles.length + report.unified.length) * report.items.test);
    // Exact-match items are generated by every model, unified ones included, and counted as accuracy.
    const testItems = (await readTasksFile(tasks)).filter((i) => !dev.has(i.id));
    const generated = testItems.filter((i) => i.kind === "exact_match").map((i) => i.id);
    expect(generated.length).toBeGreaterThan(0);
    for (const model of [...report.singles, ...report.unified]) {
      expect(test.filter((r) => r.model === model && (r as { metric?: string }).metric === "exact_match").map((r) => r.item).sort(), model).toEqual([...generated].sort());
      for (const d of ["medicine", "law"]) {
        expect(report.rows.find((r) => r.model === model)!.domains[d].accItems).toBe(testItems.filter((i) => i.domain === d && i.kind !== "bits_per_byte").length);
      }
    }
  });

  it("writes a unified.yml that the gateway serves: a completion from the router on loopback", async () => {
    const config = await readUnifiedConfig(path.join(out, "unified.yml"));
    expect(config.served.map((s) => s.id)).toEqual(["unified-router", "unified-ensemble", "unified-ties-merge", "unified-moe", "unified-distilled", "my-base", "my-medicine", "my-law"]);
    const { served, all } = await buildServedModels(config, POLICIES, (spec) => openModel(spec));
    const gateway = await startGateway({ models: served, host: "127.0.0.1", port: 0 });
    try {
      for (const model of ["unified-router", "unified-ties-merge", "unified-distilled"]) {
        const response = await fetch(`${gateway.url}/v1/completions`, {
          method: "POST", headers: { "content-type": "application/json" },
          body: JSON.stringify({ model, prompt: "The heart", max_tokens: 4, temperature: 0 }),
        });
        expect(response.status, model).toBe(200);
        const body = (await response.json()) as { model: string; choices: { text: string }[] };
        expect(body.model).toBe(model);
        expect(typeof body.choices[0].text).toBe("string");
      }
      // The served router and ensemble are the judged ones (with their unscored domain examples):
      // the same result on every test item.
      expect(config.served[0].options.domain_items).toBe("domain-items.jsonl");
      expect((await readTasksFile(path.join(out, "domain-items.jsonl"))).length).toBeGreaterThan(0);
      const judged = (await fs.readFile(path.join(out, "test-results.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as ResultRecord);
      const dev = new Set((await readTasksFile(path.join(out, "dev-items.jsonl"))).map((i) => i.id));
      const testItems = (await readTasksFile(tasks)).filter((i) => !dev.has(i.id));
      // Freshly opened and evaluated as unify judged them (two lanes at once): llama.cpp's numbers
      // depend slightly on what a model computed before (its reused prefix), so history matters.
      const fresh = await buildServedModels(config, POLICIES, (spec) => openModel(spec));
      try {
        const again = await evaluateModels([fresh.served.get("unified-router")!, fresh.served.get("unified-ensemble")!], testItems, silentProgress, "served", 2);
        expect(again).toHaveLength(2 * testItems.length);
        for (const record of again) {
          const before = judged.find((r) => r.model === record.model && r.item === record.item)!;
          expect(record.score, `${record.model} ${record.item}`).toBeCloseTo(before.score, 9);
        }
      } finally {
        await Promise.all(fresh.all.map((m) => m.close()));
      }
    } finally {
      await gateway.close();
      await Promise.all(all.map((m) => m.close()));
    }
  });

  it("resumes: a rerun evaluates nothing the results logs already hold and gives the same table", async () => {
    const before = await fs.readFile(path.join(out, "dev-results.jsonl"), "utf8");
    const again = await unify({ experts: await readModelsFile(models), items: await readTasksFile(tasks), outDir: out, policies: ["router", "ensemble"] });
    expect(await fs.readFile(path.join(out, "dev-results.jsonl"), "utf8")).toBe(before);
    const singles = (r: UnifyReport) => r.rows.filter((row) => r.singles.includes(row.model));
    expect(singles(again)).toEqual(singles(report));
    expect(again.policies.skipped).toEqual([]);
  }, 120_000);

  it("reuses the checkpoints an earlier run built from the same inputs, and builds again when an expert's file changes", async () => {
    const gguf = (dir: string) => path.join(out, dir, dir === "distill" ? "pivot/model.gguf" : "model.gguf");
    const mtime = async (file: string) => (await fs.stat(file)).mtimeMs;
    const before = { merge: await mtime(gguf("merged-ties")), moe: await mtime(gguf("moe")), distill: await mtime(gguf("distill")) };
    const lines: string[] = [];
    const totals: Record<string, number> = {};
    const progress = { start: (label: string, total: number) => void (totals[label] = total), tick: () => {}, done: () => {} };
    const again = await unify({
      experts: await readModelsFile(models), items: await readTasksFile(tasks), outDir: out,
      policies: parsePolicies("router,ensemble,merge,moe,distill"), distill: { steps: 20 }, log: (l) => void lines.push(l), progress,
    });
    // The run before asked for other policies, so the unified models were judged again; the
    // experts' logs held every pair.
    expect(totals).toMatchObject({ "evaluate experts (dev)": 0, "evaluate experts on test items": 0, "evaluate unified models on test items": report.unified.length * report.items.test });
    expect(lines.filter((l) => l.includes("reusing")).map((l) => l.split(":")[0])).toEqual(["merge", "moe", "distill"]);
    expect(again.unified).toEqual(report.unified);
    expect(again.policies.built).toEqual(report.policies.built);
    expect({ merge: await mtime(gguf("merged-ties")), moe: await mtime(gguf("moe")), distill: await mtime(gguf("distill")) }).toEqual(before);
    // The reused checkpoints are the same models: the same scores on the test items.
    const row = (r: UnifyReport, id: string) => r.rows.find((x) => x.model === id);
    for (const id of ["unified-ties-merge", "unified-moe", "unified-distilled"]) expect(row(again, id), id).toEqual(row(report, id));

    // The same run once more evaluates nothing at all.
    await unify({ experts: await readModelsFile(models), items: await readTasksFile(tasks), outDir: out, policies: parsePolicies("router,ensemble,merge,moe,distill"), distill: { steps: 20 }, progress });
    expect(totals).toMatchObject({ "evaluate experts (dev)": 0, "evaluate experts on test items": 0, "evaluate unified models on test items": 0 });

    // A judging log cut short (an interrupted run) is continued: only its missing pairs are evaluated.
    const judgingLog = path.join(out, "unified-test-results.jsonl");
    const logLines = (await fs.readFile(judgingLog, "utf8")).split("\n").filter(Boolean);
    await fs.writeFile(judgingLog, logLines.slice(0, 7).join("\n") + "\n" + logLines[7].slice(0, 10));
    const continued = await unify({
      experts: await readModelsFile(models), items: await readTasksFile(tasks), outDir: out,
      policies: parsePolicies("router,ensemble,merge,moe,distill"), distill: { steps: 20 }, progress,
    });
    expect(totals["evaluate unified models on test items"]).toBe(logLines.length - 7);
    expect((await fs.readFile(judgingLog, "utf8")).split("\n").filter(Boolean)).toHaveLength(logLines.length);
    for (const id of report.unified) expect(row(continued, id), id).toBeDefined();

    // A changed expert file (same path, new time) is a new input: the merge is built again.
    const lawPath = (await readModelsFile(models)).find((e) => e.id === "my-law")!.path!;
    const later = new Date(Date.now() + 60_000);
    await fs.utimes(lawPath, later, later);
    lines.length = 0;
    await unify({ experts: await readModelsFile(models), items: await readTasksFile(tasks), outDir: out, policies: ["merge"], log: (l) => void lines.push(l) });
    expect(lines.some((l) => l.includes("reusing"))).toBe(false);
    expect(await mtime(gguf("merged-ties"))).not.toBe(before.merge);
  }, 300_000);
});

describe("unify on edited inputs", () => {
  it("evaluates again only the results whose item changed under the same id", async () => {
    const devItems = await readTasksFile(path.join(out, "dev-items.jsonl"));
    const edited = devItems.find((i) => i.kind === "bits_per_byte")!;
    const lines = (await fs.readFile(tasks, "utf8")).split("\n").map((line) => {
      if (!line) return line;
      const item = JSON.parse(line) as { id: string; text?: string };
      return item.id === edited.id ? JSON.stringify({ ...item, text: `${item.text} And then some more words.` }) : line;
    });
    const editedTasks = path.join(root, "edited.jsonl");
    await fs.writeFile(editedTasks, lines.join("\n"));
    const totals: Record<string, number> = {};
    const logged: string[] = [];
    const progress = { start: (label: string, total: number) => void (totals[label] = total), tick: () => {}, done: () => {} };
    await unify({ experts: await readModelsFile(models), items: await readTasksFile(editedTasks), outDir: out, policies: ["router", "ensemble"], progress, log: (l) => void logged.push(l) });
    expect(totals["evaluate experts (dev)"]).toBe(report.singles.length);
    expect(totals["evaluate experts on test items"]).toBe(0);
    expect(logged).toContain(`dev-results.jsonl: ${report.singles.length} results dropped (their item or expert changed since they were written); evaluating them again`);
    const records = (await fs.readFile(path.join(out, "dev-results.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as ResultRecord);
    const forEdited = records.filter((r) => r.item === edited.id);
    expect(forEdited).toHaveLength(report.singles.length);
    const editedText = (await readTasksFile(editedTasks)).find((i) => i.id === edited.id)!;
    for (const r of forEdited) expect(r.bytes).toBe(Buffer.byteLength(editedText.kind === "bits_per_byte" ? editedText.text : "", "utf8"));
  }, 120_000);
});

describe("unify with an OpenAI-compatible expert", () => {
  it("routes and ensembles a remote expert with a local one; the merge is skipped for want of local weights", async () => {
    const stub = await startStub();
    try {
      const file = path.join(root, "remote.yml");
      const lines = (await fs.readFile(models, "utf8")).split("\n");
      await fs.writeFile(file, [...lines.slice(0, 3), `  - { id: remote, backend: openai, url: ${stub.url}, model: stub, base: my-base, max_retries: 0 }`, ""].join("\n"));
      const result = await unify({ experts: await readModelsFile(file), items: await readTasksFile(tasks), outDir: path.join(root, "remote-out") });
      expect(result.singles).toEqual(["my-base", "my-medicine", "remote"]);
      expect(result.unified).toEqual(["unified-router", "unified-ensemble"]);
      expect(result.policies.skipped).toEqual([{ policy: "merge", reason: expect.stringMatching(/no two local experts name the same base.*remote → my-base \(remote\)/) }]);
      for (const row of result.rows) expect(row.macroBpb, row.model).toBeGreaterThan(0);
      const config = await readUnifiedConfig(path.join(root, "remote-out", "unified.yml"));
      expect(config.experts.find((e) => e.id === "remote")).toMatchObject({ backend: "openai", url: stub.url, model: "stub", maxRetries: 0 });
    } finally {
      await stub.close();
    }
  }, 120_000);
});

describe("unify with an expert whose context is too small for some items", () => {
  it("judges every model on the items they all answered and lists the rest", async () => {
    // The zoo's medicine expert (it has a BOS token, so a remote server can score whole passages),
    // served by cogen's gateway at its trained 64-token context, is a remote expert here.
    const small = await createLlamaCppModel({ id: "small", path: fileURLToPath(new URL("../../zoo/a/experts/medicine/model.gguf", import.meta.url)), threads: 1 });
    const gateway = await startGateway({ models: new Map([["small", small]]), host: "127.0.0.1", port: 0 });
    try {
      const file = path.join(root, "small.yml");
      const lines = (await fs.readFile(models, "utf8")).split("\n");
      await fs.writeFile(file, [...lines.slice(0, 3), `  - { id: remote-small, backend: openai, url: ${gateway.url}/v1, model: small, max_retries: 0 }`, ""].join("\n"));
      const long = "The patient was given antibiotics for an infection of the lungs. ".repeat(12);
      const longIds = ["medicine-long-0", "medicine-long-1", "medicine-long-2", "medicine-long-3"];
      const longTasks = path.join(root, "long.jsonl");
      // Multiple choice and exact match only: a remote server without BOS cannot score a passage's first token.
      const shortItems = taskLines().trim().split("\n").filter((l) => !l.includes('"text"'));
      await fs.writeFile(longTasks, [...shortItems, ...longIds.map((id) => JSON.stringify({ id, domain: "medicine", context: long, choices: [" yes", " no"], answer: 0 }))].join("\n") + "\n");
      const logged: string[] = [];
      const result = await unify({ experts: await readModelsFile(file), items: await readTasksFile(longTasks), outDir: path.join(root, "long-out"), log: (l) => void logged.push(l) });
      const testLong = longIds.filter((id) => sideOf(id) === "test");
      expect(testLong.length).toBeGreaterThan(0);
      expect(result.items.unjudged.map((u) => u.item).sort()).toEqual(testLong);
      for (const u of result.items.unjudged) expect(u.missing).toContain("remote-small");
      expect(logged.some((l) => /dev-results\.jsonl: \d+ item\(s\) without a result \(remote-small\/medicine-long-\d: .*context/.test(l))).toBe(true);
      for (const row of result.rows) expect(row.domains.medicine.accItems, row.model).toBe(result.rows[0].domains.medicine.accItems);
    } finally {
      await gateway.close();
      await small.close();
    }
  }, 180_000);
});

describe.skipIf(!hasRedis)("unify through a Redis queue", () => {
  it("evaluates the experts through a worker and gives the table of the in-process run", async () => {
    const { BullMqQueue, startEvalWorker } = await import("../../src/eval/jobs/bullmq.js");
    const { executeEvalJob } = await import("../../src/eval/jobs/execute.js");
    const { ModelPool } = await import("../../src/models/pool.js");
    const redis = await startRedis();
    const pool = new ModelPool();
    const seen: string[] = [];
    const worker = await startEvalWorker(redis.url, { execute: (job) => executeEvalJob(job, pool), onJob: (job) => void seen.push(job.expert.id) });
    const queue = new BullMqQueue(redis.url);
    try {
      const viaQueue = await unify({ experts: await readModelsFile(models), items: await readTasksFile(tasks), outDir: path.join(root, "queue-out"), policies: ["router", "ensemble"], queue });
      expect(new Set(seen)).toEqual(new Set(["my-base", "my-medicine", "my-law"]));
      const singles = (r: UnifyReport) => r.rows.filter((row) => r.singles.includes(row.model));
      expect(singles(viaQueue)).toEqual(singles(report));
    } finally {
      await queue.close();
      await worker.close();
      await pool.close();
      await redis.stop();
    }
  }, 120_000);
});
if (!hasRedis) {
  describe("unify through a Redis queue", () => {
    it.skip("skipped: /usr/bin/redis-server is not installed (apt-get install -y redis-server)", () => {});
  });
}

describe("what unify refuses", () => {
  it("skips merge and MoE, with the engine's reason, for experts that claim one base but do not share it", async () => {
    // A model of another shape claims the same base: the merge engine refuses, unify says so and goes on.
    const other = await makeTinyLlama(root, "byte-level", { hiddenSize: 48, numHeads: 4, numKvHeads: 2, seed: 11 });
    const file = path.join(root, "mixed.yml");
    const text = await fs.readFile(models, "utf8");
    await fs.writeFile(file, text.replace(/path: [^,]*, base: my-base(.*domains: \[law\])/, `path: ${path.basename(await other.gguf())}, base: my-base$1`));
    const mixed = path.join(root, "mixed-out");
    const result = await capture(["unify", "--models", file, "--tasks", tasks, mixed, "--policies", "router,ensemble,merge,moe", "--json"]);
    expect(result.code, result.err).toBe(0);
    const summary = JSON.parse(result.out) as UnifyReport;
    expect(summary.unified).toEqual(["unified-router", "unified-ensemble"]);
    expect(summary.policies.skipped.map((s) => s.policy)).toEqual(["merge", "moe"]);
    for (const s of summary.policies.skipped) expect(s.reason).toMatch(/on my-base(: .*hidden sizes differ| cannot be built: .*hidden_size 48 \(base: 32\))/);
    expect(summary.policies.skipped[0].reason).toMatch(/their hidden sizes differ \(.*: 32, .*: 48, .*: 32\), so they are not fine-tunes of one base/);
    // The table a person reads names the skipped policy too.
    const table = await capture(["unify", "--models", file, "--tasks", tasks, mixed, "--policies", "merge"]);
    expect(table.out).toMatch(/Skipped merge: the merge engine refused the experts on my-base/);
    // …and the ranking per domain, best first, with intervals, the goals and how to serve.
    const ranking = JSON.parse(await fs.readFile(path.join(mixed, "ranking.json"), "utf8")) as { models: { model: string; domains: Record<string, { ability: number; ci: number[] }> }[] };
    const best = [...ranking.models].sort((a, b) => b.domains.law.ability - a.domains.law.ability)[0];
    expect(table.out).toContain(`  law: ${best.model} ${best.domains.law.ability.toFixed(2)} [${best.domains.law.ci.map((x) => x.toFixed(2)).join(", ")}]; `);
    expect(table.out).toMatch(/\nGoals:\n {2}[✓✗] best unified model beats the best single model in bits per byte/);
    expect(table.out).toContain(`npx cogen serve --config ${path.join(mixed, "unified.yml")}`);
  }, 300_000);

  it("skips the merge when no two experts name the same base, naming each expert's base, and distill without a Hugging Face folder", async () => {
    const file = path.join(root, "no-base.yml");
    await fs.writeFile(file, (await fs.readFile(models, "utf8")).replaceAll(", base: my-base", "").replace(/, weights: [^,]*/, ""));
    const result = await capture(["unify", "--models", file, "--tasks", tasks, path.join(root, "no-base-out"), "--policies", "merge,distill", "--json"]);
    expect(result.code, result.err).toBe(0);
    const summary = JSON.parse(result.out) as UnifyReport;
    expect(summary.policies.skipped).toEqual([
      { policy: "merge", reason: expect.stringMatching(/no two local experts name the same base.*my-medicine → no base/) },
      { policy: "distill", reason: expect.stringMatching(/give an expert .*`weights:`/) },
    ]);
  }, 120_000);

  it("names the file, line and field of bad inputs and writes no output folder", async () => {
    const target = path.join(root, "never");
    const run = (args: string[]) => capture(["unify", ...args, target]);

    const missing = await run(["--models", path.join(root, "nope.yml"), "--tasks", tasks]);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toMatch(/nope\.yml: no such file or folder/);

    const badTasks = path.join(root, "bad.jsonl");
    await fs.writeFile(badTasks, taskLines() + '{"id": "x", "domain": "law", "context": "A", "choices": " b"}\n');
    const bad = await run(["--models", models, "--tasks", badTasks]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(new RegExp(`bad\\.jsonl:${taskLines().trim().split("\n").length + 1}: .*choices`));

    const policy = await run(["--models", models, "--tasks", tasks, "--policies", "router,ensembel"]);
    expect(policy.code).not.toBe(0);
    expect(policy.err).toMatch(/unknown policy 'ensembel' \(did you mean 'ensemble'\?\)/);

    const badBase = path.join(root, "bad-base.yml");
    await fs.writeFile(badBase, (await fs.readFile(models, "utf8")).replace("base: my-base", "base: my-bsae"));
    const base = await run(["--models", badBase, "--tasks", tasks]);
    expect(base.code).not.toBe(0);
    expect(base.err).toMatch(/bad-base\.yml: line 3: experts\[1\]\.base: no model 'my-bsae' in this file \(did you mean 'my-base'\?\)/);

    // Files the models file names but that are not there: all of them, before any work.
    const gone = path.join(root, "gone.yml");
    await fs.writeFile(gone, (await fs.readFile(models, "utf8")).replace(/path: [^,]*(, base: my-base, threads: 1, context_size: 256, domains: \[law\])/, "path: nowhere.gguf$1").replace(/weights: [^,]*/, "weights: no-hf"));
    const absent = await run(["--models", gone, "--tasks", tasks]);
    expect(absent.code).toBe(1);
    expect(absent.err).toMatch(/gone\.yml: expert 'my-base' weights: .*no-hf: not found\n.*gone\.yml: expert 'my-law' path: .*nowhere\.gguf: not found/);

    await expect(fs.stat(target)).rejects.toMatchObject({ code: "ENOENT" });
    const notADir = await capture(["unify", "--models", models, "--tasks", tasks, path.join(tasks, "out")]);
    expect(notADir.err).toMatch(/tasks\.jsonl\/out: cannot create the output folder \(ENOTDIR\)/);
    const aFile = await capture(["unify", "--models", models, "--tasks", tasks, tasks]);
    expect(aFile.err).toMatch(/tasks\.jsonl: is a file; the output folder must be a folder/);

    // A folder of other files is not taken over (a rerun empties the checkpoint folders in it).
    const theirs = path.join(root, "theirs");
    await fs.mkdir(path.join(theirs, "moe"), { recursive: true });
    await fs.writeFile(path.join(theirs, "notes.txt"), "mine\n");
    const taken = await capture(["unify", "--models", models, "--tasks", tasks, theirs]);
    expect(taken.code).toBe(1);
    expect(taken.err).toMatch(/theirs: the output folder holds files an earlier unify run did not write \(moe, notes\.txt\); give a new or empty folder/);
    expect((await fs.readdir(theirs)).sort()).toEqual(["moe", "notes.txt"]);

    // An expert that cannot be loaded stops the job before any summary exists, naming the expert.
    const broken = path.join(root, "broken.gguf");
    await fs.writeFile(broken, "not a model\n");
    const brokenModels = path.join(root, "broken.yml");
    await fs.writeFile(brokenModels, (await fs.readFile(models, "utf8")).replace(/(id: my-law, backend: llamacpp, path: )[^,]*/, "$1broken.gguf"));
    const brokenOut = path.join(root, "broken-out");
    const failed = await capture(["unify", "--models", brokenModels, "--tasks", tasks, brokenOut]);
    expect(failed.code).not.toBe(0);
    expect(failed.err).toMatch(/my-law.*evaluation failed.*rerun the same command to continue/s);
    for (const name of ["summary.json", "unified.yml", "report.html"]) await expect(fs.stat(path.join(brokenOut, name))).rejects.toMatchObject({ code: "ENOENT" });
    // The library refuses before writing too.
    await expect(unify({ experts: (await readModelsFile(models)).slice(0, 1), items: await readTasksFile(tasks), outDir: target })).rejects.toThrow(ConfigError);
    await expect(readTasksFile(badTasks)).rejects.toThrow(InputFileError);
    await expect(fs.stat(target)).rejects.toMatchObject({ code: "ENOENT" });
  });
});
