/**
 * Every example config of mergekit's own repository (shared reference data, see
 * test/reference-data.ts) runs unchanged with `cogen merge`, the Hub model ids replaced by
 * generated stand-ins at the same relative paths (tiny llama folders, fine-tunes of one base,
 * with as many layers as the config's slices name).
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelRefs, runMerge } from "../../src/merge/engine.js";
import { runMultiMerge, UNNAMED_MERGE } from "../../src/merge/multi.js";
import { isMultiMergeConfig, parseMergekitMulti } from "../../src/formats/mergekit-config.js";
import { MERGE_METHODS } from "../../src/merge/methods/registry.js";
import { openHfWeights } from "../../src/formats/safetensors/index.js";
import { referenceFile } from "../reference-data.js";
import { makeModel, tmp, type Fixture } from "./fixtures.js";

const examples = referenceFile("compat", "mergekit", "linear.yml");
const dir = path.dirname(examples.path);
const FILES = ["arcee_fusion.yml", "bio-merge.yml", "doc-multimerge-0.yml", "gradient-slerp.yml", "linear.yml", "orcamini-platy-44layer.yml", "ties.yml"];

let root: string;
beforeAll(async () => {
  root = await tmp("cogen-mergekit-examples-");
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** Stand-ins for every model a config names (other than its own merges), under `work`. */
async function standIns(text: string, work: string): Promise<Map<string, Fixture>> {
  const docs = parseMergekitMulti(text, MERGE_METHODS);
  const names = new Set(docs.map((d) => d.config.name).filter(Boolean));
  let layers = 2;
  for (const d of docs) for (const s of d.config.slices ?? []) for (const src of s.sources) layers = Math.max(layers, src.layerRange[1]);
  const ids = [...new Set(docs.flatMap((d) => modelRefs(d.config).map((r) => r.path)))].filter((id) => !names.has(id));
  const base = await makeModel(path.join(work, "_base"), { layers, seed: 1 });
  const out = new Map<string, Fixture>();
  for (const [i, id] of ids.entries()) out.set(id, await makeModel(path.join(work, id), { layers, seed: 10 + i, from: base.tensors, noise: 0.05 }));
  return out;
}

async function readAll(folder: string): Promise<Map<string, Float32Array>> {
  const src = await openHfWeights(folder);
  const out = new Map<string, Float32Array>();
  for (const t of src.list()) out.set(t.name, await src.readF32(t.name));
  await src.close();
  return out;
}

const Q = "model.layers.1.self_attn.q_proj.weight";

describe(`mergekit's example configs run with local stand-ins${examples.skipNote}`, () => {
  it.skipIf(!examples.available)("the reference folder holds the seven configs this test knows", async () => {
    expect((await fs.readdir(dir)).filter((f) => f.endsWith(".yml")).sort()).toEqual(FILES);
  });

  for (const file of FILES) {
    it.skipIf(!examples.available)(file, async () => {
      const text = await fs.readFile(path.join(dir, file), "utf8");
      const work = path.join(root, file.replace(/\W/g, "_"));
      const models = await standIns(text, work);
      const outDir = path.join(work, "out");
      const options = { config: text, configName: file, baseDir: work, outDir };
      let result = outDir;
      if (isMultiMergeConfig(text)) {
        const multi = await runMultiMerge(options);
        expect(multi.merges.map((m) => m.name)).toEqual(["first-merge", "second-merge", UNNAMED_MERGE]);
        result = multi.result;
        // The second merge read the first's output, the third the second's.
        const first = await readAll(path.join(outDir, "first-merge"));
        const a = models.get("mistralai/Mistral-7B-v0.1")!.tensors.get(Q)!;
        const b = models.get("BioMistral/BioMistral-7B")!.tensors.get(Q)!;
        // linear, weight 0.5 each, normalised.
        first.get(Q)!.forEach((v, i) => expect(v).toBeCloseTo((a[i] + b[i]) / 2, 2));
      } else await runMerge(options);
      const merged = await readAll(result);
      const config = JSON.parse(await fs.readFile(path.join(result, "config.json"), "utf8")) as { num_hidden_layers: number };
      const expectedLayers = file === "orcamini-platy-44layer.yml" ? 44 : file === "gradient-slerp.yml" ? 40 : 2;
      expect(config.num_hidden_layers).toBe(expectedLayers);
      expect(merged.has(`model.layers.${expectedLayers - 1}.mlp.down_proj.weight`)).toBe(true);
      for (const [name, values] of merged) expect(values.every(Number.isFinite), name).toBe(true);

      if (file === "linear.yml") {
        const [a, b, c] = ["psmathur/orca_mini_v3_13b", "WizardLM/WizardLM-13B-V1.2", "garage-bAInd/Platypus2-13B"].map((id) => models.get(id)!.tensors.get(Q)!);
        merged.get(Q)!.forEach((v, i) => expect(v).toBeCloseTo((a[i] + 0.3 * b[i] + 0.5 * c[i]) / 1.8, 2));
      }
      if (file === "arcee_fusion.yml") {
        const a = models.get("model_a")!.tensors.get(Q)!;
        const b = models.get("model_b")!.tensors.get(Q)!;
        const out = merged.get(Q)!;
        // bfloat16 output: each element is model_a's or model_b's value, rounded to bf16; both kinds occur.
        const fromB = Array.from(out).filter((v, i) => Math.abs(v - b[i]) < Math.abs(v - a[i])).length;
        expect(fromB).toBeGreaterThan(0);
        expect(fromB).toBeLessThan(out.length / 2);
      }
    }, 120_000);
  }
});
