import { promises as fs } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildZooPivots, readZooPivotsManifest, zooPivotsPlan } from "../../src/fuse/distill/zoo-pivots.js";
import { ggufParity } from "../../src/models/llamacpp/parity.js";
import { tempDir } from "../fixtures/tiny-llama.js";

const ZOO = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "zoo");
let out: string;

beforeAll(async () => {
  out = await tempDir("cogen-zoo-pivots-");
});
afterAll(async () => {
  await fs.rm(out, { recursive: true, force: true });
});

describe("buildZooPivots (quick plan on the committed zoo)", () => {
  it("distils the four pivots from the zoo's experts, exports them checked in llama.cpp, and keeps them on a rerun", async () => {
    const plan = zooPivotsPlan("quick");
    const manifest = await buildZooPivots({ zoo: ZOO, out, plan });
    expect(manifest.models.map((m) => m.role)).toEqual(["pivot", "pivot-control", "pivot-family-b", "pivot-fpo"]);
    const [all, control, familyB, fpo] = manifest.models;
    expect(all!.teachers).toHaveLength(11);
    expect(control!.teachers).toEqual([]);
    expect(control!.lambda).toBe(1);
    // The control differs from the pivot only in λ: same texts, steps, seed and recipe.
    expect({ ...control!.job, lambda: 0, teachers: [] }).toEqual({ ...all!.job, lambda: 0, teachers: [] });
    expect(familyB!.teachers.every((t) => t.startsWith("b/"))).toBe(true);
    expect(familyB!.teachers).toHaveLength(3);
    expect(fpo!.objective).toBe("fpo");
    expect(manifest.prefs.count).toBeGreaterThan(0);
    expect(manifest.texts.count).toBeGreaterThan(0);
    for (const m of manifest.models) {
      expect(m.parity!.maxKl).toBeLessThan(1e-4);
      expect(m.parity!.loraMaxKl!).toBeLessThan(1e-4);
    }
    // Parity recomputed on the files written.
    const dir = (rel: string) => path.resolve(ZOO, rel);
    expect(await ggufParity(dir(fpo!.files.hf), dir(fpo!.files.gguf), ["disease: an impairment of health"])).toBeLessThan(1e-4);
    expect((await readZooPivotsManifest(out))!.models).toHaveLength(4);

    const again = await buildZooPivots({ zoo: ZOO, out, plan });
    expect(again.texts.hash).toBe(manifest.texts.hash);
    expect(again.prefs.hash).toBe(manifest.prefs.hash);
    expect(again.models.map((m) => m.trainSeconds)).toEqual(manifest.models.map((m) => m.trainSeconds));
  }, 600_000);
});
