import { describe, expect, it } from "vitest";
import { run } from "../../src/cli/adapt.js";
import { ConfigError } from "../../src/core/errors.js";

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

  it("answers an unknown subcommand with usage and exit code 2", async () => {
    expect(await run(["mutate"])).toBe(2);
  });

  it("lists every missing or malformed flag of evolve at once", async () => {
    const call = run(["evolve", "--evaluations", "many", "--queue", "http://h:1"]);
    await expect(call).rejects.toThrow(/OUT[\s\S]*--config[\s\S]*--objective[\s\S]*--queue must be a redis[\s\S]*--evaluations/);
  });
});
