import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, InputFileError } from "../../src/core/errors.js";
import { parseModelsFile } from "../../src/formats/models-file.js";
import { openGguf } from "../../src/formats/gguf/reader.js";
import { buildZoo } from "../../src/zoo/build/build.js";
import { evaluateZoo } from "../../src/zoo/build/evaluate.js";
import { dealJobs } from "../../src/zoo/build/lanes.js";
import { readZooManifest, specialisation, type ZooManifest, type ZooModelEntry } from "../../src/zoo/build/manifest.js";
import { ggufParity, klDivergence, loraParity } from "../../src/models/llamacpp/parity.js";
import { zooPlan } from "../../src/zoo/build/plan.js";
import type { TrainJob } from "../../src/zoo/build/train-job.js";

const ZOO = path.resolve("zoo");
let root: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-zoo-build-"));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe("the committed zoo", () => {
  let manifest: ZooManifest;
  beforeAll(async () => {
    manifest = await readZooManifest(ZOO);
  });

  it("lists every model's files, and they exist", async () => {
    expect(manifest.complete).toBe(true);
    expect(manifest.kind).toBe("full");
    const roles = manifest.models.map((m) => `${m.family}:${m.role}`);
    expect(roles.filter((r) => r === "a:expert")).toHaveLength(8);
    expect(roles).toContain("a:control");
    expect(roles.filter((r) => r === "b:expert").length).toBeGreaterThanOrEqual(3);
    for (const m of manifest.models) {
      for (const file of [m.files.gguf, `${m.files.hf}/config.json`, `${m.files.hf}/model.safetensors`, ...(m.files.loraGguf ? [m.files.loraGguf, `${m.files.lora}/adapter_model.safetensors`] : [])]) {
        await expect(fs.stat(path.join(ZOO, file)), file).resolves.toBeTruthy();
      }
    }
    // The families really differ: tokenizer kind, width and depth.
    const [a, b] = manifest.families;
    expect(a.tokenizer.ggufModel).toBe("llama");
    expect(b.tokenizer.ggufModel).toBe("gpt2");
    expect(a.config.hidden_size).not.toBe(b.config.hidden_size);
    expect(a.config.num_hidden_layers).not.toBe(b.config.num_hidden_layers);
    const yaml = parseModelsFile(await fs.readFile(path.join(ZOO, "models.yaml"), "utf8"), path.join(ZOO, "models.yaml"));
    expect(yaml.map((e) => e.path)).toEqual(manifest.models.map((m) => path.join(ZOO, m.files.gguf)));
  });

  it("records a llama.cpp ↔ TypeScript parity within KL 1e-4 for every model", () => {
    expect(manifest.parity!.maxKl).toBeLessThanOrEqual(1e-4);
    expect(manifest.parity!.maxLoraKl).toBeLessThanOrEqual(1e-4);
    for (const m of manifest.models) expect(m.parity!.maxKl, m.id).toBeLessThanOrEqual(1e-4);
  });

  it("runs in llama.cpp as cogen's TypeScript forward pass computes it (base-a, base-b, an expert)", async () => {
    const contexts = ["aardvark: nocturnal burrowing mammal of the grasslands of Africa", "France economy: tourism and industry"];
    for (const id of ["a/base", "b/base", "a/experts/law"]) {
      const m = manifest.models.find((x) => x.id === id)!;
      const kl = await ggufParity(path.join(ZOO, m.files.hf), path.join(ZOO, m.files.gguf), contexts);
      expect(kl, id).toBeLessThanOrEqual(1e-4);
    }
    // The models are not near-uniform (else agreement would be trivial): the header records bpb well under log2(vocab)/bytes.
    expect(manifest.models.find((x) => x.id === "a/base")!.heldOutBpb.biology).toBeLessThan(4);
  });

  it("gives the merged expert's distributions from base-a + the expert's runtime LoRA adapter", async () => {
    const base = manifest.models.find((m) => m.id === "a/base")!;
    const expert = manifest.models.find((m) => m.id === "a/experts/medicine")!;
    const vocab = manifest.families[0].vocabSize;
    const kl = await loraParity(path.join(ZOO, base.files.gguf), path.join(ZOO, expert.files.loraGguf!), path.join(ZOO, expert.files.gguf), vocab, ["disease: an impairment of health"]);
    expect(kl).toBeLessThanOrEqual(1e-4);
    // ... and the adapter matters: another adapter (the control's) on the same base is measurably different.
    const otherAdapter = await loraParity(path.join(ZOO, base.files.gguf), path.join(ZOO, "a/control/lora.gguf"), path.join(ZOO, expert.files.gguf), vocab, ["disease: an impairment of health"]);
    expect(otherAdapter).toBeGreaterThan(100 * Math.max(kl, 1e-7));
  });

  it("specialises: each expert beats the equal-compute control on its own domain", () => {
    for (const row of manifest.specialisation!.filter((r) => r.family === "a")) {
      expect(row.beatsControl, row.domain).toBe(true);
    }
  });
});

describe("buildZoo --quick", () => {
  it("builds a small zoo with every export, keeps it on a rerun and refuses a foreign folder", async () => {
    const out = path.join(root, "quick");
    const plan = zooPlan("quick");
    // First without the centralised model: adding it later must retrain nothing else.
    const withoutCentralised = { ...plan, families: plan.families.map((f) => ({ ...f, centralised: false })) };
    const manifest = await buildZoo({ out, plan: withoutCentralised });
    expect(manifest.complete).toBe(true);
    expect(manifest.models.map((m) => m.id)).toEqual(["a/base", "b/base", "a/experts/medicine", "a/experts/geography", "a/control", "b/experts/geography"]);
    expect(manifest.parity!.maxKl).toBeLessThanOrEqual(1e-4);
    expect(manifest.parity!.maxLoraKl).toBeLessThanOrEqual(1e-4);
    const adapter = await openGguf(path.join(out, "a/experts/medicine/lora.gguf"));
    expect(adapter.getString("general.type")).toBe("adapter");
    await adapter.close();
    const peft = JSON.parse(await fs.readFile(path.join(out, "a/experts/medicine/lora/adapter_config.json"), "utf8"));
    expect(path.resolve(out, "a/experts/medicine/lora", peft.base_model_name_or_path)).toBe(path.join(out, "a/base/hf"));
    const onDisk = await readZooManifest(out);
    expect(onDisk.models).toHaveLength(6);
    expect(onDisk.specialisation).toHaveLength(3);

    // A rerun of the same plan keeps every trained model (no retraining: same recorded times).
    const again = await buildZoo({ out, plan: withoutCentralised });
    expect(again.models.map((m) => m.trainSeconds)).toEqual(manifest.models.map((m) => m.trainSeconds));
    // The plan with the centralised model trains only it: experts × adapt steps on the mixture, the experts' recipe.
    const grown = await buildZoo({ out, plan });
    expect(grown.models.map((m) => m.id)).toEqual(["a/base", "b/base", "a/experts/medicine", "a/experts/geography", "a/control", "a/centralised", "b/experts/geography"]);
    expect(grown.models.filter((m) => m.id !== "a/centralised").map((m) => m.trainSeconds)).toEqual(manifest.models.map((m) => m.trainSeconds));
    const centralised = grown.models.find((m) => m.id === "a/centralised")!;
    const expert = grown.models.find((m) => m.id === "a/experts/medicine")!;
    expect(centralised.steps).toBe(2 * expert.steps);
    expect([centralised.lr, centralised.batchSize, centralised.seqLen, centralised.method, centralised.data]).toEqual([expert.lr, expert.batchSize, expert.seqLen, expert.method, "mixture"]);
    expect(centralised.parity!.maxKl).toBeLessThanOrEqual(1e-4);

    // cogen zoo eval on it: llama.cpp through the eval runner, one cell per model × domain × kind.
    const report = await evaluateZoo(out, { kinds: ["bitsPerByte", "continuation"], perDomain: 1, models: ["a-base", "a-expert-medicine"], results: path.join(root, "results.jsonl") });
    expect(report.failures).toEqual([]);
    expect(report.cells.filter((c) => c.kind === "bitsPerByte")).toHaveLength(2 * 8);
    for (const c of report.cells.filter((c) => c.kind === "bitsPerByte")) expect(c.mean).toBeGreaterThan(1);
    // Untrained-size models: bits per byte of the held-out chunks close to the trainer's own measure on held-out text.
    const trainer = manifest.models.find((m) => m.id === "a/base")!.heldOutBpb.medicine;
    const llamaCpp = report.cells.find((c) => c.model === "a-base" && c.domain === "medicine" && c.kind === "bitsPerByte")!.mean;
    expect(Math.abs(llamaCpp - trainer)).toBeLessThan(0.5);
    expect(report.chance[0].chance).toBeCloseTo(0.25, 6);

    const foreign = path.join(root, "foreign");
    await fs.mkdir(foreign);
    await fs.writeFile(path.join(foreign, "notes.txt"), "mine");
    await expect(buildZoo({ out: foreign, plan })).rejects.toThrow(ConfigError);
  }, 240_000);
});

describe("zoo build helpers", () => {
  it("deals jobs to lanes balancing steps", () => {
    const job = (id: string, steps: number) => ({ id, steps }) as TrainJob;
    const lanes = dealJobs([job("a", 100), job("b", 100), job("c", 50), job("d", 50), job("e", 100)], 2);
    expect(lanes.map((l) => l.reduce((s, j) => s + j.steps, 0)).sort()).toEqual([200, 200]);
    expect(dealJobs([job("a", 1)], 2)).toHaveLength(1);
  });

  it("computes KL divergence and tolerates unnormalised float32 sums", () => {
    expect(klDivergence([0.5, 0.5], [0.5, 0.5])).toBe(0);
    expect(klDivergence([0.5, 0.5], [0.5000001, 0.5000001])).toBeLessThan(1e-12);
    expect(klDivergence([1, 0], [0.5, 0.5])).toBeCloseTo(Math.log(2), 12);
  });

  it("scores specialisation against the control and the other experts", () => {
    const model = (id: string, role: ZooModelEntry["role"], domain: string | null, bpb: Record<string, number>) =>
      ({ id, family: "a", role, domain, heldOutBpb: bpb }) as ZooModelEntry;
    const rows = specialisation([
      model("a/base", "base", null, { x: 3, y: 3 }),
      model("a/control", "control", null, { x: 2.5, y: 2.5 }),
      model("a/experts/x", "expert", "x", { x: 2.4, y: 2.7 }),
      model("a/experts/y", "expert", "y", { x: 2.6, y: 2.6 }),
    ]);
    expect(rows.map((r) => [r.domain, r.beatsControl, r.beatsOtherExperts])).toEqual([["x", true, true], ["y", false, true]]);
  });

  it("rejects a folder whose manifest is not a zoo", async () => {
    const dir = path.join(root, "bad");
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, "manifest.json"), JSON.stringify({ format: "something-else" }));
    await expect(readZooManifest(dir)).rejects.toThrow(InputFileError);
  });
});
