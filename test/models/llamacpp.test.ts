import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Token } from "node-llama-cpp";
import type { LanguageModel } from "../../src/core/language-model.js";
import { generateText } from "../../src/core/language-model.js";
import { createLlamaCppModel } from "../../src/models/llamacpp/model.js";
import { loadedBaseCount, llamaRuntime } from "../../src/models/llamacpp/runtime.js";
import { FIXTURE_TEXT, makeTinyLlama, tempDir } from "../fixtures/tiny-llama.js";
import { languageModelConformance } from "./conformance.js";

let root: string;
let ggufPromise: Promise<string> | undefined;
function tinyGguf(): Promise<string> {
  ggufPromise ??= (async () => {
    root = await tempDir();
    return (await makeTinyLlama(root)).gguf();
  })();
  return ggufPromise;
}
afterAll(async () => {
  if (root) await fs.rm(root, { recursive: true, force: true });
});

languageModelConformance("llama.cpp (tiny random llama)", {
  open: async () => createLlamaCppModel({ id: "tiny", path: await tinyGguf(), contextSize: 256 }),
  contexts: ["The heart pumps blood", "A contract is", "river", "The café costs 5 € ✓", "東京 👍🏽"],
  tokenIds: true,
});

/** Direct node-llama-cpp reference: a fresh sequence, every token evaluated, no cache reuse. */
async function referenceLogLikelihood(file: string, context: string, continuation: string): Promise<{ logprob: number; tokens: number }> {
  const llama = await llamaRuntime(false);
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  const ctx = await model.createContext({ contextSize: 256, threads: 1 });
  try {
    const c = model.tokenize(context, false);
    const w = model.tokenize(context + continuation, false);
    let n = 0;
    while (n < c.length && c[n] === w[n]) n++;
    const seq = ctx.getSequence();
    const out = await seq.controlledEvaluate(w.slice(0, -1).map((t) => [t, { generateNext: { probabilities: true } }] as [Token, { generateNext: { probabilities: true } }]));
    let logprob = 0;
    for (let i = n; i < w.length; i++) logprob += Math.log(out[i - 1]!.next.probabilities!.get(w[i])!);
    return { logprob, tokens: w.length - n };
  } finally {
    await ctx.dispose();
    await model.dispose();
  }
}

/** The model's log-likelihood of `continuation` equals the direct reference (tokens and value). */
async function expectReferenceScore(model: LanguageModel, file: string, context: string, continuation: string): Promise<void> {
  const got = await model.logLikelihood(context, continuation);
  const want = await referenceLogLikelihood(file, context, continuation);
  expect(got.tokens).toBe(want.tokens);
  expect(got.logprob).toBeCloseTo(want.logprob, 4);
}

describe("llama.cpp backend", () => {
  let file: string;
  beforeAll(async () => {
    file = await tinyGguf();
  });

  it("computes log-likelihoods equal to direct node-llama-cpp evaluation, in any call order (KV cache reuse)", async () => {
    const model = await createLlamaCppModel({ id: "tiny", path: file, contextSize: 256 });
    try {
      const pairs: [string, string][] = [
        ["The heart pumps", " blood"], ["The heart pumps", " water"], ["The heart", " pumps blood"],
        ["A contract is an", " agreement"], ["The heart pumps", " blood"],
      ];
      for (const [context, continuation] of pairs) await expectReferenceScore(model, file, context, continuation);
    } finally {
      await model.close();
    }
  });

  it("scores from remembered next-token distributions exactly as a fresh evaluation does", async () => {
    const model = await createLlamaCppModel({ id: "tiny", path: file, contextSize: 256 });
    try {
      // nextTokenLogprobs leaves the distribution after each context remembered; the scores below
      // start from it (one-token and longer continuations), after other contexts displaced the KV cache.
      const steps: [string, string][] = [
        ["The heart pumps", " blood"], ["A contract is", " an agreement"], ["The heart pumps", " blood and water"],
        ["river", " bank"], ["The heart pumps", " blood"], ["A contract is", " an agreement"],
      ];
      for (const [context, continuation] of steps) {
        const top = await model.nextTokenLogprobs(context, 3);
        const own = await model.logLikelihood(context, top[0].text);
        const got = await model.logLikelihood(context, continuation);
        const want = await referenceLogLikelihood(file, context, continuation);
        expect(got.tokens).toBe(want.tokens);
        expect(got.logprob).toBeCloseTo(want.logprob, 4);
        expect(own.logprob).toBeCloseTo((await referenceLogLikelihood(file, context, top[0].text)).logprob, 4);
      }
    } finally {
      await model.close();
    }
  });

  it("scores an ensemble-like walk exactly: remembered tokens and distributions never outlive their text", async () => {
    const model = await createLlamaCppModel({ id: "tiny", path: file, contextSize: 256 });
    try {
      // Each step scores the context plus every candidate (texts that extend one another), then
      // moves to context + a lower candidate; more texts than are remembered pass through, and the
      // walk comes back to an early context after its entries were displaced.
      let context = "The heart";
      const visited: string[] = [];
      for (let step = 0; step < 12; step++) {
        visited.push(context);
        const candidates = await model.nextTokenLogprobs(context, 4);
        for (const candidate of candidates) await model.logLikelihood(context, candidate.text);
        const chosen = candidates[step % candidates.length].text;
        const got = await model.logLikelihood(context, chosen);
        expect(got.logprob).toBeCloseTo((await referenceLogLikelihood(file, context, chosen)).logprob, 4);
        context += chosen;
      }
      for (const early of [visited[1], visited[0], visited[5]]) await expectReferenceScore(model, file, early, " blood");
    } finally {
      await model.close();
    }
  });

  it("scores continuations that share their first tokens exactly, from distributions remembered along the way", async () => {
    const model = await createLlamaCppModel({ id: "tiny", path: file, contextSize: 256 });
    try {
      const context = "The heart pumps";
      await model.nextTokenLogprobs(context, 3);
      // One to four tokens each (short enough for every position to be looked up), then longer ones.
      for (const continuation of [" bl", " blo", " b", " blood", " blo", " bl", " blood and water", " blood", " bloody", " blood and bone"]) {
        await expectReferenceScore(model, file, context, continuation);
      }
    } finally {
      await model.close();
    }
  });

  it("never takes a distribution remembered after other tokens that end the same way", async () => {
    const model = await createLlamaCppModel({ id: "tiny", path: file, contextSize: 256 });
    try {
      // Pairs of contexts with as many tokens and the same last token, differing earlier.
      const pairs: [string, string][] = [];
      for (const [a, b] of [["The heart pumps", "The heart bumps"], ["A river bank", "A rover bank"], ["The cat sat", "The hat sat"], ["my blood", "by blood"]]) {
        const [ta, tb] = [await model.tokenize(a), await model.tokenize(b)];
        if (ta.length === tb.length && ta.at(-1) === tb.at(-1) && ta.some((t, i) => t !== tb[i])) pairs.push([a, b]);
      }
      expect(pairs.length).toBeGreaterThan(0);
      for (const [a, b] of pairs) {
        const next = await model.nextTokenLogprobs(a, 2);
        await expectReferenceScore(model, file, b, next[0].text);
        await model.nextTokenLogprobs(b, 2);
        await expectReferenceScore(model, file, a, next[0].text);
      }
    } finally {
      await model.close();
    }
  });

  it("has a token-level log-likelihood equal to the text one where tokenization agrees", async () => {
    const model = await createLlamaCppModel({ id: "tiny", path: file, contextSize: 256 });
    try {
      const context = await model.tokenize("The heart pumps");
      const continuation = await model.tokenize(" blood");
      const byTokens = await model.logLikelihoodTokens!(context, continuation);
      const byText = await model.logLikelihood("The heart pumps", " blood");
      expect(byTokens.tokens).toBe(continuation.length);
      expect(byTokens.logprob).toBeCloseTo(byText.logprob, 6);
      expect(byTokens.bytes).toBe(6);
      await expect(model.logLikelihoodTokens!(context, [1e9])).rejects.toThrow(/outside the vocabulary/);
    } finally {
      await model.close();
    }
  });

  it("scores a text from the start of a document (empty context)", async () => {
    const model = await createLlamaCppModel({ id: "tiny", path: file, contextSize: 256 });
    try {
      const ll = await model.logLikelihood("", "The river flows");
      expect(ll.tokens).toBe((await model.tokenize("The river flows")).length);
      expect(ll.logprob).toBeLessThan(0);
      expect(Number.isFinite(ll.logprob)).toBe(true);
    } finally {
      await model.close();
    }
  });

  it("greedy generation equals node-llama-cpp's own greedy decoding", async () => {
    const model = await createLlamaCppModel({ id: "tiny", path: file, contextSize: 256 });
    const llama = await llamaRuntime(false);
    const direct = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
    const ctx = await direct.createContext({ contextSize: 256, threads: 1 });
    try {
      const sequence = ctx.getSequence();
      for (const prompt of ["The heart", "river", "The central bank"]) {
        const { text } = await generateText(model, prompt, { maxTokens: 5 });
        const tokens: Token[] = [];
        for await (const token of sequence.evaluate(direct.tokenize(prompt, false), { temperature: 0 })) {
          if (direct.isEogToken(token)) break;
          tokens.push(token);
          if (tokens.length === 5) break;
        }
        await sequence.clearHistory();
        expect(text).toBe(direct.detokenize(tokens, false));
      }
    } finally {
      await ctx.dispose();
      await direct.dispose();
      await model.close();
    }
  });

  it("shares one loaded base between experts and frees it when the last closes", async () => {
    const before = loadedBaseCount();
    const a = await createLlamaCppModel({ id: "a", path: file, contextSize: 64 });
    const b = await createLlamaCppModel({ id: "b", path: file, contextSize: 64 });
    expect(loadedBaseCount()).toBe(before + 1);
    await a.close();
    expect(loadedBaseCount()).toBe(before + 1);
    await b.close();
    expect(loadedBaseCount()).toBe(before);
  });

  it("refuses a malformed GGUF before llama.cpp sees it", async () => {
    const bytes = await fs.readFile(file);
    const broken = path.join(root, "truncated.gguf");
    await fs.writeFile(broken, bytes.subarray(0, 200));
    await expect(createLlamaCppModel({ id: "x", path: broken })).rejects.toThrow(/truncated\.gguf/);
    await expect(createLlamaCppModel({ id: "x", path: path.join(root, "missing.gguf") })).rejects.toThrow(/missing\.gguf/);
  });

  it("scores inputs longer than the context in lm-eval style windows, equal to a direct window-by-window evaluation", async () => {
    const model = await createLlamaCppModel({ id: "tiny", path: file, contextSize: 32 });
    const W = model.contextSize;
    expect(W).toBe(32);
    const llama = await llamaRuntime(false);
    const direct = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
    // W tokens in one window: node-llama-cpp needs a cell more (it shifts a full sequence).
    const ctx = await direct.createContext({ contextSize: W + 1, threads: 1 });
    try {
      const text = (FIXTURE_TEXT + "\n").repeat(3);
      const whole = [model.model.tokens.bos!, ...direct.tokenize(text, false)];
      expect(whole.length).toBeGreaterThan(2 * W);
      let want = 0;
      const sequence = ctx.getSequence();
      for (let first = 1; first < whole.length; first += W) {
        const end = Math.min(first + W, whole.length);
        const input = whole.slice(Math.max(0, end - 1 - W), end - 1);
        await sequence.clearHistory();
        const out = await sequence.controlledEvaluate(input.map((t) => [t, { generateNext: { probabilities: true } }] as [Token, { generateNext: { probabilities: true } }]));
        const offset = Math.max(0, end - 1 - W);
        for (let i = first - 1; i < end - 1; i++) want += Math.log(out[i - offset]!.next.probabilities!.get(whole[i + 1])!);
      }
      const got = await model.logLikelihood("", text);
      expect(got.tokens).toBe(whole.length - 1);
      expect(got.logprob).toBeCloseTo(want, 3);
      // A context longer than the window is cut from the left.
      const long = await model.logLikelihood(text, " water");
      expect(Number.isFinite(long.logprob)).toBe(true);
      expect(long.tokens).toBeGreaterThan(0);
    } finally {
      await ctx.dispose();
      await direct.dispose();
      await model.close();
    }
  });
});
