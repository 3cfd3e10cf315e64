import { describe, expect, it } from "vitest";
import { sequenceStart, vocabSequenceStart } from "../../src/formats/sequence-start.js";

describe("sequenceStart: what a scored sequence starts with", () => {
  it("puts BOS first only where the tokenizer asks, or before an empty context", () => {
    expect(sequenceStart({ addBos: true, bos: 1, eos: 2 }, false)).toEqual([1]);
    expect(sequenceStart({ addBos: true, bos: 1, eos: 2 }, true)).toEqual([1]);
    expect(sequenceStart({ addBos: false, bos: 1, eos: 2 }, false)).toEqual([]);
    expect(sequenceStart({ addBos: false, bos: 1, eos: 2 }, true)).toEqual([1]);
  });

  it("starts a document from end-of-text where the vocabulary has no BOS, and from nothing where it has neither", () => {
    expect(sequenceStart({ addBos: true, bos: null, eos: 2 }, false)).toEqual([]);
    expect(sequenceStart({ addBos: true, bos: null, eos: 2 }, true)).toEqual([2]);
    expect(sequenceStart({ addBos: false, bos: null, eos: null }, true)).toEqual([]);
  });

  it("reads a Hugging Face vocabulary: one that does not say adds no BOS", () => {
    expect(vocabSequenceStart({ addBos: true, bosId: 5, eosId: 6 }, false)).toEqual([5]);
    expect(vocabSequenceStart({ bosId: 5, eosId: 6 }, false)).toEqual([]);
    expect(vocabSequenceStart({ eosId: 6 }, true)).toEqual([6]);
  });
});
