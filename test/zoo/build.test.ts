import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, InputFileError } from "../../src/core/errors.js";
import { parseModelsFile } from "../../src/formats/models-file.js";
import { openGguf } from "../../src/formats/gguf/reader.js";
import { buildZoo } from "../../src/zoo/build/build.js";
import { evaluateZoo } from "../../src/eval/zoo-eval.js";
import { dealJobs } from "../../src/zoo/build/lanes.js";
import { readZooManifest, specialisation, type ZooManifest, type ZooModelEntry } from "../../src/zoo/build/manifest.js";
import { ggufParity, klDivergence, loraParity } from "../../src/models/llamacpp/parity.js";
import { zooPlan } from "../../src/zoo/build/plan.js";
import { cutAtWord } from "../../src/unify/items.js";
import { readTasksFile } from "../../src/formats/tasks.js";
import { createLlamaCppModel } from "../../src/models/llamacpp/model.js";
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

  it("lists every model's files, and each GGUF is the network its HF folder describes", async () => {
    expect(manifest.complete).toBe(true);
    const roles = manifest.models.map((m) => `${m.family}:${m.role}`);
    expect(roles.filter((r) => r === "a:expert")).toHaveLength(8);
    expect(roles).toContain("a:control");
    expect(roles.filter((r) => r === "b:expert").length).toBeGreaterThanOrEqual(3);
    const shapes = new Map<string, string>();
    for (const m of manifest.models) {
      for (const file of [`${m.files.hf}/model.safetensors`, ...(m.files.loraGguf ? [m.files.loraGguf, `${m.files.lora}/adapter_model.safetensors`] : [])]) {
        await expect(fs.stat(path.join(ZOO, file)), file).resolves.toBeTruthy();
      }
      // Read from the files themselves, not from the manifest.
      const config = JSON.parse(await fs.readFile(path.join(ZOO, m.files.hf, "config.json"), "utf8"));
      const gguf = await openGguf(path.join(ZOO, m.files.gguf));
      try {
        expect(gguf.getString("general.architecture"), m.id).toBe("llama");
        expect(gguf.getNumber("llama.embedding_length"), m.id).toBe(config.hidden_size);
        expect(gguf.getNumber("llama.block_count"), m.id).toBe(config.num_hidden_layers);
        expect(gguf.getString("tokenizer.ggml.model"), m.id).toBe(m.family === "a" ? "llama" : "gpt2");
        shapes.set(m.family, `${config.hidden_size}x${config.num_hidden_layers}`);
      } finally {
        await gguf.close();
      }
    }
    // The families really differ in width and depth, not only in tokenizer.
    expect(shapes.get("a")).not.toBe(shapes.get("b"));
    const yaml = parseModelsFile(await fs.readFile(path.join(ZOO, "models.yaml"), "utf8"), path.join(ZOO, "models.yaml"));
    expect(yaml.map((e) => e.path)).toEqual(manifest.models.map((m) => path.join(ZOO, m.files.gguf)));
  });

  it("runs in llama.cpp as cogen's TypeScript forward pass computes it, for every model", async () => {
    const context = "aardvark: nocturnal burrowing mammal of the grasslands of Africa";
    for (const m of manifest.models) {
      const kl = await ggufParity(path.join(ZOO, m.files.hf), path.join(ZOO, m.files.gguf), [context]);
      expect(kl, m.id).toBeLessThanOrEqual(1e-4);
    }
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

  it("specialises, measured afresh in llama.cpp: each expert beats the equal-compute control on its own domain's held-out text", async () => {
    // The first held-out passages of each domain, cut to fit the models' 64-token training window.
    const items = (await readTasksFile(path.join(ZOO, manifest.items.bitsPerByte!.file))).filter((i) => i.kind === "bits_per_byte");
    const passages = (domain: string) => items.filter((i) => i.domain === domain).slice(0, 3).map((i) => cutAtWord(i.kind === "bits_per_byte" ? i.text : "", 120));
    const bitsPerByteOn = async (entry: ZooModelEntry, texts: string[]) => {
      const model = await createLlamaCppModel({ id: entry.id, path: path.join(ZOO, entry.files.gguf), threads: 1 });
      try {
        let nats = 0, bytes = 0, tokens = 0;
        for (const text of texts) {
          const ll = await model.logLikelihood("", text);
          nats -= ll.logprob;
          bytes += ll.bytes;
          tokens += ll.tokens;
        }
        return { bpb: nats / Math.LN2 / bytes, uniformBpb: (tokens * Math.log2(manifest.families[0].vocabSize)) / bytes };
      } finally {
        await model.close();
      }
    };
    const control = manifest.models.find((m) => m.family === "a" && m.role === "control")!;
    const experts = manifest.models.filter((m) => m.family === "a" && m.role === "expert");
    for (const expert of experts) {
      const texts = passages(expert.domain!);
      expect(texts.length, expert.domain!).toBeGreaterThan(0);
      const mine = await bitsPerByteOn(expert, texts);
      const theirs = await bitsPerByteOn(control, texts);
      expect(mine.bpb, expert.domain!).toBeLessThan(theirs.bpb);
      // Trained, not near-uniform (else agreement with anything would be trivial).
      expect(theirs.bpb, expert.domain!).toBeLessThan(0.6 * theirs.uniformBpb);
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
    // Parity recomputed on the files written, not read from the build's own record.
    const entry = (id: string) => manifest.models.find((m) => m.id === id)!;
    for (const id of ["a/experts/medicine", "b/experts/geography"]) {
      expect(await ggufParity(path.join(out, entry(id).files.hf), path.join(out, entry(id).files.gguf), ["disease: an impairment of health"]), id).toBeLessThanOrEqual(1e-4);
    }
    const medicine = entry("a/experts/medicine");
    expect(await loraParity(path.join(out, entry("a/base").files.gguf), path.join(out, medicine.files.loraGguf!), path.join(out, medicine.files.gguf), manifest.families[0].vocabSize, ["disease: an impairment of health"])).toBeLessThanOrEqual(1e-4);
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
    // ... and the time of the build that trained them: a committed zoo is not rewritten by a rerun.
    expect((await readZooManifest(out)).buildSeconds).toBe(manifest.buildSeconds);
    // The plan with the centralised model trains only it: experts × adapt steps on the mixture, the experts' recipe.
    const grown = await buildZoo({ out, plan });
    expect(grown.models.map((m) => m.id)).toEqual(["a/base", "b/base", "a/experts/medicine", "a/experts/geography", "a/control", "a/centralised", "b/experts/geography"]);
    expect(grown.models.filter((m) => m.id !== "a/centralised").map((m) => m.trainSeconds)).toEqual(manifest.models.map((m) => m.trainSeconds));
    const centralised = grown.models.find((m) => m.id === "a/centralised")!;
    const expert = grown.models.find((m) => m.id === "a/experts/medicine")!;
    expect(centralised.steps).toBe(2 * expert.steps);
    expect([centralised.lr, centralised.batchSize, centralised.seqLen, centralised.method, centralised.data]).toEqual([expert.lr, expert.batchSize, expert.seqLen, expert.method, "mixture"]);
    expect(await ggufParity(path.join(out, centralised.files.hf), path.join(out, centralised.files.gguf), ["disease: an impairment of health"])).toBeLessThanOrEqual(1e-4);

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
    // Training runs in child processes on a shared machine: allow for load, not for speed.
  }, 400_000);
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
