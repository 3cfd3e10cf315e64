import { promises as fs } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InputFileError } from "../../src/core/errors.js";
import { buildZooPivots, clearZooPivots, zooPivotsPlan } from "../../src/fuse/distill/zoo-pivots.js";
import { capture } from "../cli/capture.js";
import { tempDir } from "../fixtures/tiny-llama.js";

const ZOO = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "zoo");
let work: string;
let text: string;

beforeEach(async () => {
  work = await tempDir("cogen-zoo-sampled-text-");
  text = path.join(work, "sampled-text");
  const plan = zooPivotsPlan("full");
  await fs.cp(path.join(ZOO, plan.online!.sampled!.dir), text, { recursive: true });
});
afterEach(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

/** The full plan with its sampled text read from the test's copy; the build stops before any model loads. */
const build = () => {
  const plan = zooPivotsPlan("full");
  return buildZooPivots({ zoo: ZOO, out: path.join(work, "pivots"), plan: { ...plan, online: { ...plan.online!, sampled: { ...plan.online!.sampled!, dir: text } } } });
};

describe("buildZooPivots: the committed sampled transfer text", () => {
  it("pins every file of zoo/pivots/sampled-text, its manifest and each source's text", () => {
    const { sampled } = zooPivotsPlan("full").online!;
    expect(Object.keys(sampled!.sha256).sort()).toEqual(["biology", "computing", "finance", "food", "geography", "law", "medicine", "people"].map((d) => `${d}.txt`).concat("manifest.json").sort());
  });

  it("refuses a missing file, naming it, and writes nothing", async () => {
    await fs.rm(path.join(text, "law.txt"));
    const error = await build().catch((e: unknown) => e);
    expect(InputFileError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain(path.join(text, "law.txt"));
    expect((error as Error).message).toMatch(/missing .*cogen distill sample/);
    await expect(fs.access(path.join(work, "pivots"))).rejects.toThrow();
  });

  it("refuses an altered file, naming it and both hashes", async () => {
    const file = path.join(text, "finance.txt");
    await fs.appendFile(file, "one more sampled line\n");
    const error = await build().catch((e: unknown) => e);
    expect(InputFileError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toMatch(/altered \(sha256 [0-9a-f]{64}, the plan pins 3be24d39/);
  });

  it("refuses an altered manifest before reading any source", async () => {
    const file = path.join(text, "manifest.json");
    const manifest = JSON.parse(await fs.readFile(file, "utf8")) as { seed: number };
    await fs.writeFile(file, JSON.stringify({ ...manifest, seed: 200 }, null, 2) + "\n");
    await fs.rm(path.join(text, "medicine.txt"));
    await expect(build()).rejects.toThrow(/manifest\.json.*altered/);
  });

  it("cogen zoo build refuses a zoo without the sampled text before training anything, naming the file", async () => {
    const out = path.join(work, "new-zoo");
    const { code, err } = await capture(["zoo", "build", "--out", out]);
    expect(code).not.toBe(0);
    expect(err).toContain(path.join(out, "pivots", "sampled-text", "manifest.json"));
    expect(err).toMatch(/copy the committed zoo\/pivots\/sampled-text\//);
    await expect(fs.access(path.join(out, "manifest.json"))).rejects.toThrow();
  });

  it("--fresh's clearing removes the built pivots and keeps the committed sampled text", async () => {
    const zoo = path.join(work, "zoo");
    await fs.mkdir(path.join(zoo, "pivots", "all", "hf"), { recursive: true });
    await fs.writeFile(path.join(zoo, "pivots", "all", "model.gguf"), "x");
    await fs.writeFile(path.join(zoo, "pivots", "manifest.json"), "{}");
    await fs.cp(text, path.join(zoo, "pivots", "sampled-text"), { recursive: true });
    await clearZooPivots(zoo, zooPivotsPlan("full"));
    expect(await fs.readdir(path.join(zoo, "pivots"))).toEqual(["sampled-text"]);
    expect((await fs.readdir(path.join(zoo, "pivots", "sampled-text"))).length).toBe(9);
    // The quick plan has no sampled text: everything goes.
    await clearZooPivots(zoo, zooPivotsPlan("quick"));
    expect(await fs.readdir(path.join(zoo, "pivots"))).toEqual([]);
  });
});
