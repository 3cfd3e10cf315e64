import { describe, expect, it } from "vitest";
import { parseLlamaConfig } from "../../src/formats/hf/config.js";
import { deinterleaveRotaryRows, ggufToHfName, hfToGgufName, interleaveRotaryRows, permuteRowBytes } from "../../src/formats/hf/llama-tensors.js";
import { vocabFromTokenizerJson } from "../../src/formats/hf/tokenizer.js";
import { byteLevelToBytes, bytesToByteLevel } from "../../src/formats/hf/byte-level.js";

const base = {
  architectures: ["LlamaForCausalLM"], hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2,
  num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 300, rms_norm_eps: 1e-5,
};

describe("llama config.json", () => {
  it("parses the llama family and derives head size and defaults", () => {
    const config = parseLlamaConfig(base, "config.json");
    expect(config).toMatchObject({ headDim: 16, numKvHeads: 2, ropeTheta: 10000, tieWordEmbeddings: false, attentionBias: false });
    expect(parseLlamaConfig({ ...base, architectures: ["Qwen2ForCausalLM"] }, "c").attentionBias).toBe(true);
  });

  it("reports every problem at once, naming the file and the field", () => {
    const bad = { ...base, architectures: ["BertModel"], hidden_size: -1, num_key_value_heads: 3, rope_scaling: { type: "yarn" } };
    expect(() => parseLlamaConfig(bad, "m/config.json")).toThrow(
      /m\/config\.json: .*BertModel.*not supported.*"hidden_size" must be a positive integer.*multiple of num_key_value_heads.*rope_scaling/,
    );
  });
});

describe("tensor names and the rotary permutation", () => {
  it("maps names both ways", () => {
    expect(hfToGgufName("model.layers.3.self_attn.k_proj.weight")).toBe("blk.3.attn_k.weight");
    expect(hfToGgufName("lm_head.weight")).toBe("output.weight");
    expect(ggufToHfName("blk.10.ffn_down.weight")).toBe("model.layers.10.mlp.down_proj.weight");
    expect(hfToGgufName("model.layers.0.mystery.weight")).toBeUndefined();
  });

  it("interleaves the two halves of each head and inverts exactly", () => {
    // One head of dimension 4, one column: half-split rows [a0 a1 | b0 b1] → pairs [a0 b0 a1 b1].
    expect([...interleaveRotaryRows(Float32Array.of(0, 1, 2, 3), 1, 1)]).toEqual([0, 2, 1, 3]);
    // Two heads of dimension 4.
    expect([...interleaveRotaryRows(Float32Array.of(0, 1, 2, 3, 4, 5, 6, 7), 2, 1)]).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
    const data = Float32Array.from({ length: 8 * 16 * 3 }, (_, i) => i);
    expect([...deinterleaveRotaryRows(interleaveRotaryRows(data, 8, 3), 8, 3)]).toEqual([...data]);
    // The byte form agrees with the float form.
    const bytes = new Uint8Array(data.buffer.slice(0));
    expect(new Float32Array(permuteRowBytes(bytes, 8, 12, true).buffer)).toEqual(interleaveRotaryRows(data, 8, 3));
    expect(() => interleaveRotaryRows(new Float32Array(6), 2, 1)).toThrow(/even/);
  });
});

describe("tokenizer.json → GGUF vocabulary", () => {
  it("maps GPT-2 bytes to printable characters and back", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const text = bytesToByteLevel(all);
    expect([...text].length).toBe(256);
    expect(bytesToByteLevel(new TextEncoder().encode(" a\n"))).toBe("ĠaĊ");
    expect([...byteLevelToBytes(text)!]).toEqual([...all]);
  });

  it("rejects tokenizers llama.cpp could not reproduce, naming the file", () => {
    expect(() => vocabFromTokenizerJson({ model: { type: "WordPiece", vocab: {} } }, undefined, "t.json")).toThrow(/t\.json: only BPE/);
    const gaps = { model: { type: "BPE", vocab: { a: 0, b: 2 }, merges: [] }, pre_tokenizer: { type: "ByteLevel" } };
    expect(() => vocabFromTokenizerJson(gaps, undefined, "t.json")).toThrow(/id 1 is missing/);
    const split = { model: { type: "BPE", vocab: { a: 0 }, merges: [] }, pre_tokenizer: { type: "Split", pattern: { Regex: "x" } } };
    expect(() => vocabFromTokenizerJson(split, undefined, "t.json")).toThrow(/t\.json: .*not an isolating regex split/);
    const badMerge = { model: { type: "BPE", vocab: { a: 0 }, merges: ["a b c"] }, pre_tokenizer: { type: "ByteLevel" } };
    expect(() => vocabFromTokenizerJson(badMerge, undefined, "t.json")).toThrow(/merge 0/);
  });
});
