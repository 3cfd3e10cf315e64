/**
 * A LanguageModel backed by any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, a
 * hosted API). Log-likelihoods come from /v1/completions with `echo` and `logprobs` (servers
 * that cannot echo prompt log-probabilities fail with a BackendError saying so); generation
 * streams from /v1/completions (raw text continuation, the default) or /v1/chat/completions;
 * a chat (`generateChat`) always goes to /v1/chat/completions, so the server's template applies.
 * A caller that wants only the whole answer (`whole`) gets it from one non-streaming request.
 */
import { plainChat } from "../../core/chat.js";
import { BackendError, ContextLengthError } from "../../core/errors.js";
import type { ChatTurn, GenerateChunk, GenerateOptions, LanguageModel, LogLikelihood, SequenceToken, TokenLogprob } from "../../core/language-model.js";
import { StopMatcher } from "../stop.js";
import { OpenAIHttp, type HttpSettings } from "./http.js";
import { contextLengthExceeded, lacksChatTemplate, echoLogLikelihood, echoSequenceTopK, completionAnswer, streamDelta, topLogprobs } from "./wire.js";

export interface OpenAIModelSettings extends HttpSettings {
  /** The LanguageModel id (results are keyed by it). */
  id: string;
  /** The server's name for the model (the `model` field of each request). */
  model: string;
  /** Generate through /v1/chat/completions (the prompt becomes one user message) instead of /v1/completions. */
  chat?: boolean;
  /** Default maximum generated tokens (default 256). */
  maxTokens?: number;
}

export interface OpenAIModel extends LanguageModel {
  /** The HTTP layer, exposed for its concurrency statistics. */
  readonly http: OpenAIHttp;
}

export function createOpenAIModel(settings: OpenAIModelSettings): OpenAIModel {
  const backend = `openai(${settings.id})`;
  const http = new OpenAIHttp(settings, backend);
  let closed = false;
  const checkOpen = () => {
    if (closed) throw new BackendError(backend, "model is closed");
  };

  /** A server's refusal of a prompt longer than its context fails that one input, not the model. */
  const checkContextLength = (error: unknown): void => {
    const tooLong = error instanceof BackendError ? contextLengthExceeded(error.message) : undefined;
    if (tooLong !== undefined) throw new ContextLengthError(backend, `the prompt is longer than the server's context (${tooLong})`);
  };

  // vLLM and llama.cpp server both serve /tokenize and /detokenize next to /v1 (not under it).
  const tokenizer = new OpenAIHttp({ ...settings, baseUrl: settings.baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "") }, backend);

  async function tokenize(text: string): Promise<number[]> {
    checkOpen();
    const response = (await tokenizer.postJson("/tokenize", { model: settings.model, prompt: text, content: text, add_special_tokens: false })) as { tokens?: unknown };
    if (!Array.isArray(response.tokens) || !response.tokens.every((t) => Number.isInteger(t))) {
      throw new BackendError(backend, "the server's /tokenize returned no token ids");
    }
    return response.tokens as number[];
  }

  async function detokenize(tokens: number[]): Promise<string> {
    checkOpen();
    const response = (await tokenizer.postJson("/detokenize", { model: settings.model, tokens })) as { prompt?: unknown; content?: unknown };
    const text = response.prompt ?? response.content;
    if (typeof text !== "string") throw new BackendError(backend, "the server's /detokenize returned no text");
    return text;
  }

  async function nextTokenLogprobs(context: string, topK: number): Promise<TokenLogprob[]> {
    checkOpen();
    const response = await http.postJson("/completions", {
      model: settings.model, prompt: context, max_tokens: 1, temperature: 0, logprobs: topK,
    }).catch((error: unknown) => {
      checkContextLength(error);
      throw error;
    });
    return topLogprobs(response, topK, backend);
  }

  /** /v1/completions with echo and logprobs; a server that refuses it cannot give prompt log-probabilities. */
  async function echoed(prompt: string, logprobs: number, what: string): Promise<unknown> {
    try {
      return await http.postJson("/completions", { model: settings.model, prompt, max_tokens: 1, temperature: 0, logprobs, echo: true });
    } catch (error) {
      checkContextLength(error);
      // Servers without prompt log-probabilities (hosted chat-only APIs) reject the request itself.
      const status = /HTTP (4\d\d)/.exec((error as Error).message)?.[1];
      if (status && !["401", "403", "408", "429"].includes(status)) {
        throw new BackendError(backend, `${(error as Error).message.replace(/^[^:]*: /, "")} — the server at ${settings.baseUrl} refused /v1/completions ` +
          `with echo and logprobs, so it cannot give prompt log-probabilities and cannot ${what}`);
      }
      throw error;
    }
  }

  async function logLikelihood(context: string, continuation: string): Promise<LogLikelihood> {
    checkOpen();
    const response = await echoed(context + continuation, 1, "score log-likelihoods");
    return echoLogLikelihood(response, context, continuation, backend);
  }

  async function sequenceTopK(text: string, k: number): Promise<SequenceToken[]> {
    checkOpen();
    const what = `give a whole-sequence top-${k}`;
    const response = await echoed(text, k, what);
    return echoSequenceTopK(response, text, k, backend, `the server at ${settings.baseUrl} returned no prompt top log-probabilities, so it cannot ` +
      `${what} (it must support /v1/completions with echo and logprobs: ${k}, as vLLM does)`);
  }

  function generate(prompt: string, options: GenerateOptions = {}): AsyncGenerator<GenerateChunk> {
    return settings.chat ? stream({ messages: [{ role: "user", content: prompt }] }, options) : stream({ prompt }, options);
  }

  /**
   * A chat goes to /v1/chat/completions whatever `chat` says: the server applies its own template.
   * A server that has none (a base model on vLLM refuses chats) gets the plain layout as a prompt,
   * from then on without asking again.
   */
  let serverHasNoTemplate = false;
  async function* generateChat(messages: readonly ChatTurn[], options: GenerateOptions = {}): AsyncGenerator<GenerateChunk> {
    if (!serverHasNoTemplate) {
      let started = false;
      try {
        for await (const chunk of stream({ messages: messages.map(({ role, content }) => ({ role, content })) }, options)) {
          started = true;
          yield chunk;
        }
        return;
      } catch (error) {
        if (started || !(error instanceof BackendError) || !lacksChatTemplate(error.message)) throw error;
        serverHasNoTemplate = true;
      }
    }
    yield* stream({ prompt: plainChat(messages) }, options);
  }

  /**
   * Stream a generation from /v1/completions (`prompt`) or /v1/chat/completions (`messages`); with
   * `whole`, one non-streaming request whose answer is one chunk.
   */
  async function* stream(input: { prompt: string } | { messages: ChatTurn[] }, options: GenerateOptions): AsyncGenerator<GenerateChunk> {
    checkOpen();
    const chat = "messages" in input;
    const body: Record<string, unknown> = {
      ...input,
      model: settings.model,
      max_tokens: options.maxTokens ?? settings.maxTokens ?? 256,
      temperature: options.temperature ?? 0,
    };
    if (!options.whole) {
      body.stream = true;
      // The final chunk then carries usage (OpenAI, vLLM, llama.cpp server); servers that ignore it lose nothing.
      body.stream_options = { include_usage: true };
    }
    if (options.topP !== undefined) body.top_p = options.topP;
    if (options.seed !== undefined) body.seed = options.seed;
    if (options.stop && options.stop.length > 0) body.stop = options.stop.slice(0, 4);
    // Servers honour `stop`, but cut locally too: some accept only four and some ignore it.
    const stop = new StopMatcher(options.stop ?? []);
    let finish: string | null = null;
    let usage: { prompt_tokens?: number; completion_tokens?: number } | undefined;
    try {
      for await (const delta of deltas(chat ? "/chat/completions" : "/completions", body, chat, options)) {
        const text = stop.push(delta.text);
        if (text) yield { type: "text", text };
        if (delta.finish) finish = delta.finish;
        if (delta.usage) usage = delta.usage;
        if (stop.done) break;
      }
    } catch (error) {
      if (options.signal?.aborted) {
        yield { type: "finish", reason: "abort" };
        return;
      }
      checkContextLength(error);
      throw error;
    }
    const rest = stop.flush();
    if (rest) yield { type: "text", text: rest };
    yield {
      type: "finish",
      reason: stop.done ? "stop" : finish === "length" ? "length" : "stop",
      ...(typeof usage?.completion_tokens === "number" && !stop.done ? { tokens: usage.completion_tokens } : {}),
      ...(typeof usage?.prompt_tokens === "number" ? { promptTokens: usage.prompt_tokens } : {}),
    };
  }

  /** The answer's pieces: each streamed event, or the whole answer of a non-streaming request. */
  async function* deltas(path: string, body: Record<string, unknown>, chat: boolean, options: GenerateOptions) {
    if (options.whole) {
      yield completionAnswer(await http.postJson(path, body, options.signal), chat, backend);
      return;
    }
    for await (const data of http.postStream(path, body, options.signal)) yield streamDelta(data, chat, backend);
  }

  return {
    id: settings.id,
    http,
    tokenize,
    detokenize,
    nextTokenLogprobs,
    logLikelihood,
    sequenceTopK,
    generate,
    generateChat,
    async close() {
      closed = true;
    },
  };
}
