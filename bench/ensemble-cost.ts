/**
 * Ensemble cost: time per generated token of the token-level ensemble relative to its members
 * run alone, with the confidence gate closed (always ensemble) and at its default, side by side
 * in one run, median of several. Members: the zoo's two base models (different tokenizers).
 * Each run uses prompts of its own, so neither a member's KV cache nor the ensemble's step cache
 * replays an earlier run; a member's piece is a token, the ensemble's a step (one chosen string).
 *
 *   npx tsx bench/ensemble-cost.ts [--zoo zoo] [--tokens 24] [--runs 5]
 */
import * as path from "node:path";
import type { LanguageModel } from "../src/core/language-model.js";
import { createEnsembleModel } from "../src/fuse/ensemble/ensemble.js";
import { createLlamaCppModel } from "../src/models/llamacpp/model.js";
import { loadDemoZoo } from "../src/demo/zoo.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const zoo = await loadDemoZoo(path.resolve(arg("zoo", "zoo")));
const TOKENS = Number(arg("tokens", "24"));
const RUNS = Number(arg("runs", "5"));
const PROMPTS = 4;
const contexts = zoo.items.filter((i) => i.kind === "multiple_choice").map((i) => (i.kind === "multiple_choice" ? i.context : ""));
if (contexts.length < PROMPTS * RUNS) throw new Error(`the zoo has ${contexts.length} multiple-choice items; ${PROMPTS * RUNS} needed`);
const promptsOf = (run: number) => contexts.slice(run * PROMPTS, (run + 1) * PROMPTS);

const picks = [zoo.models.find((m) => m.family === "a" && m.role === "base")!, zoo.models.find((m) => m.family === "b" && m.role === "base")!];
const members = await Promise.all(picks.map((m) => createLlamaCppModel({ id: m.id, path: m.gguf, contextSize: 512, threads: 1 })));

/** Milliseconds per generated piece (token for a member, chosen string for the ensemble). */
async function perToken(model: LanguageModel, run: number): Promise<number> {
  let pieces = 0;
  const t0 = performance.now();
  for (const prompt of promptsOf(run)) {
    let texts = 0;
    for await (const chunk of model.generate(prompt, { maxTokens: TOKENS, temperature: 0 })) {
      if (chunk.type === "text") texts++;
      // Members count their tokens; the ensemble's finish has no count, and with no stop strings each step yields one text.
      else if (chunk.type === "finish") pieces += chunk.tokens ?? texts;
    }
  }
  return (performance.now() - t0) / Math.max(1, pieces);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows: Record<string, number[]> = {};
const gated = createEnsembleModel({ id: "gate 0.5", members: members.map((model, i) => ({ model, abilities: { default: i === 0 ? 0.1 : 0 } })) });
const always = createEnsembleModel({ id: "always", members: members.map((model, i) => ({ model, abilities: { default: i === 0 ? 0.1 : 0 } })), gate: 1 });
for (let r = 0; r < RUNS; r++) {
  for (const model of [...members, gated, always]) (rows[model.id] ??= []).push(await perToken(model, r));
}
const alone = members.reduce((s, m) => s + median(rows[m.id]), 0);
console.log(`ms per generated token, median of ${RUNS} runs, ${PROMPTS} prompts × ${TOKENS} tokens each:`);
for (const [id, times] of Object.entries(rows)) console.log(`  ${id.padEnd(12)} ${median(times).toFixed(2)} ms`);
console.log(`ensemble, gate 0.5: ${(median(rows["gate 0.5"]) / median(rows[members[0].id])).toFixed(2)}× the primary alone, ${(median(rows["gate 0.5"]) / alone).toFixed(2)}× both members alone summed; ${gated.stats.ensembledSteps} of ${gated.stats.steps} steps ensembled`);
console.log(`ensemble, always:   ${(median(rows.always) / median(rows[members[0].id])).toFixed(2)}× the primary alone, ${(median(rows.always) / alone).toFixed(2)}× both members alone summed`);
await Promise.all(members.map((m) => m.close()));
