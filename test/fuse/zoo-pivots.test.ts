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
    // The kd pivots kept, so is the time of the targets they were trained on.
    expect(again.targetSeconds).toBe(manifest.targetSeconds);
  }, 600_000);

  it("trains pivots/all, its control, the family-B pivot (across tokenizers), the sampled-text pivot and its wide twin with their controls online from another zoo model when the plan says so", async () => {
    const online = await tempDir("cogen-zoo-pivots-online-");
    try {
      const plan = { ...zooPivotsPlan("quick"), online: { init: "a/centralised", seed: 3, steps: 2, batchSize: 2, seqLen: 32, lr: 2e-3, lambda: 0.2, k: 4, lora: { rank: 2, alpha: 2 }, familyB: { lambda: 0.5, fusion: "aligned" as const }, sampled: { ...zooPivotsPlan("full").online!.sampled!, repeat: 1 }, wide: { intermediateSize: 352, numHeads: 8, numLayers: 3, lr: 1e-3, lambda: 0.5 } } };
      // A helper process trains the wide control to its checkpoint first; the build resumes it (the
      // checkpoint names the widened start's folder, so that folder must be the same in both runs).
      await buildZooPivots({ zoo: ZOO, out: online, plan, checkpointsOnly: ["wide-sampled-control"] });
      const state = JSON.parse(await fs.readFile(path.join(online, "wide-sampled-control", "checkpoint", "trainer_state.json"), "utf8")) as { step: number };
      expect(state.step).toBe(2);
      const manifest = await buildZooPivots({ zoo: ZOO, out: online, plan });
      const [all, control, familyB, fpo, sampled, sampledControl, wide, wideControl] = manifest.models;
      expect(all!.objective).toBe("online-kd");
      expect(all!.init).toBe("a/centralised/hf");
      expect(all!.teachers).toEqual(["medicine", "law", "finance", "computing", "geography", "biology", "food", "people"].map((d) => `a/experts/${d}`));
      expect(control!.lambda).toBe(1);
      expect({ ...control!.job, lambda: 0, teachers: [] }).toEqual({ ...all!.job, lambda: 0, teachers: [] });
      // The family-B pivot is the control's run with the family-B experts teaching their domains' windows.
      expect(familyB!.objective).toBe("online-kd");
      expect(familyB!.teachers).toEqual(["finance", "geography", "biology"].map((d) => `b/experts/${d}`));
      expect({ ...familyB!.job, lambda: 0, teachers: [], crossFusion: undefined }).toEqual({ ...control!.job, lambda: 0, teachers: [], crossFusion: undefined });
      expect(familyB!.job.crossFusion).toBe("aligned");
      expect(fpo!.init).toBe(path.relative(ZOO, path.join(online, "all", "hf")).split(path.sep).join("/"));
      expect(all!.parity!.loraMaxKl!).toBeLessThan(1e-4);
      // pivots/sampled: the training text and the committed sampled text, each window taught by its domain's
      // family-A expert; its control is the same stream at λ 1 (hard labels on the same text).
      expect(sampled!.role).toBe("pivot-sampled");
      expect(sampled!.teachers).toEqual([...all!.teachers, ...all!.teachers]);
      expect(sampled!.job.data).not.toBe(all!.job.data);
      expect(sampledControl!.role).toBe("pivot-sampled-control");
      expect(sampledControl!.teachers).toEqual([]);
      expect({ ...sampledControl!.job, lambda: 0, teachers: [] }).toEqual({ ...sampled!.job, lambda: 0, teachers: [] });
      expect(sampled!.parity!.loraMaxKl!).toBeLessThan(1e-4);
      expect(sampledControl!.parity!.maxKl).toBeLessThan(1e-4);
      // pivots/wide-sampled: the sampled pivot's stream, trained in full from the widened a/centralised
      // (ff 176 → 352, 4 → 8 heads, 2 → 3 layers) at its own lr and λ; its control is the same at λ 1.
      expect(wide!.role).toBe("pivot-wide-sampled");
      expect(wide!.teachers).toEqual(sampled!.teachers);
      expect(wide!.job).toMatchObject({ data: sampled!.job.data, init: "a/centralised/hf", lr: 1e-3, lambda: 0.5, widen: { intermediateSize: 352, numHeads: 8, numLayers: 3 } });
      expect(wide!.job.lora).toBeUndefined();
      expect(wide!.files.lora).toBeNull();
      expect(wide!.method).toMatch(/^full fine-tune of a\/centralised\/hf widened to ff 352, 8 heads, 3 layers$/);
      const config = JSON.parse(await fs.readFile(path.resolve(ZOO, wide!.files.hf, "config.json"), "utf8")) as Record<string, number>;
      expect([config.intermediate_size, config.num_attention_heads, config.num_hidden_layers]).toEqual([352, 8, 3]);
      expect(wideControl!.role).toBe("pivot-wide-sampled-control");
      expect({ ...wideControl!.job, lambda: 0, teachers: [] }).toEqual({ ...wide!.job, lambda: 0, teachers: [] });
      for (const m of [wide!, wideControl!]) expect(m.parity!.maxKl).toBeLessThan(1e-4);
      // The widened start was scratch: nothing of it is left beside the pivots.
      expect((await fs.readdir(online)).filter((f) => f.startsWith("."))).toEqual([]);
      // Another online λ retrains pivots/all, the FPO pivot after it and pivots/sampled; both controls, family B and the wide pivots (their own λ) are kept.
      // A target time left by an earlier offline build is dropped: no pivot trains on precomputed targets.
      const file = path.join(online, "manifest.json");
      await fs.writeFile(file, JSON.stringify({ ...JSON.parse(await fs.readFile(file, "utf8")), targetSeconds: 1778 }, null, 2) + "\n");
      const lines: string[] = [];
      const rebuilt = await buildZooPivots({ zoo: ZOO, out: online, plan: { ...plan, online: { ...plan.online, lambda: 0.5 } }, log: (l) => lines.push(l) });
      const rel = (name: string) => path.relative(ZOO, path.join(online, name)).split(path.sep).join("/");
      expect(lines.filter((l) => / kept$|^pivots: training /.test(l)).map((l) => l.replace(/ \(.*\)$/, ""))).toEqual([
        `pivots: training ${rel("all")}`, `pivots: ${rel("control")} kept`, `pivots: ${rel("family-b")} kept`, `pivots: training ${rel("fpo")}`,
        `pivots: training ${rel("sampled")}`, `pivots: ${rel("sampled-control")} kept`,
        `pivots: ${rel("wide-sampled")} kept`, `pivots: ${rel("wide-sampled-control")} kept`,
      ]);
      // The wide pivot's own λ retrains it alone.
      lines.length = 0;
      await buildZooPivots({ zoo: ZOO, out: online, plan: { ...plan, online: { ...plan.online, lambda: 0.5, wide: { ...plan.online.wide, lambda: 0.2 } } }, log: (l) => lines.push(l) });
      expect(lines.filter((l) => l.startsWith("pivots: training ")).map((l) => l.replace(/ \(.*\)$/, ""))).toEqual([`pivots: training ${rel("wide-sampled")}`]);
      // online.wide trains on the sampled text: without it the plan is refused before anything trains.
      await expect(buildZooPivots({ zoo: ZOO, out: online, plan: { ...plan, online: { ...plan.online, sampled: undefined } } })).rejects.toThrow(/online\.wide .*needs online\.sampled/);
      // Nothing needed the precomputed targets: every kd pivot is online.
      expect(lines.some((l) => l.includes("targets for"))).toBe(false);
      expect(rebuilt.targetSeconds).toBe(0);
      expect((await readZooPivotsManifest(online))!.targetSeconds).toBe(0);
    } finally {
      await fs.rm(online, { recursive: true, force: true });
    }
  }, 600_000);
});
