import type { ChatTurn, GenerateOptions } from "../core/language-model.js";
import { freshSeed } from "../core/rng.js";
import { invalidRequest } from "./openai-errors.js";

/**
 * Validation of OpenAI request bodies: the fields cogen honours, checked with messages that name
 * the parameter. Unknown fields are ignored, as OpenAI-compatible servers commonly do.
 */
export type ChatMessage = ChatTurn;

export interface SamplingRequest {
  model: string;
  stream: boolean;
  maxTokens: number;
  options: Omit<GenerateOptions, "signal" | "maxTokens">;
}

export interface Limits {
  /** Largest max_tokens a request may ask for (also the default). */
  maxTokensCap: number;
}

type Body = Record<string, unknown>;

export function asBody(value: unknown): Body {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidRequest("the request body must be a JSON object");
  return value as Body;
}

export function parseSampling(body: Body, limits: Limits, maxTokensField = "max_tokens"): SamplingRequest {
  if (typeof body.model !== "string" || body.model === "") throw invalidRequest("'model' is required", "model");
  const requested = body[maxTokensField] ?? body.max_completion_tokens;
  let maxTokens = limits.maxTokensCap;
  if (requested !== undefined && requested !== null) {
    if (typeof requested !== "number" || !Number.isInteger(requested) || requested < 0) {
      throw invalidRequest(`'${maxTokensField}' must be a non-negative integer`, maxTokensField);
    }
    if (requested > limits.maxTokensCap) {
      throw invalidRequest(`'${maxTokensField}' is ${requested}, above this server's limit of ${limits.maxTokensCap}`, maxTokensField);
    }
    maxTokens = requested;
  }
  const number = (key: string, min: number, max: number): number | undefined => {
    const value = body[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "number" || !(value >= min && value <= max)) throw invalidRequest(`'${key}' must be a number in [${min}, ${max}]`, key);
    return value;
  };
  let stop: string[] | undefined;
  if (typeof body.stop === "string") stop = [body.stop];
  else if (Array.isArray(body.stop)) {
    if (!body.stop.every((s) => typeof s === "string") || body.stop.length > 4) throw invalidRequest("'stop' must be a string or up to 4 strings", "stop");
    stop = body.stop as string[];
  } else if (body.stop !== undefined && body.stop !== null) throw invalidRequest("'stop' must be a string or a list of strings", "stop");
  const seed = body.seed;
  if (seed !== undefined && seed !== null && (typeof seed !== "number" || !Number.isInteger(seed))) throw invalidRequest("'seed' must be an integer", "seed");
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw invalidRequest("only n = 1 is supported", "n");
  return {
    model: body.model,
    stream: body.stream === true,
    maxTokens,
    // Without a seed each request draws its own (answered in x-cogen-seed), so sampling never repeats by accident.
    options: { temperature: number("temperature", 0, 2) ?? 1, topP: number("top_p", 0, 1), stop, seed: (seed as number | null | undefined) ?? freshSeed() },
  };
}

export function parseMessages(body: Body): ChatMessage[] {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw invalidRequest("'messages' must be a non-empty list", "messages");
  return messages.map((m, i) => {
    if (typeof m !== "object" || m === null) throw invalidRequest(`messages[${i}] must be an object`, `messages[${i}]`);
    const { role, content } = m as Body;
    if (!["system", "user", "assistant", "tool", "developer"].includes(role as string)) {
      throw invalidRequest(`messages[${i}].role must be system, user, assistant, tool or developer`, `messages[${i}].role`);
    }
    let text: string;
    if (typeof content === "string") text = content;
    else if (Array.isArray(content)) {
      // The content-parts form: only text parts can reach a text model.
      text = content
        .map((part, j) => {
          const p = part as Body;
          if (p?.type !== "text" || typeof p.text !== "string") throw invalidRequest(`messages[${i}].content[${j}] must be a text part`, `messages[${i}].content`);
          return p.text;
        })
        .join("");
    } else throw invalidRequest(`messages[${i}].content must be a string`, `messages[${i}].content`);
    return { role: role as ChatMessage["role"], content: text };
  });
}

export function parsePrompt(body: Body): string {
  const prompt = body.prompt;
  if (typeof prompt === "string") return prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === "string") return prompt[0];
  if (Array.isArray(prompt)) throw invalidRequest("only one prompt per request is supported", "prompt");
  throw invalidRequest("'prompt' must be a string", "prompt");
}
