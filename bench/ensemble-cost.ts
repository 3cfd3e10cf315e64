/**
 * Ensemble cost: time per generated token of the token-level ensemble relative to its members
 * run alone, with the confidence gate closed (always ensemble) and at its default, side by side
 * in one run, median of several. Members: the zoo's two base models (different tokenizers).
 * Each run uses prompts of its own, so neither a member's KV cache nor the ensemble's step cache
 * replays an earlier run; a member's piece is a token, the ensemble's a step (one chosen string).
 * Wall time and CPU time (the process's, llama.cpp's threads included) are both reported: on a
 * shared machine wall time swings with other work, CPU time much less.
 *
 * Then where an ensembled step's CPU goes, per member, straight on node-llama-cpp (the floor of
 * exact scoring on this engine): one token evaluated with a greedy sample (what a member alone
 * pays) against the same evaluation returning the whole next-token distribution (what exact
 * scoring needs: node-llama-cpp 3.21.1 has no top-k with the true normaliser, nor logits), and
 * the member's whole share of an always-mixing step (its proposals plus the shortlist scored).
 *
 *   npx tsx bench/ensemble-cost.ts [--zoo zoo] [--tokens 24] [--runs 9]
 */
import * as os from "node:os";
import * as path from "node:path";
import type { LanguageModel } from "../src/core/language-model.js";
import { createEnsembleModel } from "../src/fuse/ensemble/ensemble.js";
import { createLlamaCppModel } from "../src/models/llamacpp/model.js";
import { loadDemoZoo } from "../src/demo/zoo.js";
import { isWholeText } from "../src/fuse/composite-text.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const zoo = await loadDemoZoo(path.resolve(arg("zoo", "zoo")));
const TOKENS = Number(arg("tokens", "24"));
const RUNS = Number(arg("runs", "9"));
const PROMPTS = 4;
const contexts = zoo.items.filter((i) => i.kind === "multiple_choice").map((i) => (i.kind === "multiple_choice" ? i.context : ""));
if (contexts.length < PROMPTS * RUNS) throw new Error(`the zoo has ${contexts.length} multiple-choice items; ${PROMPTS * RUNS} needed`);
const promptsOf = (run: number) => contexts.slice(run * PROMPTS, (run + 1) * PROMPTS);

const picks = [zoo.models.find((m) => m.family === "a" && m.role === "base")!, zoo.models.find((m) => m.family === "b" && m.role === "base")!];
const members = await Promise.all(picks.map((m) => createLlamaCppModel({ id: m.id, path: m.gguf, threads: 1 })));

interface Cost {
  wall: number;
  cpu: number;
}

/** Milliseconds per generated piece (token for a member, chosen string for the ensemble), wall and CPU. */
async function perToken(model: LanguageModel, run: number): Promise<Cost> {
  let pieces = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const prompt of promptsOf(run)) {
    let texts = 0;
    for await (const chunk of model.generate(prompt, { maxTokens: TOKENS, temperature: 0 })) {
      if (chunk.type === "text") texts++;
      // Members count their tokens; the ensemble's finish has no count, and with no stop strings each step yields one text.
      else if (chunk.type === "finish") pieces += chunk.tokens ?? texts;
    }
  }
  const cpu = process.cpuUsage(cpu0);
  return { wall: (performance.now() - t0) / Math.max(1, pieces), cpu: (cpu.user + cpu.system) / 1000 / Math.max(1, pieces) };
}

async function cpuPerToken(work: () => Promise<number>): Promise<number> {
  const cpu0 = process.cpuUsage();
  const tokens = await work();
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / Math.max(1, tokens);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows: Record<string, Cost[]> = {};
const gated = createEnsembleModel({ id: "gate 0.5", members: members.map((model, i) => ({ model, abilities: { default: i === 0 ? 0.1 : 0 } })) });
const always = createEnsembleModel({ id: "always", members: members.map((model, i) => ({ model, abilities: { default: i === 0 ? 0.1 : 0 } })), gate: 1 });
for (let r = 0; r < RUNS; r++) {
  for (const model of [...members, gated, always]) (rows[model.id] ??= []).push(await perToken(model, r));
}
const med = (id: string, kind: keyof Cost) => median(rows[id].map((c) => c[kind]));
const alone = (kind: keyof Cost) => members.reduce((s, m) => s + med(m.id, kind), 0);
console.log(`ms per generated token, median of ${RUNS} runs, ${PROMPTS} prompts × ${TOKENS} tokens each (load average ${os.loadavg()[0].toFixed(1)}):`);
for (const id of Object.keys(rows)) console.log(`  ${id.padEnd(12)} wall ${med(id, "wall").toFixed(2)} ms, cpu ${med(id, "cpu").toFixed(2)} ms`);
console.log(`steps ensembled with the gate at 0.5: ${gated.stats.ensembledSteps} of ${gated.stats.steps}`);
// The ratio is taken within each run (its members and ensembles measured back to back), then the
// median over runs: load that comes and goes on a shared machine then hits both sides alike.
const ratioInRuns = (id: string, kind: keyof Cost) => median(rows[id].map((c, r) => c[kind] / members.reduce((s, m) => s + rows[m.id][r][kind], 0)));
for (const [model, label] of [[gated, "ensemble, gate 0.5"], [always, "ensemble, always"]] as const) {
  for (const kind of ["wall", "cpu"] as const) {
    const ratio = ratioInRuns(model.id, kind);
    console.log(
      `${label}, ${kind}: ${med(model.id, kind).toFixed(2)} ms per step vs both members alone summed ${alone(kind).toFixed(2)} ms: ` +
        `${ratio.toFixed(2)}× (median of the runs' ratios; goal ≤ 1.15×: ${ratio <= 1.15 ? "met" : "missed"}); ${(med(model.id, kind) / med(members[0].id, kind)).toFixed(2)}× the primary alone`,
    );
  }
}

// The floor: per member, CPU per token straight on node-llama-cpp, fresh contexts on the same loaded models
// (as large as the member's own: its window plus the cell node-llama-cpp keeps free).
const raw = await Promise.all(members.map(async (m) => (await m.model.createContext({ contextSize: m.contextSize + 1, threads: 1 })).getSequence()));
const floor: Record<string, Record<"greedy" | "distribution" | "share", number[]>> = {};
for (let r = 0; r < RUNS; r++) {
  for (const [i, member] of members.entries()) {
    const row = (floor[member.id] ??= { greedy: [], distribution: [], share: [] });
    for (const kind of ["greedy", "distribution"] as const) {
      row[kind].push(await cpuPerToken(async () => {
        let tokens = 0;
        for (const prompt of promptsOf(r)) {
          await raw[i].clearHistory();
          const own = member.model.tokenize(prompt, false);
          await raw[i].controlledEvaluate(own.slice(0, -1));
          let last = own[own.length - 1];
          for (let t = 0; t < TOKENS; t++, tokens++) {
            const [out] = await raw[i].controlledEvaluate([[last, { generateNext: { token: true, probabilities: kind === "distribution" } }]]);
            last = out?.next.token ?? last;
          }
        }
        return tokens;
      }));
    }
    // The member's share of an always-mixing step: its top-k after the context, then each proposal scored.
    row.share.push(await cpuPerToken(async () => {
      let steps = 0;
      for (const prompt of promptsOf(r)) {
        let context = prompt;
        for (let t = 0; t < TOKENS; t++, steps++) {
          const proposals = await member.nextTokenLogprobs(context, 8);
          for (const proposal of proposals) await member.logLikelihood(context, proposal.text);
          context += proposals.find((p) => isWholeText(p.text))?.text ?? " ";
        }
      }
      return steps;
    }));
  }
}
const medianOf = (id: string, kind: "greedy" | "distribution" | "share") => median(floor[id][kind]);
/** Both members' cost of `kind` over their greedy tokens, within each run (measured back to back), median over runs. */
const overGreedy = (kind: "distribution" | "share") =>
  median(floor[members[0].id].greedy.map((_, r) => members.reduce((s, m) => s + floor[m.id][kind][r], 0) / members.reduce((s, m) => s + floor[m.id].greedy[r], 0)));
console.log(`where an always-mixing step's CPU goes, µs per token, median of ${RUNS} runs (load average ${os.loadavg()[0].toFixed(1)}):`);
for (const m of members) {
  console.log(`  ${m.id.padEnd(12)} greedy token ${medianOf(m.id, "greedy").toFixed(0)}, with the whole distribution ${medianOf(m.id, "distribution").toFixed(0)}, its share of a step (top-k + shortlist scored) ${medianOf(m.id, "share").toFixed(0)}`);
}
console.log(
  `floor of exact scoring, both members, over their greedy tokens (median of the runs' ratios): whole distributions ${overGreedy("distribution").toFixed(2)}×, ` +
    `their shares of an always-mixing step ${overGreedy("share").toFixed(2)}× (an exact ensemble step costs at least the shares; goal 1.15×)`,
);
await Promise.all(members.map((m) => m.close()));
