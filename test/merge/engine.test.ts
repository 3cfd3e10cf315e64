import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, InputFileError } from "../../src/core/errors.js";
import { openHfWeights } from "../../src/formats/safetensors/index.js";
import { runMerge } from "../../src/merge/engine.js";
import { makeModel, tmp, type Fixture } from "./fixtures.js";
import { refMagnitude, refTaskVectors } from "./methods/reference.js";

let root: string;
let base: Fixture;
let a: Fixture;
let b: Fixture;

beforeAll(async () => {
  root = await tmp();
  base = await makeModel(path.join(root, "base"), { seed: 1 });
  a = await makeModel(path.join(root, "a"), { seed: 2, from: base.tensors });
  b = await makeModel(path.join(root, "b"), { seed: 3, from: base.tensors });
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function readAll(dir: string): Promise<Map<string, Float32Array>> {
  const src = await openHfWeights(dir);
  const out = new Map<string, Float32Array>();
  for (const t of src.list()) out.set(t.name, await src.readF32(t.name));
  await src.close();
  return out;
}

const ties = `
models:
  - model: a
    parameters: {weight: 0.6, density: 0.5}
  - model: b
    parameters: {weight: 0.4, density: 0.7}
merge_method: ties
base_model: base
`;

describe("runMerge", () => {
  it("TIES over a tiny llama: every tensor present, finite, equal to the formula", async () => {
    const out = path.join(root, "out-ties");
    const report = await runMerge({ config: ties, baseDir: root, outDir: out, maxShardBytes: 4000 });
    expect(report.tensors).toBe(base.shapes.size);
    const merged = await readAll(out);
    expect([...merged.keys()].sort()).toEqual([...base.shapes.keys()].sort());
    for (const v of merged.values()) expect(v.every(Number.isFinite)).toBe(true);
    const name = "model.layers.1.mlp.up_proj.weight";
    const expected = refTaskVectors(Array.from(base.tensors.get(name)!), [Array.from(a.tensors.get(name)!), Array.from(b.tensors.get(name)!)], [0.6, 0.4], {
      consensus: true, normalize: true, sparsify: (d, m) => refMagnitude(d, [0.5, 0.7][m]),
    });
    const got = merged.get(name)!;
    for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(expected[i], 5);
    const files = await fs.readdir(out);
    expect(files).toContain("model.safetensors.index.json");
    expect(files).toContain("tokenizer.json");
    expect(await fs.readFile(path.join(out, "README.md"), "utf8")).toContain("merge_method: ties");
    expect(JSON.parse(await fs.readFile(path.join(out, "config.json"), "utf8")).num_hidden_layers).toBe(2);
  });

  it("is deterministic for DARE across runs and thread counts; the seed matters", async () => {
    const cfg = ties.replace("merge_method: ties", "merge_method: dare_ties");
    const o1 = path.join(root, "dare1");
    const o2 = path.join(root, "dare2");
    const o3 = path.join(root, "dare3");
    await runMerge({ config: cfg, baseDir: root, outDir: o1, seed: 5 });
    await runMerge({ config: cfg, baseDir: root, outDir: o2, seed: 5, threads: 2 });
    await runMerge({ config: cfg, baseDir: root, outDir: o3, seed: 6 });
    const f1 = await fs.readFile(path.join(o1, "model.safetensors"));
    expect(f1.equals(await fs.readFile(path.join(o2, "model.safetensors")))).toBe(true);
    expect(f1.equals(await fs.readFile(path.join(o3, "model.safetensors")))).toBe(false);
    // Elementwise methods run chunked in the workers: same bytes as inline.
    const lin = "merge_method: task_arithmetic\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.7}}, {model: b, parameters: {weight: 0.2}}]\n";
    await runMerge({ config: lin, baseDir: root, outDir: path.join(root, "ta1") });
    await runMerge({ config: lin, baseDir: root, outDir: path.join(root, "ta2"), threads: 2 });
    const t1 = await fs.readFile(path.join(root, "ta1", "model.safetensors"));
    expect(t1.equals(await fs.readFile(path.join(root, "ta2", "model.safetensors")))).toBe(true);
  }, 30000);

  it("passthrough with scale 0 gives zeros; stacking renumbers layers and sets the layer count", async () => {
    const out = path.join(root, "stack");
    await runMerge({
      baseDir: root, outDir: out, config: `
merge_method: passthrough
dtype: bfloat16
slices:
  - sources: [{model: a, layer_range: [0, 2]}]
  - sources:
      - model: b
        layer_range: [1, 2]
        parameters:
          scale: [{filter: o_proj, value: 0}, {value: 1}]
`,
    });
    const merged = await readAll(out);
    expect(JSON.parse(await fs.readFile(path.join(out, "config.json"), "utf8"))).toMatchObject({ num_hidden_layers: 3, torch_dtype: "bfloat16" });
    expect(merged.has("model.layers.2.mlp.up_proj.weight")).toBe(true);
    expect(merged.has("model.layers.3.mlp.up_proj.weight")).toBe(false);
    expect(merged.get("model.layers.2.self_attn.o_proj.weight")!.every((x) => x === 0)).toBe(true);
    const src = b.tensors.get("model.layers.1.mlp.up_proj.weight")!;
    const got = merged.get("model.layers.2.mlp.up_proj.weight")!;
    for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - src[i])).toBeLessThanOrEqual(Math.abs(src[i]) / 128);
  });

  it("gradients: layers interpolate; embeddings and norm take the first value", async () => {
    const out = path.join(root, "grad");
    await runMerge({ baseDir: root, outDir: out, config: "merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: [1, 0]}\n  - model: b\n    parameters: {weight: [0, 1]}\n" });
    const merged = await readAll(out);
    expect(merged.get("model.layers.0.mlp.up_proj.weight")).toEqual(a.tensors.get("model.layers.0.mlp.up_proj.weight"));
    expect(merged.get("model.layers.1.mlp.up_proj.weight")).toEqual(b.tensors.get("model.layers.1.mlp.up_proj.weight"));
    expect(merged.get("model.embed_tokens.weight")).toEqual(a.tensors.get("model.embed_tokens.weight"));
    expect(merged.get("lm_head.weight")).toEqual(a.tensors.get("lm_head.weight"));
  });

  it("tokenizer union: base ids kept, new tokens appended, rows from base / only owner / mean", async () => {
    const u1 = await makeModel(path.join(root, "u1"), { seed: 4, tokens: ["a", "b", "c"] });
    const u2 = await makeModel(path.join(root, "u2"), { seed: 5, tokens: ["c", "a", "x", "y"], from: undefined });
    const u3 = await makeModel(path.join(root, "u3"), { seed: 6, tokens: ["y", "a"] });
    const out = path.join(root, "union");
    await runMerge({
      baseDir: root, outDir: out, config: `
merge_method: linear
base_model: u1
tokenizer_source: union
models:
  - {model: u1, parameters: {weight: 1}}
  - {model: u2, parameters: {weight: 1}}
  - {model: u3, parameters: {weight: 1}}
`,
    });
    const merged = await readAll(out);
    const h = 8;
    const emb = merged.get("model.embed_tokens.weight")!;
    expect(emb.length).toBe(5 * h); // a b c x y
    const row = (f: Fixture, id: number) => Array.from(f.tensors.get("model.embed_tokens.weight")!.subarray(id * h, id * h + h));
    const got = (id: number) => Array.from(emb.subarray(id * h, id * h + h));
    const close = (x: number[], y: number[]) => x.forEach((v, i) => expect(v).toBeCloseTo(y[i], 5));
    // "a" is in every model: plain mean of the three rows
    close(got(0), row(u1, 0).map((v, i) => (v + row(u2, 1)[i] + row(u3, 1)[i]) / 3));
    // "b" only in u1 (the base): every model's row is u1's
    close(got(1), row(u1, 1));
    // "x" only in u2
    close(got(3), row(u2, 2));
    // "y" in u2 and u3, not the base: the missing u1 row is their mean, so the result is their mean
    close(got(4), row(u2, 3).map((v, i) => (v + row(u3, 0)[i]) / 2));
    expect(JSON.parse(await fs.readFile(path.join(out, "config.json"), "utf8")).vocab_size).toBe(5);
    const tok = JSON.parse(await fs.readFile(path.join(out, "tokenizer.json"), "utf8"));
    expect(tok.added_tokens.map((t: { content: string; id: number }) => [t.content, t.id])).toEqual([["x", 3], ["y", 4]]);
  });

  it("tokenizer_source: base permutes rows into the base vocabulary", async () => {
    const out = path.join(root, "tokbase");
    await makeModel(path.join(root, "p1"), { seed: 8, tokens: ["a", "b", "c"] });
    const p2 = await makeModel(path.join(root, "p2"), { seed: 9, tokens: ["c", "b", "a"] });
    await runMerge({ baseDir: root, outDir: out, config: "merge_method: passthrough\nbase_model: p1\ntokenizer_source: base\nmodels: [{model: p2}]\n" });
    const emb = (await readAll(out)).get("model.embed_tokens.weight")!;
    expect(Array.from(emb.subarray(0, 8))).toEqual(Array.from(p2.tensors.get("model.embed_tokens.weight")!.subarray(16, 24)));
  });

  it("elementwise methods merge large tensors chunk by chunk with the same result", async () => {
    const big1 = await makeModel(path.join(root, "big1"), { seed: 21, layers: 1, hidden: 64, inter: 1100 });
    const big2 = await makeModel(path.join(root, "big2"), { seed: 22, layers: 1, hidden: 64, inter: 1100 });
    const out = path.join(root, "big-out");
    await runMerge({ baseDir: root, outDir: out, config: "merge_method: linear\nmodels: [{model: big1, parameters: {weight: 0.25}}, {model: big2, parameters: {weight: 0.5}}]\n" });
    const merged = await readAll(out);
    const name = "model.layers.0.mlp.gate_proj.weight";
    const x = big1.tensors.get(name)!;
    const y = big2.tensors.get(name)!;
    expect(x.length).toBeGreaterThan(65536);
    const got = merged.get(name)!;
    for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo((0.25 * x[i] + 0.5 * y[i]) / 0.75, 6);
  });

  it("bf16 linear merges (the fused kernel, reused buffers, workers) write the in-memory path's bytes", async () => {
    for (const [i, seed] of [41, 42, 43].entries()) await makeModel(path.join(root, `bf${i}`), { seed, layers: 2, hidden: 64, inter: 1100, dtype: "BF16" });
    const three = "merge_method: linear\nmodels: [{model: bf0, parameters: {weight: 0.7}}, {model: bf1, parameters: {weight: -0.2}}, {model: bf2, parameters: {weight: 1.5}}]\n";
    const two = "merge_method: linear\nmodels: [{model: bf0, parameters: {weight: 1}}, {model: bf1, parameters: {weight: 3}}]\nparameters: {normalize: false}\n";
    for (const [label, cfg] of [["three", three], ["two", two]]) {
      const whole = path.join(root, `bf-${label}-whole`);
      await runMerge({ baseDir: root, outDir: whole, config: cfg, inMemory: true });
      const expected = await fs.readFile(path.join(whole, "model.safetensors"));
      for (const threads of [1, 2]) {
        const out = path.join(root, `bf-${label}-${threads}`);
        await runMerge({ baseDir: root, outDir: out, config: cfg, threads });
        expect((await fs.readFile(path.join(out, "model.safetensors"))).equals(expected), `${label} models, ${threads} thread(s)`).toBe(true);
      }
    }
  });

  it("task-vector methods: chunked merging writes the same bytes as the in-memory path", async () => {
    const big1 = await makeModel(path.join(root, "tv1"), { seed: 31, layers: 1, hidden: 64, inter: 1100 });
    await makeModel(path.join(root, "tv2"), { seed: 32, layers: 1, hidden: 64, inter: 1100, from: big1.tensors, noise: 0.01 });
    await makeModel(path.join(root, "tv3"), { seed: 33, layers: 1, hidden: 64, inter: 1100, from: big1.tensors, noise: 0.01 });
    for (const [method, extra] of [["ties", ""], ["dare_ties", ""], ["breadcrumbs_ties", ", gamma: 0.02"], ["della", ", epsilon: 0.1"]]) {
      const cfg = `merge_method: ${method}\nbase_model: tv1\nmodels: [{model: tv2, parameters: {weight: 0.7, density: 0.3${extra}}}, {model: tv3, parameters: {weight: 0.5, density: 0.6${extra}}}]\n`;
      const chunked = path.join(root, `tv-${method}-chunked`);
      const whole = path.join(root, `tv-${method}-whole`);
      await runMerge({ baseDir: root, outDir: chunked, config: cfg, seed: 4, threads: 2 });
      await runMerge({ baseDir: root, outDir: whole, config: cfg, seed: 4, inMemory: true });
      expect(big1.tensors.get("model.layers.0.mlp.up_proj.weight")!.length).toBeGreaterThan(65536);
      const x = await fs.readFile(path.join(chunked, "model.safetensors"));
      const y = await fs.readFile(path.join(whole, "model.safetensors"));
      expect(x.equals(y), method).toBe(true);
    }
  });

  it("chat_template and out_dtype reach the output", async () => {
    const out = path.join(root, "chat");
    await runMerge({ baseDir: root, outDir: out, config: "merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}]\nout_dtype: float16\nchat_template: chatml\n" });
    const tc = JSON.parse(await fs.readFile(path.join(out, "tokenizer_config.json"), "utf8"));
    expect(tc.chat_template).toContain("<|im_start|>");
    expect(tc.model_max_length).toBe(64);
    const src = await openHfWeights(out);
    expect(src.info("model.norm.weight")!.dtype).toBe("F16");
    await src.close();
  });

  it("dry run validates and writes nothing", async () => {
    const out = path.join(root, "dry");
    const r = await runMerge({ config: ties, baseDir: root, outDir: out, dryRun: true });
    expect(r.tensors).toBe(base.shapes.size);
    await expect(fs.stat(out)).rejects.toThrow();
  });
});

describe("bad input: a clear error and no output directory", () => {
  async function expectFailure(config: string, kind: typeof ConfigError | typeof InputFileError, pattern: RegExp) {
    const out = path.join(root, "bad-" + Math.random().toString(36).slice(2));
    const error = await runMerge({ config, baseDir: root, outDir: out }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(kind);
    expect((error as Error).message).toMatch(pattern);
    await expect(fs.stat(out)).rejects.toThrow();
    expect((await fs.readdir(root)).filter((f) => f.startsWith(".bad-"))).toEqual([]);
  }

  it("missing model folders are all named", async () => {
    await expectFailure("merge_method: linear\nmodels: [{model: nope1, parameters: {weight: 1}}, {model: nope2, parameters: {weight: 1}}]\n", ConfigError, /nope1[\s\S]*nope2/);
  });

  it("a missing base for a method that needs one", async () => {
    await expectFailure("merge_method: ties\nmodels: [{model: a, parameters: {weight: 1}}]\n", ConfigError, /ties needs base_model/);
  });

  it("missing required parameters and out-of-range values", async () => {
    await expectFailure("merge_method: ties\nbase_model: base\nmodels: [{model: a}, {model: b, parameters: {weight: 1, density: 1.5}}]\n", ConfigError, /missing required parameter 'weight' for model a[\s\S]*density/);
  });

  it("mismatched shapes", async () => {
    await makeModel(path.join(root, "wide"), { seed: 11, hidden: 12 });
    await expectFailure("merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}, {model: wide, parameters: {weight: 1}}]\n", ConfigError, /incompatible: their hidden sizes differ/);
  });

  it("NaN weights", async () => {
    const dir = path.join(root, "nan");
    const fx = await makeModel(dir, { seed: 12 });
    void fx;
    const file = path.join(dir, "model.safetensors");
    const bytes = await fs.readFile(file);
    const headerLen = Number(bytes.readBigUInt64LE(0));
    bytes.writeFloatLE(NaN, 8 + headerLen + 40);
    await fs.writeFile(file, bytes);
    await expectFailure("merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}, {model: nan, parameters: {weight: 1}}]\n", InputFileError, /contains NaN/);
  });

  it("a corrupt config.json of an input is named, never read as \"no config\"", async () => {
    const dir = path.join(root, "badcfg");
    await makeModel(dir, { seed: 14 });
    await fs.writeFile(path.join(dir, "config.json"), '{"architectures": ["LlamaForCausalLM"], "hidden_');
    await expectFailure("merge_method: linear\nmodels: [{model: badcfg, parameters: {weight: 1}}, {model: a, parameters: {weight: 1}}]\n", ConfigError, /badcfg.config\.json: not valid JSON/);
  });

  it("a tokenizer file that exists but cannot be copied fails the merge", async () => {
    const dir = path.join(root, "badtok");
    await makeModel(dir, { seed: 15 });
    await fs.rm(path.join(dir, "tokenizer_config.json"));
    await fs.mkdir(path.join(dir, "tokenizer_config.json"));
    await expectFailure("merge_method: linear\nmodels: [{model: badtok, parameters: {weight: 1}}, {model: a, parameters: {weight: 1}}]\n", InputFileError, /badtok.tokenizer_config\.json: cannot be copied/);
  });

  it("a corrupt (truncated) shard", async () => {
    const dir = path.join(root, "trunc");
    await makeModel(dir, { seed: 13 });
    const file = path.join(dir, "model.safetensors");
    const bytes = await fs.readFile(file);
    await fs.writeFile(file, bytes.subarray(0, bytes.length - 100));
    await expectFailure("merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}, {model: trunc, parameters: {weight: 1}}]\n", ConfigError, /trunc/);
  });
});
