import { ConfigError } from "../../core/errors.js";
import type { GenerateChunk, GenerateOptions, LanguageModel, LogLikelihood, TokenLogprob } from "../../core/language-model.js";
import { freshSeed, Rng } from "../../core/rng.js";
import { StopMatcher } from "../../models/stop.js";
import { utf8Length } from "../../core/language-model.js";
import { codePointCount, codePointText, codePointTokens, isWholeText, scoredCandidates } from "../composite-text.js";

/**
 * A token-level ensemble of models whose vocabularies differ (after UniTE and GaC). Proposals
 * meet in one space, their decoded text: at each step every member proposes its top-k next
 * tokens, each whole-character proposal is scored by the ensemble's own log-likelihood (below),
 * the likeliest prefix-free set of them is the step's distribution, one string is chosen, and all
 * members continue from the same text, so they stay in sync whatever their tokenizers.
 *
 * Scoring (`logLikelihood`) is a mixture over whole sequences, weighted by the ranking: members
 * that share a tokenizer are mixed token by token, the rest over the sequence (see
 * mixLogLikelihoods) — a proper distribution whatever the tokenizers. `nextTokenLogprobs` is the
 * step distribution above, so for a one-step continuation it gives exactly what `logLikelihood`
 * gives; a longer generation is a chain of such steps (each a fresh mixture), not the sequence
 * mixture itself. The ensemble's tokens are code points and its candidates carry `token: null`.
 *
 * Two guards keep generation cheap and safe: a confidence gate (when the primary member's top
 * whole-character token has probability at least `gate`, the step follows the primary alone, so
 * confident steps cost one model; at 1 or more, where only a probability of exactly 1 would
 * settle a step, all members are asked at once), and a compatibility filter (members much
 * weaker than the primary on the request's domain are left out: ensembling models of very
 * different accuracy hurts). `greedy` is true exactly when the ensemble's own temperature-0 generation — gate
 * included — would produce the continuation, step by step.
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
  /** Proposals per member per step, and candidates scored per step (default 8). */
  topK?: number;
  /** In generation, follow the primary alone when its top probability is at least this (default 0.5; 1 = always mix). */
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

/** Steps remembered per ensemble. */
const STEP_CACHE = 256;

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
  const chooseParticipants = (text: string): Participant[] => {
    const domain = options.domainOf?.(text) ?? "default";
    const ability = (m: EnsembleMember) => m.abilities[domain] ?? m.abilities.default ?? 0;
    const ranked = [...options.members].sort((a, b) => ability(b) - ability(a));
    const best = ability(ranked[0]);
    const kept = ranked.filter((m) => ability(m) >= best - maxGap);
    const raw = kept.map((m) => Math.exp((ability(m) - best) / temperature));
    const total = raw.reduce((a, b) => a + b, 0);
    return kept.map((m, i) => ({ model: m.model, weight: raw[i] / total }));
  };
  /** Participants are chosen once per request text, not at every step (a step's key holds its request's text). */
  const chosen = new Map<string, Participant[]>();
  const participants = (text: string): Participant[] => {
    let members = chosen.get(text);
    if (!members) {
      members = chooseParticipants(text);
      if (chosen.size >= STEP_CACHE) chosen.delete(chosen.keys().next().value!);
      chosen.set(text, members);
    }
    return members;
  };

  /** log P(continuation | context) under the participants' mixture. */
  async function mixture(members: Participant[], context: string, continuation: string): Promise<number> {
    const scores = await Promise.all(members.map((m) => m.model.logLikelihood(context, continuation)));
    return mixLogLikelihoods(scores, members.map((m) => m.weight));
  }

  /** Recent steps: the choices of one item share their context, and greedy checks replay generation's steps. */
  const steps = new Map<string, Promise<TokenLogprob[]>>();
  function step(text: string, routeText: string, useGate: boolean): Promise<TokenLogprob[]> {
    const key = `${useGate ? 1 : 0}\u0000${routeText}\u0000${text}`;
    let result = steps.get(key);
    if (!result) {
      result = computeStep(text, routeText, useGate);
      result.catch(() => steps.delete(key));
      if (steps.size >= STEP_CACHE) steps.delete(steps.keys().next().value!);
      steps.set(key, result);
    }
    return result;
  }

  /**
   * One step's distribution after `text`, most likely first, for a request routed by
   * `routeText`. With `useGate`, a confident primary decides alone (generation's shortcut).
   */
  async function computeStep(text: string, routeText: string, useGate: boolean): Promise<TokenLogprob[]> {
    const members = participants(routeText);
    stats.steps++;
    // The others' proposals are asked for alongside the primary's (their evaluations overlap),
    // except where a confident primary may settle the step alone: then only after it, so that a
    // confident step costs one model. A gate of 1 settles only a probability of exactly 1.
    const ask = (member: Participant) => {
      stats.memberCalls++;
      return member.model.nextTokenLogprobs(text, topK);
    };
    const others = useGate && gate < 1 ? undefined : members.slice(1).map(ask);
    const primary = await ask(members[0]);
    const primaryWhole = primary.filter((t) => isWholeText(t.text));
    if (useGate && primaryWhole.length > 0 && Math.exp(primaryWhole[0].logprob) >= gate) {
      return primaryWhole.map((t) => ({ token: null, text: t.text, logprob: t.logprob }));
    }
    if (members.length > 1) stats.ensembledSteps++;
    const proposals = [primary, ...(await Promise.all(others ?? members.slice(1).map(ask)))];
    // Score the `topK` proposals with the most pooled mass (Σ weight × proposer's probability):
    // each scoring costs every member a log-likelihood.
    const pooled = new Map<string, number>();
    proposals.forEach((own, m) => {
      for (const t of own) if (isWholeText(t.text)) pooled.set(t.text, (pooled.get(t.text) ?? 0) + members[m].weight * Math.exp(t.logprob));
    });
    const shortlist = [...pooled].sort((a, b) => b[1] - a[1]).slice(0, topK).map(([candidate]) => candidate);
    return scoredCandidates(shortlist, (candidate) => mixture(members, text, candidate), Infinity);
  }

  /** Whether temperature-0 generation from `context` would produce exactly `continuation`. */
  async function greedyProduces(context: string, continuation: string): Promise<boolean> {
    let produced = "";
    while (produced.length < continuation.length) {
      const next = await step(context + produced, context, true);
      if (next.length === 0) return false;
      produced += next[0].text;
      if (!continuation.startsWith(produced)) return false;
    }
    return true;
  }

  return {
    id: options.id,
    stats,
    participants,
    tokenize: codePointTokens,
    detokenize: codePointText,

    async nextTokenLogprobs(context: string, k: number): Promise<TokenLogprob[]> {
      return (await step(context, context, false)).slice(0, k);
    },

    async logLikelihood(context: string, continuation: string): Promise<LogLikelihood> {
      return {
        logprob: await mixture(participants(context || continuation), context, continuation),
        tokens: codePointCount(continuation),
        bytes: utf8Length(continuation),
        greedy: await greedyProduces(context, continuation),
      };
    },

    async *generate(prompt: string, generateOptions: GenerateOptions = {}): AsyncGenerator<GenerateChunk> {
      const maxTokens = generateOptions.maxTokens ?? 256;
      const temperatureOut = generateOptions.temperature ?? 0;
      const rng = new Rng(generateOptions.seed ?? freshSeed());
      const stops = new StopMatcher(generateOptions.stop ?? []);
      yield { type: "experts", ids: participants(prompt).map((p) => p.model.id) };
      let generated = "";
      let reason: "stop" | "length" = "length";
      // maxTokens bounds steps; the finish chunk reports no count (steps are not the ensemble's tokens).
      for (let steps = 0; steps < maxTokens; steps++) {
        if (generateOptions.signal?.aborted) {
          yield { type: "finish", reason: "abort" };
          return;
        }
        const next = await step(prompt + generated, prompt, true);
        if (next.length === 0) {
          reason = "stop"; // no member can continue with whole characters
          break;
        }
        const piece = temperatureOut > 0 ? sample(next, temperatureOut, rng) : next[0].text;
        generated += piece;
        const safe = stops.push(piece);
        if (safe) yield { type: "text", text: safe };
        if (stops.done) {
          yield { type: "finish", reason: "stop" };
          return;
        }
      }
      const rest = stops.flush();
      if (rest) yield { type: "text", text: rest };
      yield { type: "finish", reason };
    },

    async close() {},
  };
}

function sample(next: TokenLogprob[], temperature: number, rng: Rng): string {
  const weights = next.map((n) => Math.exp(n.logprob / temperature));
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
