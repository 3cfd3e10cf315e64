import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputFileError } from "../../../src/core/errors.js";
import { assertLoadableByLlamaCpp, checkLlamaCppRequirements } from "../../../src/formats/gguf/llama-check.js";
import { openGguf } from "../../../src/formats/gguf/reader.js";
import { ggufValue } from "../../../src/formats/gguf/values.js";
import { tempDir } from "./helpers.js";
import { tinyLlama, writeTinyLlama, type TinyLlama } from "./tiny-llama.js";

let dir = "";
let cleanup: () => Promise<void> = async () => {};
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(() => cleanup());

let counter = 0;
async function problemsOf(model: TinyLlama): Promise<string[]> {
  const file = path.join(dir, `m${counter++}.gguf`);
  await writeTinyLlama(file, model);
  const g = await openGguf(file);
  try {
    return checkLlamaCppRequirements(g);
  } finally {
    await g.close();
  }
}

function edit(change: (m: TinyLlama) => void, arch: "llama" | "qwen2" = "llama"): TinyLlama {
  const m = tinyLlama(arch);
  change(m);
  return m;
}

const reshape = (m: TinyLlama, name: string, shape: number[]): void => {
  m.plan.find((t) => t.name === name)!.shape = shape;
};

describe("llama.cpp loadability check", () => {
  it("accepts complete minimal llama and qwen2 files, with or without a separate output matrix", async () => {
    expect(await problemsOf(tinyLlama())).toEqual([]);
    expect(await problemsOf(tinyLlama("qwen2"))).toEqual([]);
    expect(await problemsOf(edit((m) => (m.plan = m.plan.filter((t) => t.name !== "output.weight"))))).toEqual([]);
    const perLayer = edit((m) => m.metadata.set("llama.feed_forward_length", ggufValue.array("u32", [16, 16])));
    expect(await problemsOf(perLayer)).toEqual([]);
  });

  it("checks mixture-of-experts keys and asks for the router and stacked expert tensors", async () => {
    const moe = await problemsOf(edit((m) => {
      m.metadata.set("llama.expert_count", ggufValue.u32(2));
      m.metadata.set("llama.expert_used_count", ggufValue.u32(0));
    }));
    expect(moe).toContain("'llama.expert_used_count' must be at least 1 when 'llama.expert_count' is 2");
    expect(moe).toContain("missing tensor 'blk.0.ffn_gate_inp.weight'");
    expect(moe).toContain("missing tensor 'blk.1.ffn_down_exps.weight'");
    const tooMany = await problemsOf(edit((m) => {
      m.metadata.set("llama.expert_count", ggufValue.u32(300));
      m.metadata.set("llama.expert_used_count", ggufValue.u32(400));
    }));
    expect(tooMany).toContain("'llama.expert_count' is 300; llama.cpp allows at most 256 experts");
    expect(tooMany).toContain("'llama.expert_used_count' (400) is larger than 'llama.expert_count' (300)");
    const usedAlone = await problemsOf(edit((m) => m.metadata.set("llama.expert_used_count", ggufValue.u32(2))));
    expect(usedAlone).toContain("'llama.expert_used_count' (2) is larger than 'llama.expert_count' (0)");
  });

  it("reports each missing hyperparameter key", async () => {
    for (const key of ["llama.context_length", "llama.embedding_length", "llama.feed_forward_length",
      "llama.attention.head_count", "llama.attention.layer_norm_rms_epsilon", "tokenizer.ggml.model", "tokenizer.ggml.tokens"]) {
      expect(await problemsOf(edit((m) => m.metadata.delete(key)))).toContain(`missing metadata key '${key}'`);
    }
    expect(await problemsOf(edit((m) => m.metadata.delete("llama.block_count")))).toEqual([
      "missing metadata key 'llama.block_count'",
      "cannot check per-block keys and tensors without 'llama.block_count'",
    ]);
    expect(await problemsOf(edit((m) => m.metadata.delete("general.architecture")))).toEqual(["missing metadata key 'general.architecture'"]);
    // head_count_kv is optional (defaults to head_count): the k/v shapes are then wrong for this file.
    const noKv = await problemsOf(edit((m) => m.metadata.delete("llama.attention.head_count_kv")));
    expect(noKv).toContain("tensor 'blk.0.attn_k.weight' has shape [4, 8], expected [8, 8]");
  });

  it("reports wrong types, zero values and inconsistent head counts", async () => {
    expect(await problemsOf(edit((m) => m.metadata.set("llama.context_length", ggufValue.string("64")))))
      .toContain("'llama.context_length' must be an integer, found string");
    expect(await problemsOf(edit((m) => m.metadata.set("llama.embedding_length", ggufValue.u32(0)))))
      .toContain("'llama.embedding_length' must be positive, found 0");
    expect(await problemsOf(edit((m) => m.metadata.set("llama.attention.head_count_kv", ggufValue.u32(3)))))
      .toContain("head_count 2 is not a multiple of head_count_kv 3 (block 0)");
    expect(await problemsOf(edit((m) => m.metadata.set("llama.attention.head_count", ggufValue.u32(3)))))
      .toContain("embedding_length 8 is not a multiple of head_count 3");
    expect(await problemsOf(edit((m) => m.metadata.set("llama.feed_forward_length", ggufValue.array("u32", [16])))))
      .toContain("'llama.feed_forward_length' has 1 entries but block_count is 2");
  });

  it("reports tokenizer problems and special token ids outside the vocabulary", async () => {
    expect(await problemsOf(edit((m) => m.metadata.set("tokenizer.ggml.eos_token_id", ggufValue.u32(263)))))
      .toEqual(["'tokenizer.ggml.eos_token_id' is 263, outside the vocabulary of 263 tokens"]);
    expect(await problemsOf(edit((m) => m.metadata.set("tokenizer.ggml.padding_token_id", ggufValue.i32(-1)))))
      .toEqual(["'tokenizer.ggml.padding_token_id' is -1, outside the vocabulary of 263 tokens"]);
    expect(await problemsOf(edit((m) => m.metadata.set("tokenizer.ggml.scores", ggufValue.array("f32", [0, 1])))))
      .toEqual(["'tokenizer.ggml.scores' has 2 entries but there are 263 tokens"]);
    expect(await problemsOf(edit((m) => m.metadata.set("tokenizer.ggml.token_type", ggufValue.array("u8", [1])))))
      .toEqual(["'tokenizer.ggml.token_type' must be an array of i32"]);
    expect(await problemsOf(edit((m) => m.metadata.set("tokenizer.ggml.model", ggufValue.string("gpt2"))))).toEqual([
      "the gpt2 tokenizer needs the byte-level newline token 'Ċ' in 'tokenizer.ggml.tokens'",
      "missing metadata key 'tokenizer.ggml.merges' (required by the gpt2 tokenizer)",
    ]);
    const noBytes = edit((m) => {
      const tokens = m.metadata.get("tokenizer.ggml.tokens")!.value as string[];
      m.metadata.set("tokenizer.ggml.tokens", ggufValue.array("string", tokens.map((t) => (t === "<0x0A>" || t === "<0xFF>" ? t + "?" : t))));
    });
    expect(await problemsOf(noBytes)).toEqual(["the llama tokenizer lacks byte-fallback tokens <0x0A>, <0xFF>; llama.cpp aborts on text that needs them"]);
    expect(await problemsOf(edit((m) => m.metadata.set("tokenizer.ggml.model", ggufValue.string("wordpiece")))))
      .toEqual(['\'tokenizer.ggml.model\' must be "llama" or "gpt2", found "wordpiece"']);
    expect(await problemsOf(edit((m) => m.metadata.set("tokenizer.ggml.tokens", ggufValue.array("u32", [1])))))
      .toContain("'tokenizer.ggml.tokens' must be an array of strings, found array<u32>");
  });

  it("reports missing tensors and wrong shapes", async () => {
    expect(await problemsOf(edit((m) => (m.plan = m.plan.filter((t) => t.name !== "blk.1.ffn_down.weight")))))
      .toEqual(["missing tensor 'blk.1.ffn_down.weight'"]);
    expect(await problemsOf(edit((m) => reshape(m, "token_embd.weight", [8, 263]))))
      .toEqual(["tensor 'token_embd.weight' has shape [8, 263], expected [263, 8]"]);
    expect(await problemsOf(edit((m) => reshape(m, "blk.0.ffn_up.weight", [8, 16]))))
      .toEqual(["tensor 'blk.0.ffn_up.weight' has shape [8, 16], expected [16, 8]"]);
    expect(await problemsOf(edit((m) => reshape(m, "blk.1.attn_norm.weight", [8, 1]))))
      .toEqual(["tensor 'blk.1.attn_norm.weight' has shape [8, 1], expected [8]"]);
    expect(await problemsOf(edit((m) => reshape(m, "output.weight", [5, 8]))))
      .toEqual(["tensor 'output.weight' has shape [5, 8], expected [263, 8]"]);
    expect(await problemsOf(edit((m) => (m.plan = m.plan.filter((t) => t.name !== "blk.0.attn_k.bias")), "qwen2")))
      .toEqual(["missing tensor 'blk.0.attn_k.bias'"]);
    expect(await problemsOf(edit((m) => m.plan.push({ name: "blk.2.attn_norm.weight", dtype: "F32", shape: [8] }))))
      .toEqual(["tensor 'blk.2.attn_norm.weight' belongs to block 2 but block_count is 2"]);
  });

  it("assertLoadableByLlamaCpp throws an InputFileError naming the file and listing every problem", async () => {
    const file = path.join(dir, "broken.gguf");
    await writeTinyLlama(file, edit((m) => {
      m.metadata.delete("llama.feed_forward_length");
      m.metadata.delete("llama.attention.head_count");
    }));
    const g = await openGguf(file);
    const error = (() => { try { assertLoadableByLlamaCpp(g); } catch (e) { return e; } })();
    await g.close();
    expect(error).toBeInstanceOf(InputFileError);
    const message = (error as InputFileError).message;
    expect(message).toContain(`${file}: llama.cpp cannot load this file:`);
    expect(message).toContain("missing metadata key 'llama.feed_forward_length'");
    expect(message).toContain("missing metadata key 'llama.attention.head_count'");
  });

  it("reports tensor data not laid out the way ggml requires", () => {
    const t = (name: string, offset: number, byteLength: number) =>
      ({ name, offset, byteLength, dtype: "F32" as const, shape: [byteLength / 4], ne: [byteLength / 4], ggmlType: 0 });
    const file = { metadata: new Map(), alignment: 32, list: () => [t("a", 0, 8), t("b", 64, 8)] };
    expect(checkLlamaCppRequirements(file)).toContain("tensor 'b' has data offset 64; ggml requires 32 (tensors stored in order, each padded to 32)");
  });
});
