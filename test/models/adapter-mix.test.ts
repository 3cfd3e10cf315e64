import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { openAdapterMix } from "../../src/models/llamacpp/adapter-mix.js";
import { createLlamaCppModel } from "../../src/models/llamacpp/model.js";
import { llamaCppTokenize, referenceDistributions } from "../../src/models/llamacpp/parity.js";
import { readLlamaConfig } from "../../src/formats/hf/config.js";
import { openGguf } from "../../src/formats/gguf/reader.js";
import { getGgufNumber } from "../../src/formats/gguf/values.js";

const ZOO = path.resolve(import.meta.dirname, "../../zoo");
const BASE_HF = path.join(ZOO, "a/base/hf");
const BASE_GGUF = path.join(ZOO, "a/base/model.gguf");
const LAW = path.join(ZOO, "a/experts/law/lora.gguf");
const LONG = "A contract is an agreement between parties that the law will enforce. ".repeat(6);

describe("openAdapterMix (zoo base-a, context 64)", () => {
  it("scores a text longer than the context in fresh windows, as the reference forward pass does", async () => {
    const config = await readLlamaConfig(BASE_HF);
    expect(config.maxPositions).toBe(64);
    const gguf = await openGguf(BASE_GGUF);
    const bos = getGgufNumber(gguf.metadata, "tokenizer.ggml.bos_token_id")!;
    await gguf.close();
    const tokens = [bos, ...(await llamaCppTokenize(BASE_GGUF, LONG))];
    expect(tokens.length).toBeGreaterThan(2 * 64);
    // Windows of 64 tokens overlapping by one; each predicts its tokens after the first.
    let expected = 0;
    for (let from = 0; from + 1 < tokens.length; from += 63) {
      const segment = tokens.slice(from, from + 64);
      const dists = await referenceDistributions(BASE_HF, segment);
      for (let i = 0; i < segment.length - 1; i++) expected -= Math.log2(dists[i][segment[i + 1]]);
    }
    const mix = await openAdapterMix(BASE_GGUF, [LAW]);
    try {
      const scored = await mix.score([{ context: "", target: LONG }], [0]);
      expect(scored.bytes).toBe(Buffer.byteLength(LONG));
      expect(scored.bits).toBeCloseTo(expected, 1);
      // The adapter at scale 1 changes the score; scale 0 is the base.
      const adapted = await mix.score([{ context: "", target: LONG }], [1]);
      expect(Math.abs(adapted.bits - scored.bits)).toBeGreaterThan(1);
    } finally {
      await mix.close();
    }
  });

  it("scores only the output after an input", async () => {
    const mix = await openAdapterMix(BASE_GGUF, [LAW]);
    try {
      const whole = await mix.score([{ context: "", target: "The court ruled for the tenant." }], [0]);
      const part = await mix.score([{ context: "The court ruled", target: " for the tenant." }], [0]);
      expect(part.bytes).toBe(Buffer.byteLength(" for the tenant."));
      expect(part.bits).toBeLessThan(whole.bits);
      await expect(mix.score([{ context: "", target: "x" }], [0, 1])).rejects.toThrow(/2 scales for 1 adapters/);
    } finally {
      await mix.close();
    }
  });

  it("starts a text as the llama.cpp backend does: BOS before an empty input only, since base-a's GGUF adds none", async () => {
    const mix = await openAdapterMix(BASE_GGUF, [LAW]);
    const model = await createLlamaCppModel({ id: "a/base", path: BASE_GGUF, threads: 1 });
    try {
      expect(model.model.tokens.shouldPrependBosToken).toBe(false);
      for (const [context, target] of [["The court ruled", " for the tenant."], ["", "The court ruled for the tenant."]]) {
        const scored = await mix.score([{ context, target }], [0]);
        const ll = await model.logLikelihood(context, target);
        expect(scored.bits * Math.LN2, context).toBeCloseTo(-ll.logprob, 2);
      }
      // One token more for the empty input: its start token.
      expect(mix.tokenCount({ context: "", target: "The court" })).toBe((await model.tokenize("The court")).length + 1);
      expect(mix.tokenCount({ context: "The", target: " court" })).toBe((await model.tokenize("The court")).length);
    } finally {
      await mix.close();
      await model.close();
    }
  });
});
