import { promises as fs } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LanguageModel } from "../../src/core/language-model.js";
import { generateText } from "../../src/core/language-model.js";
import { createEnsembleModel } from "../../src/fuse/ensemble/ensemble.js";
import { createLlamaCppModel } from "../../src/models/llamacpp/model.js";
import { makeTinyLlama, tempDir } from "../fixtures/tiny-llama.js";

let root: string;
let gpt2Vocab: LanguageModel;
let spmVocab: LanguageModel;
const contexts: string[][] = [[], []];

/** Records every context a member is asked about (to check that members stay in sync). */
function recording(model: LanguageModel, log: string[]): LanguageModel {
  return {
    ...model,
    id: model.id,
    tokenize: (t) => model.tokenize(t),
    detokenize: (t) => model.detokenize(t),
    logLikelihood: (c, x) => model.logLikelihood(c, x),
    generate: (p, o) => model.generate(p, o),
    close: () => model.close(),
    nextTokenLogprobs: (context, k) => {
      log.push(context);
      return model.nextTokenLogprobs(context, k);
    },
  };
}

/**
 * The same model scoring as the plain reading of its contract: every text tokenized whole by the
 * engine, scored by token ids — what the llama.cpp backend's shortcuts (remembered tokens, texts
 * tokenized from a stable cut) must reproduce exactly.
 */
function tokenizedWhole(model: LanguageModel): LanguageModel {
  return {
    ...model,
    id: model.id,
    nextTokenLogprobs: async (context, k) => model.nextTokenLogprobsTokens!(await model.tokenize(context), k),
    logLikelihood: async (context, continuation) => {
      const own = await model.tokenize(context);
      const whole = await model.tokenize(context + continuation);
      let common = 0;
      while (common < own.length && own[common] === whole[common]) common++;
      return model.logLikelihoodTokens!(whole.slice(0, common), whole.slice(common));
    },
  };
}

beforeAll(async () => {
  root = await tempDir();
  const a = await makeTinyLlama(root, "byte-level", { seed: 11 });
  const b = await makeTinyLlama(root, "byte-fallback", { seed: 12, hiddenSize: 48, numLayers: 3, numHeads: 4, numKvHeads: 4, intermediateSize: 96 });
  gpt2Vocab = recording(await createLlamaCppModel({ id: "a", path: await a.gguf("f32"), contextSize: 256 }), contexts[0]);
  spmVocab = recording(await createLlamaCppModel({ id: "b", path: await b.gguf("f32"), contextSize: 256 }), contexts[1]);
});
afterAll(async () => {
  await gpt2Vocab?.close();
  await spmVocab?.close();
  await fs.rm(root, { recursive: true, force: true });
});

const members = () => [
  { model: gpt2Vocab, abilities: { default: 0.2 } },
  { model: spmVocab, abilities: { default: 0 } },
];

describe("token-level ensemble across tokenizers", () => {
  it("keeps members with different vocabularies in sync through the generated text", async () => {
    contexts[0].length = contexts[1].length = 0;
    const ensemble = createEnsembleModel({ id: "ens", members: members(), gate: 1 });
    const prompt = "The heart pumps";
    const { text } = await generateText(ensemble, prompt, { maxTokens: 6 });
    expect(text.length).toBeGreaterThan(0);
    // Every step asked both members about the same text: the prompt plus what was chosen so far.
    expect(contexts[1]).toEqual(contexts[0]);
    expect(contexts[0][0]).toBe(prompt);
    expect(prompt + text).toContain(contexts[0].at(-1)!);
    expect(ensemble.stats.ensembledSteps).toBe(ensemble.stats.steps);
  });

  it("costs one model per step when the gate is closed, and consults others only below it", async () => {
    const closed = createEnsembleModel({ id: "ens", members: members(), gate: 0 });
    await generateText(closed, "A river", { maxTokens: 5 });
    expect(closed.stats.ensembledSteps).toBe(0);
    expect(closed.stats.memberCalls).toBe(closed.stats.steps);
    const open = createEnsembleModel({ id: "ens", members: members(), gate: 1 });
    await generateText(open, "A river", { maxTokens: 5 });
    expect(open.stats.memberCalls).toBe(2 * open.stats.steps);
  });

  it("mixes the members' probabilities of each proposal with the ranking's weights", async () => {
    const ensemble = createEnsembleModel({ id: "ens", members: members(), gate: 1, topK: 5 });
    const [w0, w1] = ensemble.participants("x").map((p) => p.weight);
    expect(w0).toBeCloseTo(Math.exp(0.2) / (Math.exp(0.2) + 1), 10);
    expect(w1).toBeCloseTo(1 / (Math.exp(0.2) + 1), 10);
    const context = "The river";
    const mixed = await ensemble.nextTokenLogprobs(context, 50);
    // Computed independently: a proposal that is one token of member A has A's next-token
    // probability; B's probability of the same text is B's own score of it.
    const ownA = await gpt2Vocab.nextTokenLogprobs(context, 50);
    let checked = 0;
    for (const candidate of mixed) {
      const a = ownA.find((t) => t.text === candidate.text);
      if (!a || (await gpt2Vocab.logLikelihood(context, candidate.text)).tokens !== 1) continue;
      const pB = Math.exp((await spmVocab.logLikelihood(context, candidate.text)).logprob);
      const expected = w0 * Math.exp(a.logprob) + w1 * pB;
      expect(Math.exp(candidate.logprob)).toBeCloseTo(expected, 10);
      // A mixture, not either member alone.
      expect(Math.abs(expected - Math.exp(a.logprob))).toBeGreaterThan(1e-6);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
    // The five proposals with the most pooled mass (Σ weight × proposer's probability) are each a
    // candidate or overlap a likelier one (candidates are prefix-free: disjoint events, so their
    // probabilities sum to at most 1).
    const pooled = new Map<string, number>();
    const ownB = await spmVocab.nextTokenLogprobs(context, 5);
    for (const [weight, own] of [[w0, ownA.slice(0, 5)], [w1, ownB]] as const) {
      for (const t of own) if (t.text && !t.text.includes("\ufffd")) pooled.set(t.text, (pooled.get(t.text) ?? 0) + weight * Math.exp(t.logprob));
    }
    const shortlist = [...pooled].sort((x, y) => y[1] - x[1]).slice(0, 5).map(([text]) => text);
    for (const text of shortlist) {
      const kept = mixed.find((c) => c.text === text || c.text.startsWith(text) || text.startsWith(c.text));
      expect(kept).toBeDefined();
    }
    expect(mixed.reduce((sum, c) => sum + Math.exp(c.logprob), 0)).toBeLessThanOrEqual(1 + 1e-9);
  });

  it("scores a continuation as the weighted mixture of the members' sequence probabilities", async () => {
    const ensemble = createEnsembleModel({ id: "ens", members: members() });
    const [w0, w1] = ensemble.participants("Bread").map((p) => p.weight);
    const a = await gpt2Vocab.logLikelihood("Bread", " is baked");
    const b = await spmVocab.logLikelihood("Bread", " is baked");
    const mixed = await ensemble.logLikelihood("Bread", " is baked");
    expect(mixed.logprob).toBeCloseTo(Math.log(w0 * Math.exp(a.logprob) + w1 * Math.exp(b.logprob)), 8);
    expect(mixed.logprob).toBeGreaterThanOrEqual(Math.min(a.logprob, b.logprob));
    expect(mixed.bytes).toBe(9);
  });

  it("mixes members that share a tokenizer token by token", async () => {
    const sibling = await makeTinyLlama(root, "byte-level", { seed: 13 });
    const file = await sibling.gguf("f32");
    const twin = await createLlamaCppModel({ id: "a2", path: file, contextSize: 256 });
    try {
      const ensemble = createEnsembleModel({ id: "ens", members: [{ model: gpt2Vocab, abilities: { default: 0.5 } }, { model: twin, abilities: { default: 0 } }] });
      const [w0, w1] = ensemble.participants("The").map((p) => p.weight);
      const a = await gpt2Vocab.logLikelihood("The", " heart pumps blood");
      const b = await twin.logLikelihood("The", " heart pumps blood");
      expect(a.perToken!.ids).toEqual(b.perToken!.ids);
      const expected = a.perToken!.logprobs.reduce((sum, lp, t) => sum + Math.log(w0 * Math.exp(lp) + w1 * Math.exp(b.perToken!.logprobs[t])), 0);
      const mixed = await ensemble.logLikelihood("The", " heart pumps blood");
      expect(mixed.logprob).toBeCloseTo(expected, 8);
      expect(mixed.logprob).not.toBeCloseTo(Math.log(w0 * Math.exp(a.logprob) + w1 * Math.exp(b.logprob)), 6);
    } finally {
      await twin.close();
    }
  });

  it("calls a continuation greedy when its own decoding produces it, not when its primary member's does", async () => {
    const ensemble = createEnsembleModel({ id: "ens", members: members(), gate: 1, topK: 5 });
    let disagreements = 0;
    for (const context of ["The heart", "A river", "Bread is", "The bank", "A compiler", "The law"]) {
      const own = (await ensemble.nextTokenLogprobs(context, 1))[0];
      const primaryTop = (await gpt2Vocab.nextTokenLogprobs(context, 1))[0];
      if (!own || !primaryTop.text || primaryTop.text.includes("\ufffd") || primaryTop.text === own.text || own.text.startsWith(primaryTop.text)) continue;
      if (!(await gpt2Vocab.logLikelihood(context, primaryTop.text)).greedy) continue;
      // The primary alone would pick another string: the ensemble's pick is greedy, the primary's is not.
      expect((await ensemble.logLikelihood(context, own.text)).greedy).toBe(true);
      expect((await ensemble.logLikelihood(context, primaryTop.text)).greedy).toBe(false);
      disagreements++;
    }
    expect(disagreements).toBeGreaterThan(0);
  });

  it("generates what members that tokenize every text whole would generate, step for step", async () => {
    // Prompts whose ends stress the tokenizers: repeated spaces, a newline before a space, contractions, digits, non-ASCII.
    const prompts = ["The heart  pumps", "A river\n flows", "Bread's crust, 12 ", "The café costs 5 €", "A compiler translates source"];
    const reference = [{ model: tokenizedWhole(gpt2Vocab), abilities: { default: 0.2 } }, { model: tokenizedWhole(spmVocab), abilities: { default: 0 } }];
    // The random members are rarely confident: a gate of 0.05 settles about three steps in four alone.
    for (const gate of [1, 0.05]) {
      const fast = createEnsembleModel({ id: "ens", members: members(), gate });
      const plain = createEnsembleModel({ id: "ens", members: reference, gate });
      for (const prompt of prompts) {
        expect(await fast.nextTokenLogprobs(prompt, 8)).toEqual(await plain.nextTokenLogprobs(prompt, 8));
        const got = await generateText(fast, prompt, { maxTokens: 12 });
        expect(got.text).toBe((await generateText(plain, prompt, { maxTokens: 12 })).text);
      }
      expect(fast.stats).toEqual(plain.stats);
      if (gate < 1) expect(fast.stats.ensembledSteps).toBeLessThan(fast.stats.steps);
    }
  });

  it("leaves out members much weaker on the request's domain", async () => {
    const ensemble = createEnsembleModel({
      id: "ens",
      members: [
        { model: gpt2Vocab, abilities: { law: 2, food: -2 } },
        { model: spmVocab, abilities: { law: -1, food: 1 } },
      ],
      domainOf: (text) => (text.includes("court") ? "law" : "food"),
      maxAbilityGap: 1,
    });
    expect(ensemble.participants("the court").map((p) => p.model.id)).toEqual(["a"]);
    expect(ensemble.participants("the soup").map((p) => p.model.id)).toEqual(["b"]);
    const alone = await gpt2Vocab.logLikelihood("the court", " ruled");
    expect((await ensemble.logLikelihood("the court", " ruled")).logprob).toBeCloseTo(alone.logprob, 10);
  });
});
