/** One model on one item: the log-likelihoods or generation an item needs, scored. */
import type { LanguageModel } from "../core/language-model.js";
import { generateText } from "../core/language-model.js";
import type { TaskItem } from "../formats/tasks.js";
import { bpbScore, type ResultRecord } from "./result.js";
import { bitsPerByte, exactMatch, scoreMultipleChoice } from "./score.js";

/** Exact-match generations stop at the first newline, as lm-eval's generate_until tasks usually do. */
export const EXACT_MATCH_STOP = ["\n"];

export async function evaluateItem(model: LanguageModel, item: TaskItem, signal?: AbortSignal): Promise<ResultRecord> {
  const base = { model: model.id, item: item.id, domain: item.domain, task: item.task };
  switch (item.kind) {
    case "multiple_choice": {
      const lls = await Promise.all(item.choices.map((choice) => model.logLikelihood(item.context, choice)));
      const s = scoreMultipleChoice(lls, item.choices, item.answer);
      return {
        ...base, metric: "acc", score: s.acc, acc_norm: s.accNorm,
        logprobs: lls.map((l) => l.logprob), greedy: lls.map((l) => l.greedy), tokens: lls.map((l) => l.tokens),
      };
    }
    case "bits_per_byte": {
      const ll = await model.logLikelihood("", item.text);
      const bpb = bitsPerByte(ll.logprob, ll.bytes);
      return { ...base, metric: "bpb", score: bpbScore(bpb), bpb, logprob: ll.logprob, bytes: ll.bytes, tokens: ll.tokens };
    }
    case "exact_match": {
      const { text } = await generateText(model, item.prompt, { maxTokens: item.maxTokens, temperature: 0, stop: EXACT_MATCH_STOP, signal });
      return { ...base, metric: "exact_match", score: exactMatch(text, item.answers), generation: text };
    }
  }
}
