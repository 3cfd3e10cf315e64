import { promises as fs } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertGgufToHf } from "../../src/formats/convert/gguf-to-hf.js";
import { buildZooMoePivots, readZooMoePivotsManifest, ZOO_MOE_PIVOTS_PLAN } from "../../src/fuse/distill/zoo-moe-pivots.js";
import { disposeTeacher, loadTeacher, type Teacher } from "../../src/fuse/distill/teacher-targets.js";
import { trainPivot } from "../../src/fuse/distill/train-pivot.js";
import { FIXTURE_TEXT, tempDir } from "../fixtures/tiny-llama.js";

const ZOO = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "zoo");
const PLAN = { ...ZOO_MOE_PIVOTS_PLAN, steps: 3, batchSize: 2, seqLen: 16, k: 4, parityContexts: 1 };
let root: string;

beforeAll(async () => {
  root = await tempDir("cogen-zoo-moe-pivots-");
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const same = async (a: string, b: string) => (await fs.readFile(a)).equals(await fs.readFile(b));

describe("buildZooMoePivots (tiny plan on the committed zoo's trained mixture)", () => {
  it("trains the distilled mixture and its CLM control, differing only in the KD term, checked in llama.cpp, and keeps them on a rerun", async () => {
    const out = path.join(root, "pivots-moe");
    const manifest = (await buildZooMoePivots({ zoo: ZOO, out, plan: PLAN }))!;
    const [all, control] = manifest.models;
    expect(manifest.models.map((m) => m.role)).toEqual(["pivot-moe", "pivot-moe-control"]);
    expect(all!.init).toBe("moe/a-trained-top2/model.gguf");
    expect(all!.teachers).toEqual(["medicine", "law", "finance", "computing", "geography", "biology", "food", "people"].map((d) => `a/experts/${d}`));
    expect(control!.teachers).toEqual([]);
    expect(control!.lambda).toBe(1);
    // Same mixture, stream, batches, steps, seed and optimiser: only λ and the teachers differ.
    expect({ ...control!.job, lambda: 0, teachers: [] }).toEqual({ ...all!.job, lambda: 0, teachers: [] });
    // The KD term changes the result.
    expect(await same(path.join(ZOO, all!.files.hf, "model.safetensors"), path.join(ZOO, control!.files.hf, "model.safetensors"))).toBe(false);
    for (const m of manifest.models) expect(m.parity!.maxKl).toBeLessThan(1e-4);
    expect((await readZooMoePivotsManifest(out))!.models).toHaveLength(2);
    // The converted starting mixture is scratch: only all/, control/ and the manifest remain.
    expect((await fs.readdir(out)).sort()).toEqual(["all", "control", "manifest.json"]);

    const lines: string[] = [];
    const again = (await buildZooMoePivots({ zoo: ZOO, out, plan: PLAN, log: (l) => lines.push(l) }))!;
    expect(lines.filter((l) => l.endsWith(" kept"))).toHaveLength(2);
    expect(again.models.map((m) => m.trainSeconds)).toEqual(manifest.models.map((m) => m.trainSeconds));
    // Another λ retrains the pivot only.
    lines.length = 0;
    await buildZooMoePivots({ zoo: ZOO, out, plan: { ...PLAN, lambda: 0.5 }, log: (l) => lines.push(l) });
    expect(lines.filter((l) => / kept$|training /.test(l))).toHaveLength(2);
    expect(lines.filter((l) => /training .*\/all \(online-kd, λ 0\.5/.test(l))).toHaveLength(1);
    expect(lines.filter((l) => /\/control kept$/.test(l))).toHaveLength(1);
  }, 600_000);

  it("online KD on the mixture (a full fine-tune) is deterministic and resumes bit for bit", async () => {
    const moe = path.join(root, "moe-hf");
    await convertGgufToHf(path.join(ZOO, "moe", "a-trained-top2", "model.gguf"), moe);
    const teacher: Teacher = await loadTeacher(path.join(ZOO, "a", "experts", "medicine", "hf"), "a/experts/medicine");
    try {
      const parts = [{ name: "fixture", text: FIXTURE_TEXT.repeat(6), teacher }];
      const common = { pivot: moe, objective: "online-kd" as const, online: { parts, k: 4 }, lambda: 0.2, steps: 4, batchSize: 2, seqLen: 16, lr: 1e-3, seed: 5 };
      const straight = await trainPivot({ ...common, out: path.join(root, "straight") });
      const ckpt = path.join(root, "ckpt");
      const stopped = await trainPivot({ ...common, out: path.join(root, "resumed"), checkpointDir: ckpt, checkpointEvery: 1, stopAtStep: 2 });
      expect(stopped.exported).toEqual([]);
      const resumed = await trainPivot({ ...common, out: path.join(root, "resumed"), checkpointDir: ckpt });
      expect(resumed.startStep).toBe(2);
      expect(resumed.losses).toEqual(straight.losses);
      expect(await same(path.join(root, "straight", "hf", "model.safetensors"), path.join(root, "resumed", "hf", "model.safetensors"))).toBe(true);
      expect(straight.exported).toEqual(["hf", "model.gguf"]);
      // The CLM-only objective on the same batches is another loss.
      const clm = await trainPivot({ ...common, lambda: 1, out: path.join(root, "clm") });
      expect(clm.losses[0]).not.toBe(straight.losses[0]);
    } finally {
      disposeTeacher(teacher);
    }
  }, 600_000);
});
