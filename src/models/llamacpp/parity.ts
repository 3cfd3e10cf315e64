/**
 * Do exported zoo models run the same in llama.cpp as in cogen? Two checks:
 * - a GGUF's next-token distributions in llama.cpp (F32 key/value cache, one thread) against
 *   the TypeScript reference forward pass (src/models/llama-forward.ts) of its HF folder;
 * - a base GGUF with a runtime LoRA adapter GGUF against the merged expert's GGUF.
 * Both report the largest KL divergence KL(reference ‖ llama.cpp) over every position of the
 * contexts, in nats.
 */
import { readLlamaConfig } from "../../formats/hf/config.js";
import { readHfWeightsF32 } from "../../formats/safetensors/index.js";
import { llamaRuntime } from "./runtime.js";
import { validateGgufForLlamaCpp } from "./validate.js";
import { llamaForward, softmax } from "../llama-forward.js";

/**
 * KL(p ‖ q) in nats. Both are renormalised first (llama.cpp's float32 probabilities sum to 1
 * only to ~1e-7, which would otherwise show up as a KL of that size); q's zeros (float32
 * underflow) are floored at 1e-45.
 */
export function klDivergence(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    sp += p[i];
    sq += q[i];
  }
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] > 0) kl += (p[i] / sp) * (Math.log(p[i] / sp) - Math.log(Math.max(q[i] / sq, 1e-45)));
  }
  return Math.max(0, kl);
}

/** llama.cpp's token ids for a text (without BOS), from the GGUF's own vocabulary. */
export async function llamaCppTokenize(file: string, text: string): Promise<number[]> {
  return (await llamaCppTokenizeAll(file, [text]))[0];
}

/**
 * llama.cpp's token ids for each text (without BOS), loading the vocabulary once. With `special`,
 * control-token text (e.g. "<|endoftext|>") becomes its token, as Hugging Face's tokenizers do.
 */
export async function llamaCppTokenizeAll(file: string, texts: readonly string[], special = false): Promise<number[][]> {
  await validateGgufForLlamaCpp(file);
  const llama = await llamaRuntime(false);
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0, vocabOnly: true });
  try {
    return texts.map((text) => model.tokenize(text, special).map((t) => t as unknown as number));
  } finally {
    await model.dispose();
  }
}

/** llama.cpp's next-token distribution after each prefix of `tokens` (dense, vocabulary-sized). */
export async function llamaCppDistributions(file: string, tokens: readonly number[], vocabSize: number, lora?: string): Promise<Float64Array[]> {
  await validateGgufForLlamaCpp(file);
  if (lora) await validateGgufForLlamaCpp(lora, "adapter");
  const llama = await llamaRuntime(false);
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  try {
    const context = await model.createContext({
      contextSize: 2 * Math.max(32, tokens.length), threads: 1, batchSize: 2 * Math.max(32, tokens.length), flashAttention: false,
      experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
      ...(lora ? { lora: { adapters: [{ filePath: lora, scale: 1 }] } } : {}),
    });
    try {
      const sequence = context.getSequence();
      const results = await sequence.controlledEvaluate(tokens.map((t) => [t as never, { generateNext: { probabilities: true } }]));
      return results.map((result) => {
        const dense = new Float64Array(vocabSize);
        for (const [token, p] of result!.next.probabilities!) dense[token as unknown as number] = p;
        return dense;
      });
    } finally {
      await context.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** The TypeScript reference's next-token distributions for an HF folder. */
export async function referenceDistributions(hfDir: string, tokens: readonly number[]): Promise<Float64Array[]> {
  const config = await readLlamaConfig(hfDir);
  const cache = await readHfWeightsF32(hfDir);
  return llamaForward(config, (name) => cache.get(name)!, tokens).map((logits) => softmax(logits));
}

export function maxKl(reference: readonly Float64Array[], other: readonly Float64Array[]): number {
  let max = 0;
  reference.forEach((p, i) => (max = Math.max(max, klDivergence(p, other[i]))));
  return max;
}

/** Max KL between the TS forward pass of `hfDir` and llama.cpp running `gguf`, over the contexts. */
export async function ggufParity(hfDir: string, gguf: string, contexts: readonly string[]): Promise<number> {
  const config = await readLlamaConfig(hfDir);
  let max = 0;
  for (const text of contexts) {
    const tokens = (await llamaCppTokenize(gguf, text)).slice(0, 64);
    max = Math.max(max, maxKl(await referenceDistributions(hfDir, tokens), await llamaCppDistributions(gguf, tokens, config.vocabSize)));
  }
  return max;
}

/** Max KL between a merged expert GGUF and the base GGUF with the expert's runtime LoRA adapter. */
export async function loraParity(baseGguf: string, loraGguf: string, mergedGguf: string, vocabSize: number, contexts: readonly string[]): Promise<number> {
  let max = 0;
  for (const text of contexts) {
    const tokens = (await llamaCppTokenize(mergedGguf, text)).slice(0, 64);
    max = Math.max(max, maxKl(await llamaCppDistributions(mergedGguf, tokens, vocabSize), await llamaCppDistributions(baseGguf, tokens, vocabSize, loraGguf)));
  }
  return max;
}
