import type { LanguageModel } from "../core/language-model.js";
import { GatewayError } from "./openai-errors.js";

/**
 * What a request may generate within the model's context, as OpenAI and llama.cpp's server decide
 * it: a prompt that leaves no room (one cell kept for BOS, one for a generated token when any is
 * asked for) is a 400 `context_length_exceeded`, never cut silently (a cut prompt would be echoed
 * whole while its usage counts only the part the model saw); otherwise `max_tokens` is capped
 * by the room left, and the answer ends with `finish_reason: "length"` there. Models that do not
 * know their context (remote servers, composites) are passed through: they decide themselves.
 * `knownTokens` is the prompt's length where the caller has it (a chat template's rendering,
 * whose markers are single special tokens that `tokenize` would split as text).
 */
export async function fitToContext(model: LanguageModel, prompt: string, maxTokens: number, param: "prompt" | "messages", knownTokens?: number): Promise<number> {
  const contextSize = model.contextSize;
  if (contextSize === undefined) return maxTokens;
  const promptTokens = knownTokens ?? (await model.tokenize(prompt)).length;
  const room = contextSize - BOS_CELLS - promptTokens;
  if (room < Math.min(maxTokens, 1)) {
    throw new GatewayError(
      400,
      "invalid_request_error",
      `This model's maximum context length is ${contextSize} tokens, however you requested ${promptTokens + BOS_CELLS + Math.min(maxTokens, 1)} tokens ` +
        `(${promptTokens} in your prompt, ${BOS_CELLS} for BOS, ${Math.min(maxTokens, 1)} for the completion). Please reduce the length of the ${param}.`,
      param,
      "context_length_exceeded",
    );
  }
  return Math.min(maxTokens, room);
}

/** A context cell kept for the BOS token the backend adds before the prompt. */
const BOS_CELLS = 1;
