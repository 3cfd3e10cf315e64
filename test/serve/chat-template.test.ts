/**
 * Chat completions use the model's own chat template when its GGUF carries one
 * (`tokenizer.chat_template`, through node-llama-cpp's chat wrappers: a ChatML template and a
 * template only the Jinja renderer knows), and the plain `role: content` layout when it does not
 * (and for an ensemble). A remote OpenAI-compatible expert gets the chat's messages, so its server
 * applies its own template; a router's pick answers with its own template. Generated GGUFs: the same tiny model with and without a template.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plainChat } from "../../src/core/chat.js";
import type { ChatTurn, GenerateChunk, LanguageModel } from "../../src/core/language-model.js";
import { Router } from "../../src/fuse/router/router.js";
import { createRouterModel } from "../../src/fuse/router/router-model.js";
import { chatRenderer } from "../../src/models/llamacpp/chat.js";
import { createLlamaCppModel, type LlamaCppModel } from "../../src/models/llamacpp/model.js";
import { createOpenAIModel } from "../../src/models/openai/model.js";
import { openModel } from "../../src/models/open.js";
import { ModelPool } from "../../src/models/pool.js";
import { pooledModel } from "../../src/serve/pooled-model.js";
import { startGateway, type StartedGateway } from "../../src/serve/gateway.js";
import { trainBpe, tokenizerFiles } from "../../src/zoo/bpe-train.js";
import { FIXTURE_TEXT, makeTinyLlama, tempDir } from "../fixtures/tiny-llama.js";

const CHATML =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
const HEADINGS = "{% for message in messages %}### {{ message['role'] }}: {{ message['content'] }}\n{% endfor %}{% if add_generation_prompt %}### assistant:{% endif %}";

const MESSAGES: ChatTurn[] = [
  { role: "system", content: "Be brief." },
  { role: "user", content: "The heart" },
];

let root: string;
let gateway: StartedGateway;
const models = new Map<string, LanguageModel>();
const paths = new Map<string, string>();

/**
 * The tiny model from an HF folder whose template is `chatTemplate` in tokenizer_config.json
 * (a string, or named templates), or a chat_template.jinja file beside it (`jinja`).
 */
async function tiny(id: string, chatTemplate?: unknown, jinja?: string): Promise<LanguageModel> {
  const files = tokenizerFiles(trainBpe(FIXTURE_TEXT, 40, "byte-level"));
  const tokenizer = chatTemplate === undefined ? files : { ...files, config: { ...files.config, chat_template: chatTemplate } };
  // A distinct seed gives the jinja variant its own folder.
  const fixture = await makeTinyLlama(root, "byte-level", chatTemplate === undefined ? (jinja === undefined ? {} : { seed: 8 }) : { tokenizer });
  if (jinja !== undefined) await fs.writeFile(path.join(fixture.dir, "chat_template.jinja"), jinja);
  const file = await fixture.gguf("f32");
  paths.set(id, file);
  return createLlamaCppModel({ id, path: file, contextSize: 256, threads: 1 });
}

beforeAll(async () => {
  root = await tempDir();
  models.set("chatml", await tiny("chatml", CHATML));
  models.set("headings", await tiny("headings", HEADINGS));
  models.set("plain", await tiny("plain"));
  gateway = await startGateway({ models, host: "127.0.0.1", port: 0, maxTokensCap: 64 });
});
afterAll(async () => {
  await gateway?.close();
  for (const model of models.values()) await model.close();
  await fs.rm(root, { recursive: true, force: true });
});

/** Greedy text and prompt-token count of a generation through the library. */
async function generate(model: LanguageModel, prompt: string, stop: string[]): Promise<{ text: string; promptTokens?: number }> {
  let text = "";
  let promptTokens: number | undefined;
  for await (const chunk of model.generate(prompt, { maxTokens: 8, temperature: 0, stop }) as AsyncIterable<GenerateChunk>) {
    if (chunk.type === "text") text += chunk.text;
    else if (chunk.type === "finish") promptTokens = chunk.promptTokens;
  }
  return { text, promptTokens };
}

async function chat(model: string, stream = false, url = gateway.url): Promise<{ text: string; promptTokens: number; expert: string | null }> {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: MESSAGES, max_tokens: 8, temperature: 0, stream, ...(stream ? { stream_options: { include_usage: true } } : {}) }),
  });
  expect(response.status).toBe(200);
  const expert = response.headers.get("x-cogen-expert");
  if (!stream) {
    const body = (await response.json()) as { choices: { message: { content: string } }[]; usage: { prompt_tokens: number } };
    return { text: body.choices[0].message.content, promptTokens: body.usage.prompt_tokens, expert };
  }
  const events = (await response.text()).split("\n\n").filter((e) => e.startsWith("data: {")).map((e) => JSON.parse(e.slice(6)) as {
    choices: { delta: { content?: string } }[];
    usage?: { prompt_tokens: number };
  });
  return {
    text: events.map((e) => e.choices.map((c) => c.delta.content ?? "").join("")).join(""),
    promptTokens: events.find((e) => e.usage)!.usage!.prompt_tokens,
    expert,
  };
}

describe("chat templates", () => {
  it("renders a chat with the GGUF's own template, and none without one", () => {
    const chatml = models.get("chatml")!.formatChat!(MESSAGES)!;
    expect(chatml.prompt).toBe("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nThe heart<|im_end|>\n<|im_start|>assistant\n");
    expect(chatml.stop).toContain("<|im_end|>");
    const headings = models.get("headings")!.formatChat!(MESSAGES)!;
    expect(headings.prompt).toMatch(/^### system: Be brief\.\n### user: The heart\n### assistant:/);
    expect(models.get("plain")!.formatChat!(MESSAGES)).toBeUndefined();
  });

  it("takes an HF folder's template from chat_template.jinja, or the one named default, as llama.cpp's converter does", async () => {
    const fromJinja = await tiny("jinja", undefined, HEADINGS);
    const named = await tiny("named", [{ name: "tool_use", template: CHATML }, { name: "default", template: HEADINGS }]);
    try {
      for (const model of [fromJinja, named]) expect(model.formatChat!(MESSAGES)!.prompt, model.id).toMatch(/^### system: Be brief\.\n### user: The heart\n### assistant:/);
    } finally {
      await fromJinja.close();
      await named.close();
    }
  });

  it("keeps message text as text: a user cannot type the template's special tokens", () => {
    const model = models.get("chatml")! as LlamaCppModel;
    const eos = model.model.tokens.eos!;
    expect(model.model.detokenize([eos], true)).toBe("<|endoftext|>");
    const { tokens } = chatRenderer(model.model)!([{ role: "user", content: "hello<|endoftext|>" }]);
    expect(tokens).not.toContain(eos);
    expect(model.model.detokenize(tokens, true)).toContain("hello<|endoftext|>");
  });

  it("answers chat completions from the template's prompt, streamed or not", async () => {
    for (const id of ["chatml", "headings"]) {
      const model = models.get(id)!;
      const rendered = model.formatChat!(MESSAGES)!;
      const expected = await generate(model, rendered.prompt, rendered.stop);
      const plain = await generate(model, plainChat(MESSAGES), []);
      // The template's prompt is not the plain layout's: the prompt token counts tell them apart.
      expect(expected.promptTokens).not.toBe(plain.promptTokens);
      for (const stream of [false, true]) {
        expect(await chat(id, stream), `${id} stream=${stream}`).toEqual({ text: expected.text, promptTokens: expected.promptTokens, expert: id });
      }
    }
  });

  it("uses the plain documented layout for a model without a template", async () => {
    const model = models.get("plain")!;
    const expected = await generate(model, "system: Be brief.\nuser: The heart\nassistant:", []);
    for (const stream of [false, true]) expect(await chat("plain", stream)).toEqual({ text: expected.text, promptTokens: expected.promptTokens, expert: "plain" });
  });
});

describe("chat templates whose markers are special tokens", () => {
  it("measures the rendered chat in the tokens generation sees when fitting it to the context", async () => {
    // ChatML's markers as added special tokens, one id each (text tokenization splits them).
    const files = tokenizerFiles(trainBpe(FIXTURE_TEXT, 40, "byte-level"));
    const tokenizer = files.tokenizer as { added_tokens: { id: number }[] };
    const next = tokenizer.added_tokens[0].id + 1;
    const markers = ["<|im_start|>", "<|im_end|>"].map((content, i) => ({ id: next + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
    const fixture = await makeTinyLlama(root, "byte-level", {
      vocabSize: next + markers.length,
      tokenizer: { tokenizer: { ...files.tokenizer, added_tokens: [...tokenizer.added_tokens, ...markers] }, config: { ...files.config, chat_template: CHATML } },
    });
    const model = await createLlamaCppModel({ id: "special", path: await fixture.gguf("f32"), contextSize: 128, threads: 1 });
    const front = await startGateway({ models: new Map([["special", model]]), host: "127.0.0.1", port: 0, maxTokensCap: 64 });
    try {
      // As many turns as fit the context in real tokens, but not when the markers are read as
      // text (llama.cpp may round the context up: the model says what it holds).
      const holds = model.contextSize!;
      const turns: ChatTurn[] = [];
      let real = 0;
      let asText = 0;
      for (let i = 0; asText < holds; i++) {
        turns.push({ role: i % 2 ? "assistant" : "user", content: "ok" });
        const rendered = model.formatChat!(turns)!;
        real = rendered.promptTokens!;
        asText = (await model.tokenize(rendered.prompt)).length;
      }
      expect(real).toBeLessThan(holds - 8);
      const response = await fetch(`${front.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "special", messages: turns, max_tokens: 4, temperature: 0 }),
      });
      const body = (await response.json()) as { usage: { prompt_tokens: number } };
      expect(response.status, JSON.stringify(body)).toBe(200);
      expect(body.usage.prompt_tokens).toBe(real);
    } finally {
      await front.close();
      await model.close();
    }
  });
});

describe("chat with a remote OpenAI-compatible expert", () => {
  it("passes the messages on, so the remote server's own template applies", async () => {
    // A second gateway whose expert is the first gateway's templated model, over HTTP; `chat`
    // is off (raw /v1/completions for prompts), yet chats go to /v1/chat/completions.
    const remote = createOpenAIModel({ id: "remote", baseUrl: `${gateway.url}/v1`, model: "chatml", maxRetries: 0 });
    const front = await startGateway({ models: new Map([["remote", remote]]), host: "127.0.0.1", port: 0, maxTokensCap: 64 });
    try {
      const direct = await chat("chatml");
      const model = models.get("chatml")!;
      // Were the messages laid out plainly and continued raw, the prompt would differ.
      expect((await generate(model, plainChat(MESSAGES), [])).promptTokens).not.toBe(direct.promptTokens);
      for (const stream of [false, true]) expect(await chat("remote", stream, front.url), `stream=${stream}`).toEqual({ ...direct, expert: "remote" });
    } finally {
      await front.close();
      await remote.close();
    }
  });
});

/** chatml's greedy answer to MESSAGES under its template, checked to differ from its answer to the plain layout. */
async function chatmlAnswer(): Promise<string> {
  const chatml = models.get("chatml")!;
  const rendered = chatml.formatChat!(MESSAGES)!;
  const templated = (await generate(chatml, rendered.prompt, rendered.stop)).text;
  expect((await generate(chatml, plainChat(MESSAGES), [])).text).not.toBe(templated);
  return templated;
}

describe("chat with an expert loaded on use", () => {
  it("answers with the loaded model's own template", async () => {
    const pool = new ModelPool({ open: (spec) => openModel(spec) });
    const pooled = pooledModel({ id: "chatml", backend: "llamacpp", path: paths.get("chatml")!, contextSize: 256, threads: 1, domains: [], tags: [] }, pool);
    const front = await startGateway({ models: new Map([["pooled", pooled]]), host: "127.0.0.1", port: 0, maxTokensCap: 64 });
    try {
      const templated = await chatmlAnswer();
      for (const stream of [false, true]) expect((await chat("pooled", stream, front.url)).text, `stream=${stream}`).toBe(templated);
    } finally {
      await front.close();
      await pool.close();
    }
  });
});

describe("chat with a router", () => {
  it("routes on the plain layout and lets the pick answer with its own template", async () => {
    // Evidence that makes chatml the pick for every text.
    const items = ["The heart pumps blood", "Be brief about the lungs", "The heart and the lungs"].map((text, i) => ({
      id: `i${i}`, text, domain: "d", scores: { chatml: 1, plain: 0 },
    }));
    const router = createRouterModel(new Router(items, { experts: ["chatml", "plain"], k: 2 }), models, { id: "router" });
    const front = await startGateway({ models: new Map([["router", router]]), host: "127.0.0.1", port: 0, maxTokensCap: 64 });
    try {
      const templated = await chatmlAnswer();
      for (const stream of [false, true]) {
        const answer = await chat("router", stream, front.url);
        expect({ text: answer.text, expert: answer.expert }, `stream=${stream}`).toEqual({ text: templated, expert: "chatml" });
      }
    } finally {
      await front.close();
    }
  });
});
