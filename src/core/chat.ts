/**
 * How a model answers a chat, in one place for the gateway and for composites that pass a chat
 * on to the expert they pick: the model's own chat template (`formatChat`), else the messages
 * themselves for a model whose server applies its template (`generateChat`), else the plain layout.
 */
import type { ChatTurn, GenerateChunk, GenerateOptions, LanguageModel } from "./language-model.js";

/** A chat as one model takes it. */
export interface ChatInput {
  /** What its generation continues (also what usage counts when a backend reports no prompt tokens). */
  prompt: string;
  /** Texts that end the answer under its template (its end-of-turn marker). */
  stop: string[];
  /** Present when the model takes the messages themselves (`generateChat`). */
  messages?: readonly ChatTurn[];
  /** The prompt's length in the model's tokens, where its template rendering knows it (`ChatPrompt.promptTokens`). */
  promptTokens?: number;
}

/**
 * The plain chat layout, for models without a chat template of their own (the zoo's models are
 * trained on raw text; composites, whose members may each have another): one `role: content`
 * line per message, then `assistant:` for the answer to continue.
 */
export function plainChat(messages: readonly ChatTurn[]): string {
  return messages.map((m) => `${m.role}: ${m.content}\n`).join("") + "assistant:";
}

export function chatInput(model: LanguageModel, messages: readonly ChatTurn[]): ChatInput {
  const templated = model.formatChat?.(messages);
  if (templated) return { prompt: templated.prompt, stop: templated.stop, ...(templated.promptTokens !== undefined ? { promptTokens: templated.promptTokens } : {}) };
  return { prompt: plainChat(messages), stop: [], ...(model.generateChat ? { messages } : {}) };
}

/** Generate the answer to a chat (or to a plain prompt: `{ prompt, stop: [] }`) as `chatInput` laid it out for `model`. */
export function generateFrom(model: LanguageModel, input: ChatInput, options: GenerateOptions = {}): AsyncIterable<GenerateChunk> {
  if (input.messages && model.generateChat) return model.generateChat(input.messages, options);
  return model.generate(input.prompt, input.stop.length > 0 ? { ...options, stop: [...(options.stop ?? []), ...input.stop] } : options);
}
