import type { LogLikelihood } from "../../core/language-model.js";

/**
 * log P(continuation) under the mixture. Members that scored the very same token ids (they share
 * a tokenizer) are mixed token by token — Σ_t log Σ_m w_m P_m(t | prefix), each group a proper
 * language model that usually beats each of its members; the groups (different tokenizers, no
 * common tokens) are mixed over the whole sequence, log Σ_g W_g P_g(continuation).
 */
export function mixLogLikelihoods(scores: readonly LogLikelihood[], weights: readonly number[]): number {
  const groups: { weight: number; members: number[] }[] = [];
  scores.forEach((score, i) => {
    const key = score.perToken?.ids.join(",");
    const group = key === undefined ? undefined : groups.find((g) => scores[g.members[0]].perToken?.ids.join(",") === key);
    if (group) {
      group.weight += weights[i];
      group.members.push(i);
    } else groups.push({ weight: weights[i], members: [i] });
  });
  const groupLogprob = (group: { weight: number; members: number[] }): number => {
    if (group.members.length === 1) return scores[group.members[0]].logprob;
    const steps = scores[group.members[0]].perToken!.logprobs.length;
    let total = 0;
    for (let t = 0; t < steps; t++) {
      total += logSumExp(group.members.map((m) => Math.log(weights[m] / group.weight) + scores[m].perToken!.logprobs[t]));
    }
    return total;
  };
  return logSumExp(groups.map((g) => Math.log(g.weight) + groupLogprob(g)));
}

function logSumExp(terms: readonly number[]): number {
  const max = Math.max(...terms);
  if (max === -Infinity) return -Infinity;
  return max + Math.log(terms.reduce((a, t) => a + Math.exp(t - max), 0));
}
