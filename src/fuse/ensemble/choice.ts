import type { LanguageModel, LogLikelihood, NextTokenView, TokenLogprob } from "../../core/language-model.js";
import { isWholeText } from "../composite-text.js";
import { mixLogLikelihoods } from "./mix.js";

export interface Participant {
  model: LanguageModel;
  weight: number;
}

/** What a step decided from views: the chosen candidate (null: no member can continue), and what it cost. */
export interface ViewedChoice {
  choice: TokenLogprob | null;
  mixed: boolean;
  memberCalls: number;
}

/**
 * A temperature-0 step — the string that the ensemble's step distribution (ensemble.ts) puts
 * first, gate included — decided from the members' next-token views instead of their whole
 * distributions. The step is the same sequence of comparisons (gate, each member's top-k
 * boundary, the shortlist's boundary, the best mixture score); a view's log-probabilities are
 * within its `error` of the exact ones, and every comparison is made only when its margin exceeds
 * the errors, so where it answers it decides exactly as the exact step does. A candidate that is
 * not one token of a member's view is scored by that member's exact `logLikelihood` (a llama.cpp
 * member reads its whole distribution from the logits its view left, without evaluating again).
 * Undefined when a comparison is too close or a member has no view: the caller computes the step
 * exactly.
 */
export async function chooseFromViews(members: readonly Participant[], text: string, topK: number, gate: number): Promise<ViewedChoice | undefined> {
  if (members.some((m) => !m.model.nextTokenView)) return undefined;
  // One more than the proposals, to see whether the k-th is clear of the next.
  const view = (m: Participant) => m.model.nextTokenView!(text, topK + 1);
  // As the exact step: the others alongside the primary, except where the gate may settle it alone.
  const early = gate < 1 ? undefined : members.slice(1).map(view);
  const primary = await view(members[0]);
  const primaryWhole = primary.top.slice(0, topK).filter((t) => isWholeText(t.text));
  if (primaryWhole.length > 0) {
    // Which whole token is first must be clear before its probability is held against the gate.
    const [first, second] = primaryWhole;
    if (second && !clear(first.logprob, second.logprob, 2 * primary.error)) return undefined;
    const settled = Math.exp(first.logprob - primary.error) >= gate;
    if (!settled && Math.exp(first.logprob + primary.error) >= gate) return undefined;
    if (settled) {
      if (!proposalsClear(primary, topK)) return undefined;
      return { choice: { token: null, text: first.text, logprob: first.logprob }, mixed: false, memberCalls: 1 };
    }
  }
  const views = [primary, ...(await Promise.all(early ?? members.slice(1).map(view)))];
  if (!views.every((v) => proposalsClear(v, topK))) return undefined;
  const error = Math.max(...views.map((v) => v.error));
  // The shortlist: the topK whole proposals with the most pooled mass (Σ weight × proposer's probability).
  const pooled = new Map<string, number>();
  views.forEach((v, m) => {
    for (const t of v.top.slice(0, topK)) if (isWholeText(t.text)) pooled.set(t.text, (pooled.get(t.text) ?? 0) + members[m].weight * Math.exp(t.logprob));
  });
  const ranked = [...pooled].sort((a, b) => b[1] - a[1]);
  if (ranked.length > topK && !clear(Math.log(ranked[topK - 1][1]), Math.log(ranked[topK][1]), 2 * error)) return undefined;
  // Each candidate scored by the mixture of the members' probabilities of it: from the view where
  // it is one token there, else the member's exact log-likelihood (error 0, within any bound).
  const shortlist = ranked.slice(0, topK).map(([candidate]) => candidate);
  const scored = await Promise.all(
    shortlist.map((candidate) =>
      Promise.all(
        views.map((v, m): LogLikelihood | Promise<LogLikelihood> => {
          const own = v.oneToken(candidate);
          return own ? { logprob: own.logprob, tokens: 1, bytes: 0, greedy: false, perToken: { ids: [own.token], logprobs: [own.logprob] } } : members[m].model.logLikelihood(text, candidate);
        }),
      ),
    ),
  );
  let best: TokenLogprob | null = null;
  let runnerUp = -Infinity;
  for (const [i, candidate] of shortlist.entries()) {
    const logprob = mixLogLikelihoods(scored[i], members.map((m) => m.weight));
    if (!best || logprob > best.logprob) {
      runnerUp = best?.logprob ?? -Infinity;
      best = { token: null, text: candidate, logprob };
    } else runnerUp = Math.max(runnerUp, logprob);
  }
  if (best && (!Number.isFinite(best.logprob) || !clear(best.logprob, runnerUp, 2 * error))) return undefined;
  return { choice: best, mixed: true, memberCalls: members.length };
}

/** Whether a ≥ b holds beyond `margin` (either value off by its error cannot reverse or tie them). */
function clear(a: number, b: number, margin: number): boolean {
  return a - b > margin;
}

/** Whether a view's top-k proposals are the same tokens as the exact top-k (the k-th clear of the next, or no next at all in an exact view). */
function proposalsClear(view: NextTokenView, topK: number): boolean {
  if (view.top.length <= topK) return view.error === 0;
  return clear(view.top[topK - 1].logprob, view.top[topK].logprob, 2 * view.error);
}
