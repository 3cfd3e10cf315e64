import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { measureAdaptZooGoals, pairedBpbDelta } from "../../src/adapt/zoo-goals.js";
import { InputFileError } from "../../src/core/errors.js";
import { tempDir } from "../fixtures/tiny-llama.js";

const ZOO = path.resolve("zoo");
let root: string;
beforeAll(async () => {
  root = await tempDir("cogen-adapt-zoo-goals-");
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe("pairedBpbDelta", () => {
  it("is the mean and standard error of the per-record bits-per-byte differences", () => {
    const a = [{ bits: 8, bytes: 4 }, { bits: 3, bytes: 1 }, { bits: 10, bytes: 10 }];
    const b = [{ bits: 4, bytes: 4 }, { bits: 3, bytes: 1 }, { bits: 20, bytes: 10 }];
    // differences 1, 0, −1: mean 0, sample sd 1, se 1/√3
    const d = pairedBpbDelta(a, b);
    expect(d.mean).toBeCloseTo(0, 12);
    expect(d.se).toBeCloseTo(1 / Math.sqrt(3), 12);
    expect(d.n).toBe(3);
  });
});

describe("measureAdaptZooGoals", () => {
  it("scores base-a, a LoRA, the uniform average and a composition of all eight adapters on the unseen domain's records", async () => {
    const r = await measureAdaptZooGoals({ zoo: ZOO, steps: 2, evaluations: 10, examples: 3, records: 4 });
    expect(r.domain).toBe("music");
    expect(r.unseen).toBe(true);
    expect(r.records).toBe(4);
    expect(r.rows.map((x) => x.role)).toEqual(["base", "lora", "uniform", "compose"]);
    expect(r.rows[0].vsBase).toMatchObject({ mean: 0, se: 0, n: 4 });
    expect(r.compose.adapters).toHaveLength(8);
    expect(r.compose.evaluations).toBe(10);
    // The uniform average of eight adapters is not the base.
    expect(r.rows[2].bpb).not.toBe(r.rows[0].bpb);
    // Paired differences are consistent: (compose − base) − (uniform − base) = compose − uniform.
    expect(r.composeVsUniform.mean).toBeCloseTo(r.rows[3].vsBase.mean - r.rows[2].vsBase.mean, 12);
    expect(r.lora?.stepsRun).toBe(2);
  }, 300_000);

  it("refuses a zoo without an unseen domain when none is named", async () => {
    const zoo = path.join(root, "zoo");
    await fs.mkdir(zoo);
    const manifest = JSON.parse(await fs.readFile(path.join(ZOO, "manifest.json"), "utf8"));
    delete manifest.unseen;
    await fs.writeFile(path.join(zoo, "manifest.json"), JSON.stringify(manifest));
    await expect(measureAdaptZooGoals({ zoo, steps: 0 })).rejects.toThrow(InputFileError);
    await expect(measureAdaptZooGoals({ zoo, steps: 0 })).rejects.toThrow(/no unseen domain/);
  });
});
