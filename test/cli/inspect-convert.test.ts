import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTinyLlama, tempDir, type TinyLlama } from "../fixtures/tiny-llama.js";
import { capture } from "./capture.js";

let root: string;
let tiny: TinyLlama;

beforeAll(async () => {
  root = await tempDir();
  tiny = await makeTinyLlama(root, "byte-level");
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe("cogen convert and cogen inspect", () => {
  it("converts a folder to GGUF and back, and inspects both as JSON", async () => {
    const gguf = path.join(root, "m.gguf");
    expect((await capture(["convert", tiny.dir, gguf, "--dtype", "f16", "--json"])).code).toBe(0);
    const inspected = JSON.parse((await capture(["inspect", gguf, "--json"])).out);
    expect(inspected.format).toBe("gguf");
    expect(inspected.architecture).toBe("llama");
    expect(inspected.metadata["llama.block_count"]).toBe(2);
    expect(inspected.tensors.find((t: { name: string }) => t.name === "blk.0.attn_q.weight")).toMatchObject({ dtype: "F16", shape: [32, 32], bytes: 2048 });
    expect(inspected.tensors.find((t: { name: string }) => t.name === "blk.0.attn_norm.weight").dtype).toBe("F32");
    expect(inspected.metadata["tokenizer.ggml.tokens"].length).toBe(tiny.config.vocabSize);

    const back = path.join(root, "back");
    expect((await capture(["convert", gguf, back, "--json"])).code).toBe(0);
    const folder = JSON.parse((await capture(["inspect", back, "--json"])).out);
    expect(folder.format).toBe("hf");
    expect(folder.architecture).toBe("LlamaForCausalLM");
    expect(folder.totals.parameters).toBe(inspected.totals.parameters);
    expect(folder.tensors.find((t: { name: string }) => t.name === "model.layers.0.self_attn.q_proj.weight").dtype).toBe("F16");
  });

  it("prints a table with totals", async () => {
    const { code, out } = await capture(["inspect", tiny.dir]);
    expect(code).toBe(0);
    expect(out).toMatch(/model\.embed_tokens\.weight\s+F32\s+\[\d+, 32\]/);
    expect(out).toMatch(/total: \d+ tensors, [\d,]+ parameters/);
  });

  it("fails with a clear message and leaves no output on bad input", async () => {
    const noTokenizer = path.join(root, "no-tokenizer");
    await fs.cp(tiny.dir, noTokenizer, { recursive: true });
    await fs.rm(path.join(noTokenizer, "tokenizer.json"));
    const target = path.join(root, "never.gguf");
    const missing = await capture(["convert", noTokenizer, target]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("tokenizer.json");
    await expect(fs.stat(target)).rejects.toThrow();

    const wrongArch = path.join(root, "wrong-arch");
    await fs.cp(tiny.dir, wrongArch, { recursive: true });
    const config = JSON.parse(await fs.readFile(path.join(wrongArch, "config.json"), "utf8"));
    await fs.writeFile(path.join(wrongArch, "config.json"), JSON.stringify({ ...config, architectures: ["GPT2LMHeadModel"] }));
    const arch = await capture(["convert", wrongArch, target]);
    expect(arch.err).toMatch(/GPT2LMHeadModel.*not supported/);
    await expect(fs.stat(target)).rejects.toThrow();

    const dtype = await capture(["convert", tiny.dir, target, "--dtype", "q3"]);
    expect(dtype.err).toContain("--dtype must be one of");
    expect((await capture(["convert", tiny.dir, target, "--dtype", "q5_k_mm"])).err).toMatch(/q4_k_m, .*did you mean .q5_k_m/);
    expect((await capture(["inspect", path.join(root, "nothing-here")])).err).toContain("no such file");
    expect((await capture(["convert", "--bogus"])).err).toContain("bogus");
  });

  it("inspect reports a truncated config.json and exits non-zero", async () => {
    const corrupt = path.join(root, "corrupt-config");
    await fs.cp(tiny.dir, corrupt, { recursive: true });
    const text = await fs.readFile(path.join(corrupt, "config.json"), "utf8");
    await fs.writeFile(path.join(corrupt, "config.json"), text.slice(0, Math.floor(text.length / 2)));
    const result = await capture(["inspect", corrupt, "--json"]);
    expect(result.code).not.toBe(0);
    expect(result.err).toMatch(/corrupt-config.config\.json: not valid JSON/);
    expect(result.out).toBe("");
  });

  it("inspect and convert both say a text file named .gguf (or .safetensors) is not one, never an absurd header length", async () => {
    const text = "general:\n  name: not a model at all\n";
    for (const name of ["notes.gguf", "hi.gguf"]) {
      const file = path.join(root, name);
      await fs.writeFile(file, name === "hi.gguf" ? "hi\n" : text);
      for (const argv of [["inspect", file], ["convert", file, path.join(root, "never-hf")]]) {
        const result = await capture(argv);
        expect(result.code).toBe(1);
        expect(result.err).toMatch(new RegExp(`^cogen ${argv[0]}: .*${name}: not a GGUF file: expected magic bytes 47 47 55 46`));
        expect(result.err).not.toMatch(/header length|truncated/);
      }
    }
    const fake = path.join(root, "notes.safetensors");
    await fs.writeFile(fake, text);
    const result = await capture(["inspect", fake]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/notes\.safetensors: not a safetensors file: it starts with text \("general:"\)/);
  });
});
