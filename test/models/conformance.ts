/**
 * The shared LanguageModel conformance suite: every backend and every composite runs it (the
 * executable form of the contract in src/core/language-model.ts). `open` creates a fresh model;
 * `contexts` are prompts the model's vocabulary can represent. Every check counts what it
 * actually compared and fails when it compared nothing, so a model whose outputs all fall
 * through a filter cannot pass by silence.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chatInput, generateFrom } from "../../src/core/chat.js";
import { generateText, utf8Length, type LanguageModel, type TokenLogprob } from "../../src/core/language-model.js";

export interface ConformanceOptions {
  open: () => Promise<LanguageModel>;
  /** Contexts to probe with (non-empty, within the vocabulary). */
  contexts: string[];
  /** The model exposes its own token ids (tokenize/detokenize, ids in candidates). */
  tokenIds: boolean;
  /** A composite: code points are its tokens, candidates are whole-character strings with `token: null`. */
  composite?: boolean;
  /**
   * Greedy generation takes the most likely candidate of nextTokenLogprobs (default true; false
   * for a composite whose generation takes a shortcut, e.g. the ensemble's confidence gate).
   */
  greedyIsTopCandidate?: boolean;
}

/** Python-style length: code points. */
const codePoints = (text: string) => [...text].length;
const partial = (text: string) => text === "" || text.includes("\uFFFD");

export function languageModelConformance(name: string, options: ConformanceOptions): void {
  const greedyIsTop = options.greedyIsTopCandidate ?? true;
  describe(`LanguageModel conformance: ${name}`, () => {
    let model: LanguageModel;
    beforeAll(async () => {
      model = await options.open();
    });
    afterAll(async () => {
      await model?.close();
    });

    it("has a non-empty id", () => {
      expect(typeof model.id).toBe("string");
      expect(model.id.length).toBeGreaterThan(0);
    });

    it("ranks next tokens by log-probability, a distribution's top k, with ids that are its own", async () => {
      let ids = 0;
      for (const context of options.contexts) {
        const top = await model.nextTokenLogprobs(context, 5);
        expect(top.length).toBeGreaterThan(0);
        expect(top.length).toBeLessThanOrEqual(5);
        for (let i = 1; i < top.length; i++) expect(top[i].logprob).toBeLessThanOrEqual(top[i - 1].logprob);
        for (const t of top) expect(t.logprob).toBeLessThanOrEqual(1e-9);
        expect(top.reduce((s, t) => s + Math.exp(t.logprob), 0)).toBeLessThanOrEqual(1 + 1e-6);
        for (const t of top) {
          if (options.composite) {
            // No member's id leaks out; the candidates are whole characters and prefix-free (disjoint events).
            expect(t.token).toBeNull();
            expect(partial(t.text)).toBe(false);
            for (const other of top) if (other !== t) expect(other.text.startsWith(t.text)).toBe(false);
          } else if (options.tokenIds) {
            expect(Number.isInteger(t.token)).toBe(true);
            expect(await model.detokenize([t.token!])).toBe(t.text);
            ids++;
          }
        }
      }
      if (options.tokenIds && !options.composite) expect(ids).toBeGreaterThan(0);
    });

    it("agrees between nextTokenLogprobs, logLikelihood and greedy generation", async () => {
      let agreed = 0;
      let greedyChecked = 0;
      let generations = 0;
      for (const context of options.contexts) {
        const top = await model.nextTokenLogprobs(context, 4);
        const oneStep = (await generateText(model, context, { maxTokens: 1, temperature: 0 })).text;
        const longer = (await generateText(model, context, { maxTokens: 8, temperature: 0 })).text;
        for (const [rank, candidate] of top.entries()) {
          if (partial(candidate.text)) continue; // a partial UTF-8 piece cannot be fed back as text
          const ll = await model.logLikelihood(context, candidate.text);
          expect(ll.bytes).toBe(utf8Length(candidate.text));
          if (options.composite) expect(ll.tokens).toBe(codePoints(candidate.text));
          else if (ll.tokens !== 1) continue; // the text re-tokenizes differently after this context
          expect(ll.logprob).toBeCloseTo(candidate.logprob, 4);
          agreed++;
          // `greedy` means greedy decoding would produce exactly this continuation.
          if (ll.greedy) expect(longer.startsWith(candidate.text)).toBe(true);
          if (!longer.startsWith(candidate.text)) expect(ll.greedy).toBe(false);
          if (oneStep === candidate.text) expect(ll.greedy).toBe(true);
          if (greedyIsTop && !tied(top, rank)) expect(ll.greedy).toBe(rank === 0);
          greedyChecked++;
        }
        // The longest greedy generation that is whole text (a random model may stop mid-character).
        let whole = "";
        for (const maxTokens of [8, 4, 2]) {
          const text = (await generateText(model, context, { maxTokens, temperature: 0 })).text;
          if (!partial(text)) {
            whole = text;
            break;
          }
        }
        if (!whole && !partial(oneStep)) whole = oneStep;
        if (!whole) continue;
        const ll = await model.logLikelihood(context, whole);
        expect(ll.greedy).toBe(true);
        expect(ll.tokens).toBeGreaterThan(0);
        expect(ll.logprob).toBeLessThanOrEqual(0);
        expect(ll.bytes).toBe(utf8Length(whole));
        generations++;
      }
      expect(Math.min(agreed, greedyChecked, generations)).toBeGreaterThan(0);
    });

    it("gives a non-greedy continuation a lower log-likelihood than the greedy one", async () => {
      let checked = 0;
      for (const context of options.contexts) {
        const top = (await model.nextTokenLogprobs(context, 5)).filter((t, i) => i === 0 || !partial(t.text));
        if (top.length < 2 || partial(top[0].text) || !greedyIsTop) continue;
        const best = await model.logLikelihood(context, top[0].text);
        const worse = await model.logLikelihood(context, top[top.length - 1].text);
        if (!options.composite && (best.tokens !== 1 || worse.tokens !== 1)) continue;
        expect(best.logprob).toBeGreaterThanOrEqual(worse.logprob);
        if (!tied(top, 0)) expect(best.greedy).toBe(true);
        if (top[top.length - 1].logprob < top[0].logprob) expect(worse.greedy).toBe(false);
        checked++;
      }
      if (greedyIsTop) expect(checked).toBeGreaterThan(0);
    });

    it("counts bytes and tokens of any Unicode continuation in its own terms", async () => {
      let checked = 0;
      for (const text of options.contexts) {
        const chars = [...text];
        if (chars.length < 2) continue;
        const cut = chars.slice(0, Math.ceil(chars.length / 2)).join("");
        const rest = text.slice(cut.length);
        const ll = await model.logLikelihood(cut, rest);
        expect(ll.bytes).toBe(utf8Length(rest));
        expect(Number.isFinite(ll.logprob)).toBe(true);
        expect(ll.logprob).toBeLessThanOrEqual(0);
        if (options.composite) expect(ll.tokens).toBe(codePoints(rest));
        else if (options.tokenIds) {
          expect(ll.tokens).toBeGreaterThan(0);
          expect(ll.tokens).toBeLessThanOrEqual((await model.tokenize(text)).length);
        }
        checked++;
      }
      expect(checked).toBeGreaterThan(0);
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
      // A composite names the models answering, once, before any text; a backend answers itself.
      const experts = chunks.flatMap((c, i) => (c.type === "experts" ? [i] : []));
      expect(experts).toHaveLength(options.composite ? 1 : 0);
      if (options.composite) {
        const firstText = chunks.findIndex((c) => c.type === "text");
        if (firstText >= 0) expect(experts[0]).toBeLessThan(firstText);
        expect((chunks[experts[0]] as { ids: string[] }).ids.length).toBeGreaterThan(0);
      }
    });

    it("answers a chat as it takes one (own template, its server's, or the plain layout), deterministically at temperature 0", async () => {
      const messages = [{ role: "system" as const, content: "Answer briefly." }, { role: "user" as const, content: options.contexts[0] }];
      const answer = async () => {
        const chunks = [];
        for await (const chunk of generateFrom(model, chatInput(model, messages), { maxTokens: 3, temperature: 0 })) chunks.push(chunk);
        return chunks;
      };
      const chunks = await answer();
      expect(chunks.filter((c) => c.type === "finish")).toHaveLength(1);
      expect(chunks[chunks.length - 1].type).toBe("finish");
      const experts = chunks.flatMap((c, i) => (c.type === "experts" ? [i] : []));
      expect(experts).toHaveLength(options.composite ? 1 : 0);
      const firstText = chunks.findIndex((c) => c.type === "text");
      if (options.composite && firstText >= 0) expect(experts[0]).toBeLessThan(firstText);
      const text = (cs: typeof chunks) => cs.map((c) => (c.type === "text" ? c.text : "")).join("");
      expect(text(await answer())).toBe(text(chunks));
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

    it.runIf(options.tokenIds || options.composite)("round-trips text through tokenize/detokenize", async () => {
      for (const context of options.contexts) {
        const tokens = await model.tokenize(context);
        expect(tokens.length).toBeGreaterThan(0);
        if (options.composite) expect(tokens.length).toBe(codePoints(context));
        expect(await model.detokenize(tokens)).toBe(context);
      }
    });

    it("agrees with its token-level variants where it has them", async () => {
      let checked = 0;
      for (const context of options.contexts) {
        if (!model.nextTokenLogprobsTokens && !model.logLikelihoodTokens && !model.tokenBytes) break;
        const ids = await model.tokenize(context);
        if (model.tokenBytes) {
          // The tokens' raw bytes spell the text exactly, even where a token splits a character.
          const bytes = Buffer.concat(await model.tokenBytes(ids));
          expect(bytes.equals(Buffer.from(context, "utf8"))).toBe(true);
          checked++;
        }
        const top = await model.nextTokenLogprobs(context, 3);
        if (model.nextTokenLogprobsTokens) {
          const byIds = await model.nextTokenLogprobsTokens(ids, 3);
          expect(byIds.map((t) => t.token)).toEqual(top.map((t) => t.token));
          byIds.forEach((t, i) => expect(t.logprob).toBeCloseTo(top[i].logprob, 5));
          checked++;
        }
        if (model.logLikelihoodTokens && top[0].token !== null) {
          const ll = await model.logLikelihoodTokens(ids, [top[0].token]);
          expect(ll.logprob).toBeCloseTo(top[0].logprob, 5);
          expect(ll.tokens).toBe(1);
          if (model.tokenBytes) expect(ll.bytes).toBe((await model.tokenBytes([top[0].token]))[0].length);
          checked++;
        }
      }
      if (model.nextTokenLogprobsTokens || model.logLikelihoodTokens || model.tokenBytes) expect(checked).toBeGreaterThan(0);
    });
  });
}

/** Whether candidate `rank` shares its log-probability with another (greedy is then ambiguous). */
function tied(top: TokenLogprob[], rank: number): boolean {
  return top.some((t, i) => i !== rank && Math.abs(t.logprob - top[rank].logprob) < 1e-9);
}
