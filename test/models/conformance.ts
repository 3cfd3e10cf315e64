/**
 * The shared LanguageModel conformance suite: every backend (and every composite) runs it.
 * `open` creates a fresh model; `contexts` are prompts the model's vocabulary can represent.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateText, utf8Length, type LanguageModel } from "../../src/core/language-model.js";

export interface ConformanceOptions {
  open: () => Promise<LanguageModel>;
  /** Contexts to probe with (non-empty, within the vocabulary). */
  contexts: string[];
  /** The backend exposes token ids (tokenize/detokenize). */
  tokenIds: boolean;
}

export function languageModelConformance(name: string, options: ConformanceOptions): void {
  describe(`LanguageModel conformance: ${name}`, () => {
    let model: LanguageModel;
    beforeAll(async () => {
      model = await options.open();
    });
    afterAll(async () => {
      await model.close();
    });

    it("has a non-empty id", () => {
      expect(typeof model.id).toBe("string");
      expect(model.id.length).toBeGreaterThan(0);
    });

    it("ranks next tokens by log-probability, a distribution's top k", async () => {
      for (const context of options.contexts) {
        const top = await model.nextTokenLogprobs(context, 5);
        expect(top.length).toBeGreaterThan(0);
        expect(top.length).toBeLessThanOrEqual(5);
        for (let i = 1; i < top.length; i++) expect(top[i].logprob).toBeLessThanOrEqual(top[i - 1].logprob);
        for (const t of top) expect(t.logprob).toBeLessThanOrEqual(1e-9);
        expect(top.reduce((s, t) => s + Math.exp(t.logprob), 0)).toBeLessThanOrEqual(1 + 1e-6);
        if (options.tokenIds) for (const t of top) expect(Number.isInteger(t.token)).toBe(true);
      }
    });

    it("agrees between nextTokenLogprobs, logLikelihood and greedy generation", async () => {
      let checked = 0;
      for (const context of options.contexts) {
        const top = await model.nextTokenLogprobs(context, 3);
        for (const [rank, candidate] of top.entries()) {
          // Partial UTF-8 pieces (U+FFFD) cannot be fed back as text.
          if (candidate.text === "" || candidate.text.includes("\uFFFD")) continue;
          const ll = await model.logLikelihood(context, candidate.text);
          expect(ll.bytes).toBe(utf8Length(candidate.text));
          if (ll.tokens !== 1) continue; // the text re-tokenizes differently after this context
          expect(ll.logprob).toBeCloseTo(candidate.logprob, 4);
          expect(ll.greedy).toBe(rank === 0 || candidate.logprob === top[0].logprob);
          checked++;
        }
        const { text } = await generateText(model, context, { maxTokens: 4, temperature: 0 });
        if (text === "" || text.includes("\uFFFD")) continue;
        const ll = await model.logLikelihood(context, text);
        expect(ll.greedy).toBe(true);
        expect(ll.tokens).toBeGreaterThan(0);
        expect(ll.logprob).toBeLessThanOrEqual(0);
      }
      expect(checked).toBeGreaterThan(0);
    });

    it("gives a non-greedy continuation a lower log-likelihood than the greedy one", async () => {
      const context = options.contexts[0];
      const top = await model.nextTokenLogprobs(context, 5);
      const best = await model.logLikelihood(context, top[0].text);
      const worse = await model.logLikelihood(context, top[top.length - 1].text);
      expect(best.logprob).toBeGreaterThanOrEqual(worse.logprob);
      expect(best.greedy).toBe(true);
      if (top.length > 1 && top[top.length - 1].logprob < top[0].logprob) expect(worse.greedy).toBe(false);
    });

    it("is deterministic with temperature 0 and respects maxTokens and stop strings", async () => {
      const context = options.contexts[0];
      const a = await generateText(model, context, { maxTokens: 6 });
      const b = await generateText(model, context, { maxTokens: 6 });
      expect(a.text).toBe(b.text);
      if (a.text.length > 2) {
        const stop = a.text.slice(1, 2);
        const cut = await generateText(model, context, { maxTokens: 6, stop: [stop] });
        expect(cut.text).toBe(a.text.slice(0, a.text.indexOf(stop)));
        expect(cut.reason).toBe("stop");
      }
      let finish;
      for await (const chunk of model.generate(context, { maxTokens: 2 })) if (chunk.type === "finish") finish = chunk;
      if (finish?.tokens !== undefined) expect(finish.tokens).toBeLessThanOrEqual(2);
    });

    it("ends a generation with exactly one finish chunk", async () => {
      const chunks = [];
      for await (const chunk of model.generate(options.contexts[0], { maxTokens: 3 })) chunks.push(chunk);
      expect(chunks.filter((c) => c.type === "finish")).toHaveLength(1);
      expect(chunks[chunks.length - 1].type).toBe("finish");
    });

    it("stops when aborted", async () => {
      const controller = new AbortController();
      controller.abort();
      const chunks = [];
      try {
        for await (const chunk of model.generate(options.contexts[0], { maxTokens: 50, signal: controller.signal })) chunks.push(chunk);
      } catch (error) {
        expect((error as Error).name).toMatch(/Abort/);
        return;
      }
      expect(chunks[chunks.length - 1]).toEqual({ type: "finish", reason: "abort" });
    });

    it.runIf(options.tokenIds)("round-trips text through tokenize/detokenize", async () => {
      for (const context of options.contexts) {
        const tokens = await model.tokenize(context);
        expect(tokens.length).toBeGreaterThan(0);
        expect(await model.detokenize(tokens)).toBe(context);
      }
    });
  });
}
