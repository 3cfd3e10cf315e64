import { ConfigError } from "../../core/errors.js";
import type { GenerateChunk, GenerateOptions, LanguageModel, LogLikelihood, TokenLogprob } from "../../core/language-model.js";
import { Rng } from "../../core/rng.js";
import { StopMatcher } from "../../models/stop.js";
import { codePointText, codePointTokens } from "../composite-text.js";

/**
 * A token-level ensemble of models whose vocabularies differ (after UniTE and GaC). At each step
 * every member proposes its top-k next tokens; proposals meet in one space, their decoded text.
 * A member scores a proposal that is not one of its own tokens by its first sub-token. The
 * members' probabilities are mixed with weights from the ranking, one string is chosen, and all
 * members continue from the same text, so they stay in sync whatever their tokenizers.
 *
 * Two guards keep it cheap and safe: a confidence gate (only when the primary member's top
 * probability is below `gate` are the others consulted, so confident steps cost one model), and
 * a compatibility filter (members much weaker than the primary on the request's domain are left
 * out: ensembling models of very different accuracy hurts).
 *
 * Scoring (`logLikelihood`) mixes members that share a tokenizer token by token and the rest
 * over whole sequences (see mixLogLikelihoods): a proper distribution whatever the tokenizers.
 * Generation mixes step by step.
 */
export interface EnsembleMember {
  model: LanguageModel;
  /** Ability per domain (any scale where higher is better, e.g. the ranking's logits). */
  abilities: Record<string, number>;
}

export interface EnsembleOptions {
  id: string;
  members: EnsembleMember[];
  /** The request's domain (e.g. a router's kNN guess); default: the same domain for every request. */
  domainOf?: (text: string) => string;
  /** Proposals per member per step (default 8). */
  topK?: number;
  /** Consult the other members only when the primary's top probability is below this (default 0.5; 1 = always). */
  gate?: number;
  /** Leave out members whose ability is more than this below the primary's (default 1 logit). */
  maxAbilityGap?: number;
  /** Weights are softmax(ability / temperature) over the compatible members (default 1). */
  weightTemperature?: number;
}

export interface EnsembleStats {
  steps: number;
  /** Steps where more than one member was consulted. */
  ensembledSteps: number;
  /** nextTokenLogprobs calls made on members. */
  memberCalls: number;
}

interface Participant {
  model: LanguageModel;
  weight: number;
}

export function createEnsembleModel(options: EnsembleOptions): LanguageModel & { stats: EnsembleStats; participants(text: string): Participant[] } {
  if (options.members.length === 0) throw new ConfigError([`ensemble '${options.id}' has no members`]);
  const topK = options.topK ?? 8;
  const gate = options.gate ?? 0.5;
  const maxGap = options.maxAbilityGap ?? 1;
  const temperature = options.weightTemperature ?? 1;
  const stats: EnsembleStats = { steps: 0, ensembledSteps: 0, memberCalls: 0 };

  /** Compatible members for a request, primary first, with normalised weights. */
  const participants = (text: string): Participant[] => {
    const domain = options.domainOf?.(text) ?? "default";
    const ability = (m: EnsembleMember) => m.abilities[domain] ?? m.abilities.default ?? 0;
    const ranked = [...options.members].sort((a, b) => ability(b) - ability(a));
    const best = ability(ranked[0]);
    const kept = ranked.filter((m) => ability(m) >= best - maxGap);
    const raw = kept.map((m) => Math.exp((ability(m) - best) / temperature));
    const total = raw.reduce((a, b) => a + b, 0);
    return kept.map((m, i) => ({ model: m.model, weight: raw[i] / total }));
  };

  /** The mixed next-string distribution after `text`, most likely first. */
  async function mixedNext(text: string, routeText: string, useGate: boolean): Promise<{ text: string; p: number }[]> {
    const members = participants(routeText);
    stats.steps++;
    stats.memberCalls++;
    const primary = await members[0].model.nextTokenLogprobs(text, topK);
    const primaryTop = primary.find((t) => usable(t.text));
    if (members.length === 1 || (useGate && primaryTop && Math.exp(primaryTop.logprob) >= gate)) {
      return primary.filter((t) => usable(t.text)).map((t) => ({ text: t.text, p: Math.exp(t.logprob) }));
    }
    stats.ensembledSteps++;
    const proposals = [primary];
    for (const member of members.slice(1)) {
      stats.memberCalls++;
      proposals.push(await member.model.nextTokenLogprobs(text, topK));
    }
    const candidates = [...new Set(proposals.flat().map((t) => t.text).filter(usable))];
    const mixed = new Map<string, number>(candidates.map((c) => [c, 0]));
    for (let m = 0; m < members.length; m++) {
      const { model, weight } = members[m];
      const own = proposals[m];
      const byId = new Map(own.filter((t) => t.token !== null).map((t) => [t.token!, Math.exp(t.logprob)]));
      const byText = new Map(own.map((t) => [t.text, Math.exp(t.logprob)]));
      // What this member leaves outside its top-k, spread thinly: the floor for strings it did not propose.
      const floor = Math.min(Math.max(0, 1 - [...byText.values()].reduce((a, b) => a + b, 0)) / 100, Math.min(...byText.values()));
      for (const candidate of candidates) {
        let p = byText.get(candidate);
        if (p === undefined) {
          const first = (await model.tokenize(candidate))[0];
          p = first !== undefined ? byId.get(first) : undefined;
        }
        mixed.set(candidate, mixed.get(candidate)! + weight * (p ?? floor));
      }
    }
    return [...mixed].map(([t, p]) => ({ text: t, p })).sort((a, b) => b.p - a.p);
  }

  return {
    id: options.id,
    stats,
    participants,
    tokenize: codePointTokens,
    detokenize: codePointText,

    async nextTokenLogprobs(context: string, k: number): Promise<TokenLogprob[]> {
      const next = await mixedNext(context, context, false);
      const total = next.reduce((a, b) => a + b.p, 0) || 1;
      return next.slice(0, k).map((n) => ({ token: null, text: n.text, logprob: Math.log(n.p / total) }));
    },

    async logLikelihood(context: string, continuation: string): Promise<LogLikelihood> {
      const members = participants(context || continuation);
      const scores = await Promise.all(members.map((m) => m.model.logLikelihood(context, continuation)));
      return {
        logprob: mixLogLikelihoods(scores, members.map((m) => m.weight)),
        tokens: [...continuation].length,
        bytes: Buffer.byteLength(continuation, "utf8"),
        greedy: scores[0].greedy,
      };
    },

    async *generate(prompt: string, generateOptions: GenerateOptions = {}): AsyncGenerator<GenerateChunk> {
      const maxTokens = generateOptions.maxTokens ?? 256;
      const temperatureOut = generateOptions.temperature ?? 0;
      const rng = new Rng(generateOptions.seed ?? 0);
      const stops = new StopMatcher(generateOptions.stop ?? []);
      let generated = "";
      let steps = 0;
      let reason: "stop" | "length" = "length";
      for (; steps < maxTokens; steps++) {
        if (generateOptions.signal?.aborted) {
          yield { type: "finish", reason: "abort", tokens: steps };
          return;
        }
        const next = await mixedNext(prompt + generated, prompt, true);
        if (next.length === 0) {
          reason = "stop"; // no member can continue with whole characters
          break;
        }
        const piece = temperatureOut > 0 ? sample(next, temperatureOut, rng) : next[0].text;
        generated += piece;
        const safe = stops.push(piece);
        if (safe) yield { type: "text", text: safe };
        if (stops.done) {
          yield { type: "finish", reason: "stop", tokens: steps + 1 };
          return;
        }
      }
      const rest = stops.flush();
      if (rest) yield { type: "text", text: rest };
      yield { type: "finish", reason, tokens: steps };
    },

    async close() {},
  };
}

/** A proposal can join the shared text only if it is whole characters (not a partial UTF-8 byte). */
function usable(text: string): boolean {
  return text.length > 0 && !text.includes("\ufffd");
}

function sample(next: { text: string; p: number }[], temperature: number, rng: Rng): string {
  const weights = next.map((n) => n.p ** (1 / temperature));
  let r = rng.next() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < next.length; i++) if ((r -= weights[i]) <= 0) return next[i].text;
  return next[next.length - 1].text;
}

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
