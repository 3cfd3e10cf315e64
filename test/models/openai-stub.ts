/**
 * A faithful stand-in for an OpenAI-compatible server (node:http on 127.0.0.1, random port).
 * Its "model" is a tiny deterministic bigram model over a fixed vocabulary with a greedy
 * longest-match tokenizer, so expected log-likelihoods can be computed independently
 * (`reference`). It serves /v1/completions (echo + logprobs, streaming), /v1/chat/completions
 * (streaming SSE) and /tokenize, and can inject 429/500 errors, delays and a no-echo mode.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

const WORDS = [" the", " a", " of", " is", " Paris", " London", " Rome", " capital", " France", "The", " answer", " 42", "\n\n"];
const CHARS = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).concat(["\n"]);
/** Token 0 is BOS with empty text, as servers echo it. */
export const STUB_VOCAB = ["", ...CHARS, ...WORDS];
const BOS = 0;

function hash(a: number, b: number): number {
  let h = Math.imul(a + 1, 0x9e3779b1) ^ Math.imul(b + 7, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return ((h ^ (h >>> 12)) >>> 0) / 2 ** 32;
}

const logSoftmaxCache = new Map<number, Float64Array>();
/** log P(next | prev) over the vocabulary (BOS never follows). */
function nextLogprobs(prev: number): Float64Array {
  let row = logSoftmaxCache.get(prev);
  if (row) return row;
  const logits = STUB_VOCAB.map((_, j) => (j === BOS ? -Infinity : 6 * hash(prev, j)));
  const max = Math.max(...logits);
  const lse = max + Math.log(logits.reduce((s, x) => s + Math.exp(x - max), 0));
  row = Float64Array.from(logits, (x) => x - lse);
  logSoftmaxCache.set(prev, row);
  return row;
}

export function stubTokenize(text: string): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < text.length) {
    let best = -1;
    for (let j = 1; j < STUB_VOCAB.length; j++) {
      const t = STUB_VOCAB[j];
      if (text.startsWith(t, i) && (best < 0 || t.length > STUB_VOCAB[best].length)) best = j;
    }
    if (best < 0) throw new Error(`stub tokenizer: character ${JSON.stringify(text[i])} is not in the vocabulary`);
    out.push(best);
    i += STUB_VOCAB[best].length;
  }
  return out;
}

function argmax(row: Float64Array): number {
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
  return best;
}

function topK(row: Float64Array, k: number): Record<string, number> {
  const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a]).slice(0, k);
  return Object.fromEntries(order.map((j) => [STUB_VOCAB[j], row[j]]));
}

/**
 * Independent reference: log P(continuation | context), scoring the tokens of context+continuation
 * after their longest common prefix with the context's tokens.
 */
export function reference(context: string, continuation: string): { logprob: number; tokens: number; greedy: boolean } {
  const ctx = [BOS, ...stubTokenize(context)];
  const whole = [BOS, ...stubTokenize(context + continuation)];
  let common = 0;
  while (common < ctx.length && common < whole.length && ctx[common] === whole[common]) common++;
  let logprob = 0;
  let greedy = true;
  for (let i = common; i < whole.length; i++) {
    const row = nextLogprobs(whole[i - 1]);
    logprob += row[whole[i]];
    if (argmax(row) !== whole[i]) greedy = false;
  }
  return { logprob, tokens: whole.length - common, greedy };
}

/** Greedy generation of the stub model. */
export function stubGreedy(prompt: string, maxTokens: number): number[] {
  const tokens = [BOS, ...stubTokenize(prompt)];
  const out: number[] = [];
  for (let i = 0; i < maxTokens; i++) {
    const next = argmax(nextLogprobs(tokens[tokens.length - 1]));
    out.push(next);
    tokens.push(next);
  }
  return out;
}

export interface StubOptions {
  /** The first N requests fail with this status (then requests succeed). */
  failFirst?: number;
  failStatus?: number;
  /** Every request waits this long before answering. */
  delayMs?: number;
  /** Behave like a server without prompt log-probabilities (echo ignored). */
  noEcho?: boolean;
  /** Required bearer token, if any. */
  apiKey?: string;
  /** Reject echo+logprobs with HTTP 400, as hosted chat-first APIs do. */
  rejectEcho?: boolean;
  /** Streams end with an error event instead of finishing. */
  streamError?: boolean;
  /**
   * A context of this many tokens: a longer prompt (with BOS) is refused with HTTP 400 in the
   * words of llama.cpp's server or of vLLM, as those servers refuse it.
   */
  context?: { tokens: number; server: "llama.cpp" | "vllm" };
  /** Refuse chats with HTTP 400 as vLLM does for a model without a chat template. */
  noChatTemplate?: boolean;
}

export interface StubServer {
  url: string;
  requests: number;
  /** Most requests handled at the same time. */
  maxInFlight: number;
  /** Sum over requests of the milliseconds each was open (busy time / wall time = mean in flight). */
  busyMs: number;
  /** Authorization headers seen. */
  authorizations: string[];
  options: StubOptions;
  close(): Promise<void>;
}

export async function startStub(options: StubOptions = {}): Promise<StubServer> {
  let inFlight = 0;
  let failuresLeft = options.failFirst ?? 0;
  const state: StubServer = {
    url: "",
    requests: 0,
    maxInFlight: 0,
    busyMs: 0,
    authorizations: [],
    options,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = createServer((req, res) => {
    state.requests++;
    inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    const opened = performance.now();
    res.on("close", () => {
      inFlight--;
      state.busyMs += performance.now() - opened;
    });
    handle(req, res).catch((error) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: String(error) } }));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.headers.authorization) state.authorizations.push(req.headers.authorization);
    if (options.delayMs && req.url !== "/stats") await new Promise((r) => setTimeout(r, options.delayMs));
    if (failuresLeft > 0) {
      failuresLeft--;
      const status = options.failStatus ?? 429;
      res.writeHead(status, { "content-type": "application/json", "retry-after": "0" });
      res.end(JSON.stringify({ error: { message: `injected ${status}` } }));
      return;
    }
    if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return json(res, 401, { error: { message: "bad api key" } });
    }
    if (req.url === "/stats") {
      const stats = { requests: state.requests - 1, maxInFlight: state.maxInFlight, busyMs: state.busyMs };
      state.requests = 0;
      state.maxInFlight = 0;
      state.busyMs = 0;
      return json(res, 200, stats);
    }
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
    if (req.url === "/tokenize") return json(res, 200, { tokens: stubTokenize(body.prompt) });
    if (req.url === "/v1/completions" && options.rejectEcho && body.echo && body.logprobs) {
      return json(res, 400, { error: { message: "echo is not supported together with logprobs" } });
    }
    if (options.context && (req.url === "/v1/completions" || req.url === "/v1/chat/completions")) {
      const text = req.url === "/v1/completions" ? String(body.prompt ?? "") : (body.messages as { content: string }[]).map((m) => m.content).join("\n");
      const tokens = stubTokenize(text).length + 1;
      if (tokens > options.context.tokens) return json(res, 400, contextRefusal(options.context.server, tokens, options.context.tokens));
    }
    if (req.url === "/v1/chat/completions" && options.noChatTemplate) {
      return json(res, 400, { object: "error", type: "BadRequestError", code: 400, message: "default chat template is no longer allowed, so you must provide a chat template if the tokenizer does not define one." });
    }
    if (req.url === "/v1/completions") return completions(body, res);
    if (req.url === "/v1/chat/completions") return chatCompletions(body, res);
    json(res, 404, { error: { message: `no route ${req.url}` } });
  }

  function generateTokens(prompt: string, maxTokens: number, stop: string[]): { text: string; tokens: number[]; finish: string } {
    const all = stubGreedy(prompt, maxTokens);
    let text = "";
    const tokens: number[] = [];
    for (const t of all) {
      const candidate = text + STUB_VOCAB[t];
      const at = stop.map((s) => candidate.indexOf(s)).filter((i) => i >= 0);
      if (at.length > 0) return { text: candidate.slice(0, Math.min(...at)), tokens, finish: "stop" };
      text = candidate;
      tokens.push(t);
    }
    return { text, tokens, finish: "length" };
  }

  function completions(body: Record<string, unknown>, res: ServerResponse): void {
    const prompt = String(body.prompt ?? "");
    const maxTokens = Number(body.max_tokens ?? 16);
    const stop = (Array.isArray(body.stop) ? body.stop : body.stop ? [body.stop] : []) as string[];
    if (body.stream) {
      const gen = generateTokens(prompt, maxTokens, stop);
      const pieces = gen.tokens.map((t) => STUB_VOCAB[t]);
      const stopped = pieces.join("") !== gen.text;
      if (stopped) pieces.push(gen.text.slice(pieces.join("").length));
      const usage = { prompt_tokens: stubTokenize(prompt).length + 1, completion_tokens: gen.tokens.length, total_tokens: stubTokenize(prompt).length + 1 + gen.tokens.length };
      const usageChunk = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage ? [{ choices: [], usage }] : [];
      return sse(res, pieces.map((p) => ({ choices: [{ index: 0, text: p, finish_reason: null }] })), {
        choices: [{ index: 0, text: "", finish_reason: gen.finish }],
      }, usageChunk);
    }
    const k = body.logprobs === undefined || body.logprobs === null ? 0 : Number(body.logprobs);
    const promptTokens = [BOS, ...stubTokenize(prompt)];
    const gen = stubGreedy(prompt, maxTokens);
    const echo = Boolean(body.echo) && !options.noEcho;
    const shown = echo ? [...promptTokens, ...gen] : gen;
    const history = [...promptTokens, ...gen];
    const first = echo ? 0 : promptTokens.length;
    const tokenLogprobs: (number | null)[] = [];
    const top: (Record<string, number> | null)[] = [];
    const offsets: number[] = [];
    let offset = 0;
    // Log-probabilities only when asked for (a sort of the vocabulary per token is most of this
    // server's work, and benches measure others against it).
    for (let i = 0; i < (k > 0 ? shown.length : 0); i++) {
      const position = first + i;
      offsets.push(offset);
      offset += [...STUB_VOCAB[shown[i]]].length;
      if (position === 0) {
        tokenLogprobs.push(null);
        top.push(null);
      } else {
        const row = nextLogprobs(history[position - 1]);
        tokenLogprobs.push(row[history[position]]);
        top.push(topK(row, Math.max(1, k)));
      }
    }
    const text = (echo ? prompt : "") + gen.map((t) => STUB_VOCAB[t]).join("");
    json(res, 200, {
      id: "cmpl-stub",
      object: "text_completion",
      choices: [{
        index: 0,
        text,
        finish_reason: "length",
        logprobs: k > 0 ? { tokens: shown.map((t) => STUB_VOCAB[t]), token_logprobs: tokenLogprobs, top_logprobs: top, text_offset: offsets } : null,
      }],
      usage: { prompt_tokens: promptTokens.length, completion_tokens: gen.length },
    });
  }

  function chatCompletions(body: Record<string, unknown>, res: ServerResponse): void {
    const messages = body.messages as { role: string; content: string }[];
    const prompt = messages.map((m) => m.content).join("\n");
    const gen = generateTokens(prompt, Number(body.max_tokens ?? 16), (body.stop as string[]) ?? []);
    if (!body.stream) {
      return json(res, 200, { choices: [{ index: 0, message: { role: "assistant", content: gen.text }, finish_reason: gen.finish }] });
    }
    const pieces = gen.tokens.map((t) => STUB_VOCAB[t]);
    sse(res, [{ choices: [{ index: 0, delta: { role: "assistant" }, finish_reason: null }] },
      ...pieces.map((p) => ({ choices: [{ index: 0, delta: { content: p }, finish_reason: null }] }))], {
      choices: [{ index: 0, delta: {}, finish_reason: gen.finish }],
    });
  }

  function sse(res: ServerResponse, events: unknown[], last: unknown, after: unknown[] = []): void {
    res.writeHead(200, { "content-type": "text/event-stream" });
    if (options.streamError) last = { error: { message: "model crashed mid-stream" } };
    for (const event of [...events, last, ...after]) res.write(`data: ${JSON.stringify(event)}\n\n`);
    res.end("data: [DONE]\n\n");
  }

  function contextRefusal(server: "llama.cpp" | "vllm", tokens: number, context: number): unknown {
    return server === "llama.cpp"
      ? { error: { code: 400, message: "the request exceeds the available context size, try increasing it", type: "exceed_context_size_error", n_prompt_tokens: tokens, n_ctx: context } }
      : {
          object: "error", type: "BadRequestError", param: null, code: 400,
          message: `This model's maximum context length is ${context} tokens. However, you requested ${tokens + 1} tokens (${tokens} in the messages, 1 in the completion). Please reduce the length of the messages or completion.`,
        };
  }

  function json(res: ServerResponse, status: number, value: unknown): void {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(value));
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return state;
}
