/**
 * A GGUF's own chat template (`tokenizer.chat_template`) through node-llama-cpp's chat wrappers:
 * `resolveChatWrapper` maps a template it recognises to its specialised wrapper (ChatML, Llama 3,
 * Mistral, …) and any other to its Jinja renderer. Message text is tokenized as text and the
 * template's own markers as special tokens, so a user cannot forge a turn by typing one.
 */
import { SpecialToken, resolveChatWrapper, type ChatHistoryItem, type LlamaModel, type Token } from "node-llama-cpp";
import type { ChatTurn } from "../../core/language-model.js";

export interface RenderedChat {
  /** The chat up to where the assistant's answer begins, without a leading BOS (generation adds it). */
  tokens: Token[];
  /** Texts that end the assistant's turn under this template (its end-of-turn marker). */
  stop: string[];
}

/** A renderer for the model's template, or undefined when its GGUF carries none. */
export function chatRenderer(model: LlamaModel): ((messages: readonly ChatTurn[]) => RenderedChat) | undefined {
  const template = model.fileInfo.metadata.tokenizer?.chat_template;
  if (typeof template !== "string" || template.trim() === "") return undefined;
  const wrapper = resolveChatWrapper({
    bosString: model.tokens.bosString,
    architecture: model.fileInfo.metadata.general?.architecture,
    filename: model.filename,
    fileInfo: model.fileInfo,
    tokenizer: model.tokenizer,
    warningLogs: false,
  });
  if (!wrapper) return undefined;
  return (messages) => {
    const history: ChatHistoryItem[] = messages.map((m): ChatHistoryItem => {
      if (m.role === "system" || m.role === "developer") return { type: "system", text: m.content };
      if (m.role === "assistant") return { type: "model", response: [m.content] };
      return { type: "user", text: m.content };
    });
    // The open assistant turn that the answer fills.
    history.push({ type: "model", response: [] });
    const state = wrapper.generateContextState({ chatHistory: history });
    const tokens = state.contextText.tokenize(model.tokenizer);
    const bos = model.tokens.bos;
    if (bos !== null && tokens[0] === bos) tokens.shift();
    const stop = (state.stopGenerationTriggers ?? [])
      .filter((trigger) => !trigger.values.some((value) => value instanceof SpecialToken))
      .map((trigger) => trigger.toString())
      .filter((text, i, all) => text !== "" && all.indexOf(text) === i);
    return { tokens, stop };
  };
}
