import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { openHfWeights, writeSafetensorsFile } from "../../src/formats/safetensors/index.js";
import { runMerge } from "../../src/merge/engine.js";
import { applyLora } from "../../src/merge/lora/apply.js";
import { extractLora } from "../../src/merge/lora/extract.js";
import { truncatedSvd } from "../../src/merge/lora/svd.js";
import { makeModel, tmp, type Fixture } from "./fixtures.js";

function orthonormalColumns(rng: Rng, n: number, k: number): number[][] {
  const cols: number[][] = [];
  for (let c = 0; c < k; c++) {
    const v = Array.from({ length: n }, () => rng.normal());
    for (const p of cols) {
      const d = v.reduce((s, x, i) => s + x * p[i], 0);
      p.forEach((x, i) => (v[i] -= d * x));
    }
    const norm = Math.hypot(...v);
    cols.push(v.map((x) => x / norm));
  }
  return cols;
}

describe("truncated SVD", () => {
  it("is within 5% of the optimal rank-r error on a known spectrum", () => {
    const rng = new Rng(3);
    const rows = 60;
    const cols = 40;
    const s = Array.from({ length: 40 }, (_, i) => Math.exp(-i / 6));
    const U = orthonormalColumns(rng, rows, 40);
    const V = orthonormalColumns(rng, cols, 40);
    const d = new Float32Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) d[i * cols + j] = s.reduce((acc, sv, c) => acc + sv * U[c][i] * V[c][j], 0);
    for (const r of [4, 10]) {
      const svd = truncatedSvd(d, rows, cols, r);
      for (let c = 0; c < r; c++) expect(svd.s[c]).toBeCloseTo(s[c], 3);
      let err = 0;
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
        let v = 0;
        for (let c = 0; c < r; c++) v += svd.u[i * r + c] * svd.s[c] * svd.vt[c * cols + j];
        err += (d[i * cols + j] - v) ** 2;
      }
      const optimal = Math.sqrt(s.slice(r).reduce((a, x) => a + x * x, 0));
      expect(Math.sqrt(err)).toBeLessThanOrEqual(optimal * 1.05);
    }
  });
});

describe("LoRA extract / apply", () => {
  let root: string;
  let base: Fixture;
  let tuned: Map<string, Float32Array>;

  beforeAll(async () => {
    root = await tmp();
    base = await makeModel(path.join(root, "base"), { seed: 1, hidden: 12, inter: 20 });
    // The "fine-tune" adds an exact rank-2 update to every linear layer weight.
    const rng = new Rng(9);
    tuned = new Map();
    for (const [name, w] of base.tensors) {
      const shape = base.shapes.get(name)!;
      const out = w.slice();
      if (/_proj\.weight$/.test(name)) {
        const [rows, cols] = shape;
        const B = Array.from({ length: rows * 2 }, () => rng.normal() * 0.1);
        const A = Array.from({ length: 2 * cols }, () => rng.normal() * 0.1);
        for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] += B[i * 2] * A[j] + B[i * 2 + 1] * A[cols + j];
      }
      tuned.set(name, out);
    }
    const dir = path.join(root, "tuned");
    await fs.cp(base.dir, dir, { recursive: true });
    await writeSafetensorsFile(path.join(dir, "model.safetensors"), [...tuned].map(([name, data]) => ({ name, dtype: "F32", shape: base.shapes.get(name)!, data })));
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it("extracts a PEFT adapter that reproduces the fine-tune when applied", async () => {
    const adapter = path.join(root, "adapter");
    const report = await extractLora({ base: base.dir, model: path.join(root, "tuned"), rank: 2, outDir: adapter });
    expect(report.modules).toBe(14);
    expect(report.meanRelativeError).toBeLessThan(1e-4);
    const cfg = JSON.parse(await fs.readFile(path.join(adapter, "adapter_config.json"), "utf8"));
    expect(cfg).toMatchObject({ r: 2, lora_alpha: 2, peft_type: "LORA" });
    expect(cfg.target_modules).toEqual(["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]);
    const weights = await openHfWeights(path.join(adapter, "adapter_model.safetensors"));
    expect(weights.info("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")!.shape).toEqual([2, 12]);
    expect(weights.info("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight")!.shape).toEqual([12, 2]);
    await weights.close();

    const applied = path.join(root, "applied");
    await applyLora({ base: base.dir, adapter, outDir: applied });
    const out = await openHfWeights(applied);
    for (const [name, expected] of tuned) {
      const got = await out.readF32(name);
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - expected[i])).toBeLessThan(1e-4);
    }
    await out.close();
    expect(await fs.readdir(applied)).toContain("config.json");

    // A merge input written PATH+LORA reads the adapter merged in.
    const merged = path.join(root, "merged");
    await runMerge({ baseDir: root, outDir: merged, config: "merge_method: passthrough\nmodels: [{model: base+adapter}]\n" });
    const m = await openHfWeights(merged);
    const q = await m.readF32("model.layers.1.self_attn.q_proj.weight");
    const expected = tuned.get("model.layers.1.self_attn.q_proj.weight")!;
    for (let i = 0; i < q.length; i++) expect(Math.abs(q[i] - expected[i])).toBeLessThan(1e-4);
    await m.close();
  });

  it("a base side file that exists but cannot be copied fails the apply, leaving no output", async () => {
    const broken = path.join(root, "broken-base");
    await fs.cp(base.dir, broken, { recursive: true });
    await fs.rm(path.join(broken, "config.json"));
    await fs.mkdir(path.join(broken, "config.json"));
    const adapter = path.join(root, "adapter3");
    await extractLora({ base: base.dir, model: path.join(root, "tuned"), rank: 1, outDir: adapter });
    await expect(applyLora({ base: broken, adapter, outDir: path.join(root, "nope3") })).rejects.toThrow(/broken-base.config\.json: cannot be copied/);
    await expect(fs.stat(path.join(root, "nope3"))).rejects.toThrow();
  });

  it("an adapter that does not fit the base is a clear error", async () => {
    const other = await makeModel(path.join(root, "other"), { seed: 4, hidden: 8, inter: 16 });
    const adapter = path.join(root, "adapter2");
    await extractLora({ base: base.dir, model: path.join(root, "tuned"), rank: 1, outDir: adapter });
    await expect(applyLora({ base: other.dir, adapter, outDir: path.join(root, "nope") })).rejects.toThrow(/do not fit/);
    await expect(fs.stat(path.join(root, "nope"))).rejects.toThrow();
  });
});
