/**
 * What a served answer tells the client, on real zoo models behind the gateway: sampling without
 * a seed draws a fresh one per request (single experts, router, ensemble) and says which
 * (x-cogen-seed), a seed reproduces the answer; x-cogen-expert names the router's pick or the
 * ensemble's members, for completions and chat, streamed or not, and /metrics counts them per
 * expert; a prompt longer than the context is a 400 context_length_exceeded, not a silent cut.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LanguageModel } from "../../src/core/language-model.js";
import { createEnsembleModel } from "../../src/fuse/ensemble/ensemble.js";
import { Router } from "../../src/fuse/router/router.js";
import { createRouterModel } from "../../src/fuse/router/router-model.js";
import { createLlamaCppModel } from "../../src/models/llamacpp/model.js";
import { startGateway, type StartedGateway } from "../../src/serve/gateway.js";

const zoo = (file: string) => fileURLToPath(new URL(`../../zoo/${file}`, import.meta.url));

const TEXTS = {
  medicine: ["the patient was given antibiotics for an infection", "the doctor measured the blood pressure of the patient", "the nurse gave the patient a dose of the drug"],
  law: ["the court ruled that the contract was void", "the jury found the defendant guilty", "the judge dismissed the appeal of the tenant"],
};
const MEDICAL = "The patient was given antibiotics by the doctor because";

let med: LanguageModel;
let law: LanguageModel;
let gateway: StartedGateway;

beforeAll(async () => {
  med = await createLlamaCppModel({ id: "med", path: zoo("a/experts/medicine/model.gguf"), contextSize: 64, threads: 1 });
  law = await createLlamaCppModel({ id: "law", path: zoo("a/experts/law/model.gguf"), contextSize: 64, threads: 1 });
  // Evidence: med scored 1 on the medical items, law on the legal ones.
  const items = Object.entries(TEXTS).flatMap(([domain, texts]) =>
    texts.map((text, i) => ({ id: `${domain}-${i}`, text, domain, scores: { med: domain === "medicine" ? 1 : 0, law: domain === "law" ? 1 : 0 } })),
  );
  const router = createRouterModel(new Router(items, { experts: ["med", "law"], k: 3 }), new Map([["med", med], ["law", law]]), { id: "router" });
  const ensemble = createEnsembleModel({ id: "ensemble", members: [{ model: med, abilities: { default: 1 } }, { model: law, abilities: { default: 1 } }], topK: 4 });
  gateway = await startGateway({ models: new Map([["med", med], ["router", router], ["ensemble", ensemble]]), host: "127.0.0.1", port: 0, maxTokensCap: 64 });
});
afterAll(async () => {
  await gateway?.close();
  await med?.close();
  await law?.close();
});

interface Answer {
  status: number;
  headers: Headers;
  body: string;
  /** The generated text (joined from the events when streamed). */
  text: string;
}

async function ask(route: "completions" | "chat/completions", body: Record<string, unknown>): Promise<Answer> {
  const payload = route === "completions" ? { prompt: MEDICAL, ...body } : { messages: [{ role: "user", content: MEDICAL }], ...body };
  const response = await fetch(`${gateway.url}/v1/${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(payload) });
  const text = await response.text();
  if (response.status !== 200) return { status: response.status, headers: response.headers, body: text, text: "" };
  const pieces = body.stream
    ? text.split("\n\n").filter((e) => e.startsWith("data: {")).map((e) => JSON.parse(e.slice(6)) as { choices: { text?: string; delta?: { content?: string } }[] })
    : [JSON.parse(text) as { choices: { text?: string; message?: { content?: string } }[] }];
  const joined = pieces.map((p) => p.choices.map((c) => ("text" in c ? c.text : "delta" in c ? c.delta?.content : (c as { message?: { content?: string } }).message?.content) ?? "").join("")).join("");
  return { status: response.status, headers: response.headers, body: text, text: joined };
}

describe("sampling seeds", () => {
  for (const [model, tokens] of [["med", 32], ["router", 32], ["ensemble", 12]] as const) {
    it(`draws a fresh seed per unseeded request and repeats a seeded one (${model})`, async () => {
      const sample = (seed?: number) => ask("completions", { model, max_tokens: tokens, temperature: 1, ...(seed === undefined ? {} : { seed }) });
      const [a, b] = [await sample(), await sample()];
      expect(a.status).toBe(200);
      const seeds = [a.headers.get("x-cogen-seed"), b.headers.get("x-cogen-seed")];
      expect(seeds[0]).toMatch(/^\d+$/);
      expect(seeds[1]).not.toBe(seeds[0]);
      expect(a.text).not.toBe(b.text);
      // A drawn seed, passed back, reproduces its answer; so does any fixed seed.
      const again = await sample(Number(seeds[0]));
      expect(again.text).toBe(a.text);
      const [c, d] = [await sample(1234), await sample(1234)];
      expect(c.text).toBe(d.text);
      expect(c.headers.get("x-cogen-seed")).toBe("1234");
    });
  }
});

describe("x-cogen-expert", () => {
  it("names the router's pick, the ensemble's members or the expert itself, for completions and chat, streamed or not", async () => {
    const expected = { med: "med", router: "med", ensemble: "med,law" };
    for (const [model, experts] of Object.entries(expected)) {
      for (const route of ["completions", "chat/completions"] as const) {
        for (const stream of [false, true]) {
          const answer = await ask(route, { model, max_tokens: 3, temperature: 0, stream });
          expect(answer.status, `${model} ${route} stream=${stream}: ${answer.body}`).toBe(200);
          expect(answer.headers.get("x-cogen-expert"), `${model} ${route} stream=${stream}`).toBe(experts);
        }
      }
    }
    // A legal request goes to law.
    const legal = await fetch(`${gateway.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "router", prompt: "The jury found the defendant guilty and the court", max_tokens: 2, temperature: 0 }),
    });
    expect(legal.headers.get("x-cogen-expert")).toBe("law");
  });

  it("counts generations per served model and expert in /metrics", async () => {
    const metrics = async () => await (await fetch(`${gateway.url}/metrics`)).text();
    const count = (text: string, model: string, expert: string) =>
      Number(new RegExp(`cogen_expert_generations_total\\{model="${model}",expert="${expert}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    const before = await metrics();
    await ask("completions", { model: "router", max_tokens: 2, temperature: 0 });
    await ask("chat/completions", { model: "router", max_tokens: 2, temperature: 0, stream: true });
    await ask("completions", { model: "ensemble", max_tokens: 2, temperature: 0 });
    const after = await metrics();
    expect(count(after, "router", "med") - count(before, "router", "med")).toBe(2);
    expect(count(after, "ensemble", "med") - count(before, "ensemble", "med")).toBe(1);
    expect(count(after, "ensemble", "law") - count(before, "ensemble", "law")).toBe(1);
    expect(count(after, "router", "law") - count(before, "router", "law")).toBe(0);
  });
});

describe("prompts longer than the context", () => {
  const long = "The patient was given antibiotics. ".repeat(20);

  it("answers 400 context_length_exceeded for completions and chat, streamed or not", async () => {
    for (const route of ["completions", "chat/completions"] as const) {
      for (const stream of [false, true]) {
        const body = route === "completions" ? { prompt: long } : { messages: [{ role: "user", content: long }] };
        const answer = await ask(route, { model: "med", max_tokens: 1, stream, ...body });
        expect(answer.status).toBe(400);
        const error = (JSON.parse(answer.body) as { error: { code: string; message: string; param: string } }).error;
        expect(error.code).toBe("context_length_exceeded");
        expect(error.param).toBe(route === "completions" ? "prompt" : "messages");
        expect(error.message).toMatch(/maximum context length is 64 tokens, however you requested \d+ tokens \(\d+ in your prompt/);
      }
    }
  });

  it("echoes a prompt that fits whole, with usage counting the same tokens", async () => {
    const prompt = "The patient was given antibiotics. ";
    const tokens = (await med.tokenize(prompt)).length;
    expect(tokens).toBeLessThan(62);
    const response = await fetch(`${gateway.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "med", prompt, max_tokens: 50, echo: true, logprobs: 1, temperature: 0 }),
    });
    const body = (await response.json()) as { choices: { logprobs: { tokens: string[] }; finish_reason: string; text: string }[]; usage: { prompt_tokens: number; completion_tokens: number } };
    expect(body.usage.prompt_tokens).toBe(tokens);
    expect(body.choices[0].text.startsWith(prompt)).toBe(true);
    // max_tokens is capped by the room the context leaves (one cell for BOS).
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(64 - 1 - tokens);
    expect(body.choices[0].logprobs.tokens.length).toBe(tokens + body.usage.completion_tokens);
  });
});
