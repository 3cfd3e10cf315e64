import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/adapt.js";
import { ConfigError } from "../../src/core/errors.js";
import { FIXTURE_TEXT, makeTinyLlama, tempDir } from "../fixtures/tiny-llama.js";
import { capture } from "./capture.js";

describe("cogen adapt (flags)", () => {
  it("lists every missing or malformed flag of lora at once", async () => {
    const call = run(["lora", "--rank", "two", "--steps", "1.5"]);
    await expect(call).rejects.toThrow(ConfigError);
    await expect(call).rejects.toThrow(/OUT_DIR[\s\S]*--base[\s\S]*--data[\s\S]*--rank[\s\S]*--steps/);
  });

  it("reads --adapters up to the next flag, so OUT stays the one positional", async () => {
    // Adapters given, base and examples missing: only those two are reported, not the output.
    const call = run(["compose", "--adapters", "a1", "a2", "a3", "--evaluations", "5", "OUT"]);
    await expect(call).rejects.toThrow(/--base is required[\s\S]*--examples is required/);
    await expect(call).rejects.not.toThrow(/OUT|--adapters/);
  });

  it("answers an unknown subcommand with a usage error (exit code 2)", async () => {
    const result = await capture(["adapt", "bogus"]);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^cogen adapt: unknown subcommand 'bogus'/);
  });

  it("lists every missing or malformed flag of evolve at once", async () => {
    const call = run(["evolve", "--evaluations", "many", "--queue", "http://h:1"]);
    await expect(call).rejects.toThrow(/OUT[\s\S]*--config[\s\S]*--objective[\s\S]*--queue must be a redis[\s\S]*--evaluations/);
  });
});

describe("cogen adapt evolve (end to end)", () => {
  let root: string;
  beforeAll(async () => {
    root = await tempDir("cogen-cli-evolve-");
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it("passes its flags through, prints the report as JSON, and its merge.yml runs in `cogen merge` with the seed it names", async () => {
    const base = (await makeTinyLlama(root, "byte-fallback")).dir;
    const models = [(await makeTinyLlama(root, "byte-fallback", { seed: 8 })).dir, (await makeTinyLlama(root, "byte-fallback", { seed: 9 })).dir];
    const recipe = path.join(root, "recipe.yml");
    await fs.writeFile(recipe, [
      "merge_method: dare_linear",
      `base_model: ${path.basename(base)}`,
      "models:",
      ...models.map((m) => `  - ${path.basename(m)}`),
      "search:",
      "  weight: { min: 0.1, max: 1 }",
      "  density: { min: 0.3, max: 0.9 }",
      "dtype: float32",
    ].join("\n") + "\n");
    const tasks = path.join(root, "tasks.jsonl");
    await fs.writeFile(tasks, FIXTURE_TEXT.split("\n").slice(0, 2).map((text, i) => JSON.stringify({ id: `t${i}`, domain: "d", text })).join("\n") + "\n");
    const out = path.join(root, "out");
    const ran = await capture(["adapt", "evolve", "--config", recipe, "--objective", tasks, out, "--evaluations", "3", "--population", "3", "--seed", "4", "--merge-seed", "6", "--json"]);
    expect(ran.code).toBe(0);
    const report = JSON.parse(ran.out);
    // Generation 0 is the start alone; then one generation of --population candidates.
    expect(report.evaluations).toBe(4);
    expect(report.population).toBe(3);
    expect(report).toEqual(JSON.parse(await fs.readFile(path.join(out, "report.json"), "utf8")));
    const yaml = await fs.readFile(path.join(out, "merge.yml"), "utf8");
    expect(yaml).toMatch(/cogen merge merge\.yml OUT_DIR --seed 6/);
    const merged = await capture(["merge", path.join(out, "merge.yml"), path.join(root, "rebuilt"), "--seed", "6"]);
    expect(merged.code).toBe(0);
    expect(await fs.readdir(path.join(root, "rebuilt"))).toContain("config.json");
  }, 120_000);
});
