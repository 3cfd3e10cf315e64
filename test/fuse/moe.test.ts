import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.js";
import { ConfigError } from "../../src/core/errors.js";
import { buildMoe } from "../../src/fuse/moe/build.js";
import { parseMoeConfig } from "../../src/formats/moe-config.js";
import { readLlamaConfig } from "../../src/formats/hf/config.js";
import { convertGgufToHf } from "../../src/formats/convert/gguf-to-hf.js";
import { convertHfToGguf } from "../../src/formats/convert/hf-to-gguf.js";
import { openGguf } from "../../src/formats/gguf/reader.js";
import { checkLlamaCppRequirements } from "../../src/formats/gguf/llama-check.js";
import { openHfWeights, writeSafetensorsFile } from "../../src/formats/safetensors/index.js";
import { openModel } from "../../src/models/open.js";
import { startGateway } from "../../src/serve/gateway.js";
import { POLICIES } from "../../src/serve/policies.js";
import { buildServedModels, parseUnifiedConfig } from "../../src/serve/unified-config.js";
import { llamaForward } from "../../src/models/llama-forward.js";
import { readBpeTokenizer } from "../../src/zoo/train/tokenize.js";
import { llamaCppDistributions, llamaCppTokenize, maxKl, referenceDistributions } from "../../src/models/llamacpp/parity.js";
import { makeTinyLlama, tempDir, FIXTURE_TEXT, type TinyLlama } from "../fixtures/tiny-llama.js";
import { capture } from "../cli/capture.js";

let root: string;
let base: TinyLlama;
let experts: TinyLlama[];

const CONTEXT = FIXTURE_TEXT.slice(0, 120);

beforeAll(async () => {
  root = await tempDir();
  base = await makeTinyLlama(root, "byte-fallback", { seed: 1 });
  experts = [];
  for (const seed of [11, 12, 13, 14]) experts.push(await makeTinyLlama(root, "byte-fallback", { seed }));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const PROMPTS = ["The heart pumps blood", "A contract is an agreement", "The central bank raised rates", "A compiler translates code"];

function configText(opts: { gate?: string; k?: number; models?: string[]; base?: string; extra?: string; prompts?: boolean } = {}): string {
  const models = opts.models ?? experts.map((e) => e.dir);
  return [
    `base_model: ${opts.base ?? base.dir}`,
    `gate_mode: ${opts.gate ?? "random"}`,
    `experts_per_token: ${opts.k ?? 2}`,
    ...(opts.extra ? [opts.extra] : []),
    "experts:",
    ...models.flatMap((m, i) => [`  - source_model: ${m}`, ...(opts.prompts === false ? [] : [`    positive_prompts: [${JSON.stringify(PROMPTS[i % PROMPTS.length])}]`])]),
  ].join("\n") + "\n";
}

async function hfTensors(dir: string): Promise<Map<string, Float32Array>> {
  const w = await openHfWeights(dir);
  const out = new Map<string, Float32Array>();
  for (const t of w.list()) out.set(t.name, await w.readF32(t.name));
  await w.close();
  return out;
}

describe("cogen moe: assembly", () => {
  it("writes a Mixtral folder: base attention, each expert's FFN as w1/w2/w3, a router per layer, the base's tokenizer", async () => {
    const out = path.join(root, "moe-hf");
    const report = await buildMoe({ config: configText({ gate: "hidden" }), outDir: out });
    expect(report.experts).toBe(4);
    const cfg = JSON.parse(await fs.readFile(path.join(out, "config.json"), "utf8"));
    expect(cfg.architectures).toEqual(["MixtralForCausalLM"]);
    expect(cfg.model_type).toBe("mixtral");
    expect(cfg.num_local_experts).toBe(4);
    expect(cfg.num_experts_per_tok).toBe(2);
    expect(cfg.output_router_logits).toBe(false);
    expect(await fs.readFile(path.join(out, "tokenizer.json"), "utf8")).toBe(await fs.readFile(path.join(base.dir, "tokenizer.json"), "utf8"));
    const moe = await hfTensors(out);
    const b = await hfTensors(base.dir);
    const e2 = await hfTensors(experts[2].dir);
    expect(moe.get("model.layers.1.self_attn.q_proj.weight")).toEqual(b.get("model.layers.1.self_attn.q_proj.weight"));
    expect(moe.get("model.embed_tokens.weight")).toEqual(b.get("model.embed_tokens.weight"));
    expect(moe.get("model.layers.1.block_sparse_moe.experts.2.w1.weight")).toEqual(e2.get("model.layers.1.mlp.gate_proj.weight"));
    expect(moe.get("model.layers.1.block_sparse_moe.experts.2.w2.weight")).toEqual(e2.get("model.layers.1.mlp.down_proj.weight"));
    expect(moe.get("model.layers.1.block_sparse_moe.experts.2.w3.weight")).toEqual(e2.get("model.layers.1.mlp.up_proj.weight"));
    expect(moe.has("model.layers.0.mlp.gate_proj.weight")).toBe(false);
    const gate = moe.get("model.layers.0.block_sparse_moe.gate.weight")!;
    expect(gate.length).toBe(4 * base.config.hiddenSize);
  });

  it("takes experts from GGUF files as well as HF folders", async () => {
    const out = path.join(root, "moe-from-gguf");
    const gguf = await experts[1].gguf("f32");
    await buildMoe({ config: configText({ models: [experts[0].dir, gguf] }), outDir: out });
    const moe = await hfTensors(out);
    const e1 = await hfTensors(experts[1].dir);
    expect(moe.get("model.layers.1.block_sparse_moe.experts.1.w2.weight")).toEqual(e1.get("model.layers.1.mlp.down_proj.weight"));
  });

  it("averages attention, norms and embeddings over the experts with cogen_non_expert: average", async () => {
    const out = path.join(root, "moe-avg");
    await buildMoe({ config: configText({ extra: "cogen_non_expert: average" }), outDir: out });
    const moe = await hfTensors(out);
    const all = await Promise.all(experts.map((e) => hfTensors(e.dir)));
    for (const name of ["model.layers.0.self_attn.k_proj.weight", "model.norm.weight", "lm_head.weight"]) {
      const got = moe.get(name)!;
      const want = got.map((_, i) => all.reduce((s, m) => s + m.get(name)![i], 0) / all.length);
      for (let i = 0; i < got.length; i += 7) expect(got[i]).toBeCloseTo(want[i], 6);
    }
  });

  it("initialises hidden gates from the base's residual stream: layer 0 is the last prompt token's embedding, unit norm, minus negatives", async () => {
    const out = path.join(root, "moe-gates");
    const text = [
      `base_model: ${base.dir}`, "gate_mode: hidden", "experts:",
      `  - source_model: ${experts[0].dir}`, `    positive_prompts: ["The heart", "A river"]`, `    negative_prompts: ["Bread"]`,
      `  - source_model: ${experts[1].dir}`, `    positive_prompts: ["A contract"]`,
    ].join("\n");
    await buildMoe({ config: text, outDir: out });
    const gate = (await hfTensors(out)).get("model.layers.0.block_sparse_moe.gate.weight")!;
    const embed = (await hfTensors(base.dir)).get("model.embed_tokens.weight")!;
    const tok = await readBpeTokenizer(base.dir);
    const d = base.config.hiddenSize;
    const last = (s: string) => { const ids = tok.encode(s); return embed.subarray(ids[ids.length - 1] * d, ids[ids.length - 1] * d + d); };
    const row0 = Array.from({ length: d }, (_, i) => (last("The heart")[i] + last("A river")[i]) / 2 - last("Bread")[i]);
    const norm = Math.hypot(...row0);
    for (let i = 0; i < d; i++) expect(gate[i]).toBeCloseTo(row0[i] / norm, 5);
    expect(Math.hypot(...gate.subarray(d, 2 * d))).toBeCloseTo(1, 5);
  });

  it("applies residual_scale to an expert's down projection and seeded noise_scale to its matrices", async () => {
    const out = path.join(root, "moe-scaled");
    const text = [
      `base_model: ${base.dir}`, "gate_mode: random", "experts:",
      `  - source_model: ${experts[0].dir}`, "    residual_scale: 0.5",
      `  - source_model: ${experts[1].dir}`, "    noise_scale: 0.01",
    ].join("\n");
    await buildMoe({ config: text, outDir: out, seed: 1 });
    const moe = await hfTensors(out);
    const e0 = await hfTensors(experts[0].dir);
    const e1 = await hfTensors(experts[1].dir);
    expect(moe.get("model.layers.0.block_sparse_moe.experts.0.w2.weight")).toEqual(e0.get("model.layers.0.mlp.down_proj.weight")!.map((x) => x * 0.5));
    expect(moe.get("model.layers.0.block_sparse_moe.experts.0.w1.weight")).toEqual(e0.get("model.layers.0.mlp.gate_proj.weight"));
    const noisy = moe.get("model.layers.0.block_sparse_moe.experts.1.w3.weight")!;
    const clean = e1.get("model.layers.0.mlp.up_proj.weight")!;
    const diffs = noisy.map((x, i) => x - clean[i]);
    const sd = Math.sqrt(diffs.reduce((a, d) => a + d * d, 0) / diffs.length);
    expect(sd).toBeGreaterThan(0.008);
    expect(sd).toBeLessThan(0.012);
  });

  it("writes the GGUF straight from the inputs, byte for byte the conversion of its own Hugging Face folder", async () => {
    // Covers every way a tensor is made: copied, converted (bf16 out of F32), noised and scaled,
    // a LoRA expert (merged on read), a GGUF expert, hidden-state gates; the folder holds shards.
    const d = base.config.hiddenSize;
    const lora = path.join(root, "direct-adapter");
    await fs.mkdir(lora, { recursive: true });
    await fs.writeFile(path.join(lora, "adapter_config.json"), JSON.stringify({ r: 2, lora_alpha: 2, target_modules: ["up_proj"] }));
    await writeSafetensorsFile(path.join(lora, "adapter_model.safetensors"), [
      { name: "base_model.model.model.layers.1.mlp.up_proj.lora_A.weight", dtype: "F32", shape: [2, d], data: new Float32Array(2 * d).fill(0.02) },
      { name: "base_model.model.model.layers.1.mlp.up_proj.lora_B.weight", dtype: "F32", shape: [base.config.intermediateSize, 2], data: new Float32Array(base.config.intermediateSize * 2).fill(0.03) },
    ]);
    const models = [experts[0].dir, `${base.dir}+${lora}`, await experts[2].gguf("f32"), experts[3].dir];
    for (const dtype of ["", "dtype: bfloat16"]) {
      const text = configText({ gate: "hidden", models, extra: dtype }).replace(`source_model: ${experts[3].dir}`, `source_model: ${experts[3].dir}\n    noise_scale: 0.01\n    residual_scale: 0.5`);
      const hf = path.join(root, `direct-hf${dtype ? "-bf16" : ""}`);
      const gg = path.join(root, `direct${dtype ? "-bf16" : ""}`);
      await buildMoe({ config: text, outDir: hf, seed: 4, maxShardBytes: 50_000 });
      await buildMoe({ config: text, outDir: gg, seed: 4, outFormat: "gguf" });
      expect((await fs.readdir(hf)).filter((f) => f.endsWith(".safetensors")).length).toBeGreaterThan(1);
      const converted = path.join(root, `direct-converted${dtype ? "-bf16" : ""}.gguf`);
      await convertHfToGguf(hf, converted, { name: path.basename(gg) });
      const direct = await fs.readFile(path.join(gg, "model.gguf"));
      expect(direct.length).toBeGreaterThan(100_000);
      expect(Buffer.compare(direct, await fs.readFile(converted)), dtype || "F32").toBe(0);
      expect(await fs.readdir(gg)).toEqual(["README.md", "model.gguf"]);
    }
  });

  it("computes hidden gates on worker threads bit for bit as on one thread", async () => {
    const text = [
      `base_model: ${base.dir}`, "gate_mode: hidden_avg", "experts:",
      `  - source_model: ${experts[0].dir}`, `    positive_prompts: ["The heart pumps blood", "A river"]`, `    negative_prompts: ["Bread and salt"]`,
      `  - source_model: ${experts[1].dir}`, `    positive_prompts: ["A contract is an agreement between parties"]`,
      `  - source_model: ${experts[2].dir}`, `    positive_prompts: ["The bank"]`,
    ].join("\n");
    const bytes: Buffer[] = [];
    for (const threads of [1, 2, 3]) {
      const out = path.join(root, `moe-threads-${threads}`);
      await buildMoe({ config: text, outDir: out, threads });
      bytes.push(await fs.readFile(path.join(out, "model.safetensors")));
    }
    expect(Buffer.compare(bytes[0], bytes[1])).toBe(0);
    expect(Buffer.compare(bytes[0], bytes[2])).toBe(0);
  });

  it("is deterministic: random gates from the seed, the same bytes twice", async () => {
    const a = path.join(root, "moe-seed-a");
    const b = path.join(root, "moe-seed-b");
    await buildMoe({ config: configText(), outDir: a, seed: 5 });
    await buildMoe({ config: configText(), outDir: b, seed: 5 });
    expect(Buffer.compare(await fs.readFile(path.join(a, "model.safetensors")), await fs.readFile(path.join(b, "model.safetensors")))).toBe(0);
  });
});

describe("cogen moe: llama.cpp", () => {
  it("writes a GGUF that llama.cpp runs with the TypeScript forward pass's probabilities (max KL ≤ 1e-6)", async () => {
    const hf = path.join(root, "moe-parity-hf");
    const gg = path.join(root, "moe-parity-gguf");
    // Scaled random gates spread the tokens over the experts (the fixture's hidden states are small).
    const cfg = configText({ gate: "random" });
    await buildMoe({ config: cfg, outDir: hf, seed: 3 });
    await buildMoe({ config: cfg, outDir: gg, seed: 3, outFormat: "gguf" });
    const file = path.join(gg, "model.gguf");
    const gguf = await openGguf(file);
    expect(checkLlamaCppRequirements(gguf)).toEqual([]);
    expect(gguf.list().find((t) => t.name === "blk.1.ffn_down_exps.weight")!.shape).toEqual([4, base.config.hiddenSize, base.config.intermediateSize]);
    await gguf.close();
    const tokens = (await llamaCppTokenize(file, CONTEXT)).slice(0, 48);
    const config = await readLlamaConfig(hf);
    const ours = await referenceDistributions(hf, tokens);
    const theirs = await llamaCppDistributions(file, tokens, config.vocabSize);
    const kl = maxKl(ours, theirs);
    console.info(`MoE parity: max KL(TS ‖ llama.cpp) = ${kl.toExponential(2)} over ${tokens.length} positions`);
    expect(kl).toBeLessThanOrEqual(1e-6);
    // The routing really varies: every expert is chosen somewhere, in more than one pair.
    const weights = await hfTensors(hf);
    const pairs = new Set<string>();
    llamaForward(config, (n) => weights.get(n)!, tokens, { onRouting: (_l, _p, chosen) => pairs.add([...chosen].sort().join(",")) });
    expect(new Set([...pairs].flatMap((p) => p.split(","))).size).toBe(4);
    expect(pairs.size).toBeGreaterThan(2);
  });

  it("converts the MoE GGUF back to the same Mixtral folder, bit for bit in F32", async () => {
    const hf = path.join(root, "moe-parity-hf");
    const back = path.join(root, "moe-back");
    await convertGgufToHf(path.join(root, "moe-parity-gguf", "model.gguf"), back);
    const a = await hfTensors(hf);
    const b = await hfTensors(back);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [name, data] of a) expect(b.get(name), name).toEqual(data);
    expect((await readLlamaConfig(back)).moe).toEqual({ experts: 4, expertsPerToken: 2 });
  });

  it("equals the dense model when every expert is the same dense FFN (TypeScript and llama.cpp)", async () => {
    const hf = path.join(root, "moe-same-hf");
    const gg = path.join(root, "moe-same-gguf");
    const same = [experts[0].dir, experts[0].dir, experts[0].dir];
    const cfg = configText({ base: experts[0].dir, models: same, gate: "random" });
    await buildMoe({ config: cfg, outDir: hf, seed: 9 });
    await buildMoe({ config: cfg, outDir: gg, seed: 9, outFormat: "gguf" });
    const dense = await experts[0].gguf("f32");
    const tokens = (await llamaCppTokenize(dense, CONTEXT)).slice(0, 32);
    const vocab = experts[0].config.vocabSize;
    const tsMoe = await referenceDistributions(hf, tokens);
    const tsDense = await referenceDistributions(experts[0].dir, tokens);
    expect(maxKl(tsDense, tsMoe)).toBeLessThan(1e-12);
    const cppMoe = await llamaCppDistributions(path.join(gg, "model.gguf"), tokens, vocab);
    const cppDense = await llamaCppDistributions(dense, tokens, vocab);
    expect(maxKl(cppDense, cppMoe)).toBeLessThan(1e-6);
  });
});

describe("cogen serve: a MoE GGUF is one model", () => {
  it("serves it as a `single` expert through the OpenAI-compatible gateway, with the reference forward pass's log-probabilities", async () => {
    const hf = path.join(root, "moe-serve-hf");
    const gg = path.join(root, "moe-serve-gguf");
    const cfg = configText({ gate: "hidden" });
    await buildMoe({ config: cfg, outDir: hf });
    await buildMoe({ config: cfg, outDir: gg, outFormat: "gguf" });
    const file = path.join(gg, "model.gguf");
    const unified = parseUnifiedConfig(`experts:\n  - { id: moe-x, backend: llamacpp, path: ${JSON.stringify(file)}, threads: 1 }\nserve:\n  - { id: moe-x, policy: single, members: [moe-x] }\n`, path.join(root, "unified.yml"));
    const { served, all } = await buildServedModels(unified, POLICIES, (spec) => openModel(spec));
    const gateway = await startGateway({ models: served, host: "127.0.0.1", port: 0 });
    try {
      const prompt = "The heart pumps blood through";
      const reply = await fetch(`${gateway.url}/v1/completions`, {
        method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "moe-x", prompt, max_tokens: 4, temperature: 0, echo: true, logprobs: 1 }),
      }).then((r) => r.json() as Promise<{ choices: { text: string; logprobs: { token_logprobs: (number | null)[] } }[] }>);
      const choice = reply.choices[0];
      expect(choice.text.startsWith(prompt)).toBe(true);
      const tokens = await llamaCppTokenize(file, prompt);
      const reference = await referenceDistributions(hf, tokens);
      const served = choice.logprobs.token_logprobs.slice(1, tokens.length);
      expect(served.length).toBe(tokens.length - 1);
      // Served models use llama.cpp's default F16 key/value cache (|Δp| ≈ 5e-4 on dense models too).
      served.forEach((lp, i) => expect(Math.abs(Math.exp(lp!) - reference[i][tokens[i + 1]])).toBeLessThan(2e-3));
    } finally {
      await gateway.close();
      for (const m of all) await m.close();
    }
  });
});

describe("cogen moe: bad input", () => {
  async function refused(text: string, out: string): Promise<string> {
    const error = await buildMoe({ config: text, outDir: out }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    await expect(fs.stat(out)).rejects.toThrow();
    return (error as ConfigError).message;
  }

  it("lists every config problem at once: unknown gate mode, experts_per_token too large, no prompts, shared experts", () => {
    const text = [
      "base_model: b", "gate_mode: hiden", "experts_per_token: 3", "shared_experts: [{source_model: x}]", "experts:",
      "  - source_model: e1", "  - source_model: e2", "    positive_prompts: [hi]",
    ].join("\n");
    let message = "";
    try {
      parseMoeConfig(text, "moe.yml");
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain("line 2: gate_mode: unknown gate mode \"hiden\" (did you mean 'hidden'?)");
    expect(message).toContain("experts_per_token is 3 but there are only 2 experts");
    expect(message).toContain("shared experts are not supported");
    const noPrompts = parseMoeConfigError(["base_model: b", "gate_mode: hidden", "experts:", "  - source_model: e1", "  - source_model: e2"].join("\n"));
    expect(noPrompts).toContain("gate_mode hidden needs positive_prompts for every expert (expert 0 has none)");
    expect(noPrompts).toContain("expert 1 has none");
  });

  it("refuses experts of different shapes and architectures, listing each, and leaves no output", async () => {
    const wide = await makeTinyLlama(root, "byte-fallback", { seed: 21, intermediateSize: 96 });
    const qwen = await makeTinyLlama(root, "byte-fallback", { seed: 22, architecture: "Qwen2ForCausalLM" });
    const message = await refused(configText({ models: [experts[0].dir, wide.dir, qwen.dir] }), path.join(root, "bad-shapes"));
    expect(message).toContain(`experts[1] ${wide.dir}: shape differs from the base model: intermediate_size 96 (base: 64)`);
    expect(message).toContain(`experts[2] ${qwen.dir}: architecture Qwen2ForCausalLM cannot be a Mixtral expert`);
  });

  it("refuses a base that is not the LoRA experts' base", async () => {
    const lora = path.join(root, "adapter");
    await fs.mkdir(lora, { recursive: true });
    await fs.writeFile(path.join(lora, "adapter_config.json"), JSON.stringify({ r: 2, lora_alpha: 2, target_modules: ["gate_proj"] }));
    const { hiddenSize: d, intermediateSize: ff } = base.config;
    await writeSafetensorsFile(path.join(lora, "adapter_model.safetensors"), [
      { name: "base_model.model.model.layers.0.mlp.gate_proj.lora_A.weight", dtype: "F32", shape: [2, d], data: new Float32Array(2 * d).fill(0.01) },
      { name: "base_model.model.model.layers.0.mlp.gate_proj.lora_B.weight", dtype: "F32", shape: [ff, 2], data: new Float32Array(ff * 2).fill(0.01) },
    ]);
    const ref = `${experts[0].dir}+${lora}`;
    const message = await refused(configText({ models: [ref, experts[1].dir] }), path.join(root, "bad-base"));
    expect(message).toContain(`experts[0] ${ref}: a LoRA adapter on ${experts[0].dir}, but base_model is ${base.dir}`);
  });

  it("refuses prompts longer than the base's context and names each", async () => {
    const short = await makeTinyLlama(root, "byte-fallback", { seed: 1 });
    const cfgFile = path.join(short.dir, "config.json");
    const cfg = JSON.parse(await fs.readFile(cfgFile, "utf8"));
    const shortDir = path.join(root, "short-context");
    await fs.cp(short.dir, shortDir, { recursive: true });
    await fs.writeFile(path.join(shortDir, "config.json"), JSON.stringify({ ...cfg, max_position_embeddings: 8 }));
    const long = "The heart pumps blood through the arteries and veins of the body.";
    const text = [`base_model: ${shortDir}`, "gate_mode: hidden", "experts:", `  - source_model: ${shortDir}`, `    positive_prompts: ["${long}"]`, `  - source_model: ${experts[0].dir}`, `    negative_prompts: ["${long}"]`, `    positive_prompts: ["hi"]`].join("\n");
    const message = await refused(text, path.join(root, "bad-long"));
    expect(message).toMatch(/experts\[0\]\.positive_prompts\[0\]: \d+ tokens \(BOS included\), longer than the base model's context of 8/);
    expect(message).toMatch(/experts\[1\]\.negative_prompts\[0\]: \d+ tokens/);
  });

  it("refuses to write over one of its experts (the merge's rule), even on a dry run", async () => {
    const before = await fs.readdir(experts[1].dir);
    await expect(buildMoe({ config: configText(), outDir: experts[1].dir, dryRun: true })).rejects.toThrow(/is, or holds, the input .*: writing there would delete it/);
    await expect(buildMoe({ config: configText(), outDir: experts[1].dir })).rejects.toThrow(/writing there would delete it/);
    expect(await fs.readdir(experts[1].dir)).toEqual(before);
    // The CLI says so first, instead of suggesting --force for a non-empty folder.
    const cfg = path.join(root, "over-expert.yml");
    await fs.writeFile(cfg, configText());
    const result = await capture(["moe", cfg, experts[1].dir]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^cogen moe: the output folder .* is, or holds, the input /);
  });

  it("checks without writing on a dry run", async () => {
    const out = path.join(root, "dry");
    const report = await buildMoe({ config: configText(), outDir: out, dryRun: true });
    expect(report.tensors).toBe(base.config.numLayers * (6 + 1 + 4 * 3) + 3);
    await expect(fs.stat(out)).rejects.toThrow();
  });
});

describe("cogen moe (CLI)", () => {
  it("builds with --json and --non-expert, and exits 2 (usage) with every flag problem listed", async () => {
    const cfg = path.join(root, "cli.yml");
    await fs.writeFile(cfg, configText());
    const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const code = await main(["moe", cfg, path.join(root, "cli-out"), "--json", "--non-expert", "average", "--out-format", "gguf"]);
    const printed = out.mock.calls.map((c) => String(c[0])).join("");
    out.mockRestore();
    expect(code).toBe(0);
    expect(JSON.parse(printed)).toMatchObject({ experts: 4, expertsPerToken: 2, gateMode: "random", nonExpert: "average", files: ["model.gguf", "README.md"] });
    const err = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const bad = await main(["moe", cfg, path.join(root, "cli-bad"), "--out-format", "onnx", "--non-expert", "mean", "--threads", "0"]);
    const message = err.mock.calls.flat().join("\n");
    err.mockRestore();
    expect(bad).toBe(2);
    expect(message).toContain("--out-format: expected hf or gguf, got 'onnx'");
    expect(message).toContain("--non-expert: expected base or average, got 'mean'");
    expect(message).toMatch(/--threads: .*'0'/);
  });
});

function parseMoeConfigError(text: string): string {
  try {
    parseMoeConfig(text, "moe.yml");
  } catch (e) {
    return (e as Error).message;
  }
  return "";
}
