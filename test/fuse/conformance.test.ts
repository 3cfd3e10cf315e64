/**
 * The LanguageModel conformance suite on the zoo's real models of both tokenizer families and on
 * every composite built from them: the kNN router, the token-level ensemble (gated and always
 * mixing), and composites nested in composites. Members span two tokenizers (family A:
 * SentencePiece byte fallback; family B: byte-level BPE), so composites cannot share token ids.
 */
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";
import type { LanguageModel } from "../../src/core/language-model.js";
import { createEnsembleModel } from "../../src/fuse/ensemble/ensemble.js";
import type { LabelledItem } from "../../src/fuse/router/knn.js";
import { Router } from "../../src/fuse/router/router.js";
import { createRouterModel } from "../../src/fuse/router/router-model.js";
import { createLlamaCppModel } from "../../src/models/llamacpp/model.js";
import { createOpenAIModel } from "../../src/models/openai/model.js";
import { startGateway } from "../../src/serve/gateway.js";
import { languageModelConformance } from "../models/conformance.js";

const zoo = (file: string) => fileURLToPath(new URL(`../../zoo/${file}`, import.meta.url));

/** Contexts in several scripts: accents, a currency sign, CJK, emoji with a skin-tone modifier and a ZWJ sequence, combining marks. */
export const UNICODE_CONTEXTS = ["The heart pumps", "The café costs 5 € ✓", "東京は日本の首都", "I 👍🏽 it 👨‍👩‍👧", "cafe\u0301 nai\u0308ve"];

const opened: LanguageModel[] = [];
async function open(id: string, file: string): Promise<LanguageModel> {
  const model = await createLlamaCppModel({ id, path: zoo(file), contextSize: 64, threads: 1 });
  opened.push(model);
  return model;
}
afterAll(async () => {
  await Promise.all(opened.map((m) => m.close()));
});

const aBase = () => open("a-base", "a/base/model.gguf");
const bBase = () => open("b-base", "b/base/model.gguf");

function router(members: LanguageModel[]): LanguageModel {
  // Evidence: the first member is best on medicine, the second on law.
  const texts: Record<string, string[]> = {
    medicine: ["the patient was given antibiotics", "the doctor measured the pulse", "blood pressure and the heart"],
    law: ["the court ruled on the contract", "the jury acquitted the defendant", "the judge heard the appeal"],
  };
  const items: LabelledItem[] = Object.entries(texts).flatMap(([domain, list], d) =>
    list.map((text, i) => ({ id: `${domain}-${i}`, text, domain, scores: Object.fromEntries(members.map((m, j) => [m.id, j === d ? 1 : 0])) })),
  );
  const r = new Router(items, { experts: members.map((m) => m.id), k: 3 });
  return createRouterModel(r, new Map(members.map((m) => [m.id, m])), { id: `router(${members.map((m) => m.id).join(",")})` });
}

function ensemble(members: LanguageModel[], gate?: number): LanguageModel {
  return createEnsembleModel({ id: `ensemble(${members.map((m) => m.id).join(",")})`, members: members.map((model, i) => ({ model, abilities: { default: -0.3 * i } })), gate, topK: 4 });
}

languageModelConformance("llama.cpp, zoo family A (byte-fallback SentencePiece)", { open: aBase, contexts: UNICODE_CONTEXTS, tokenIds: true });
languageModelConformance("llama.cpp, zoo family B (byte-level BPE)", { open: bBase, contexts: UNICODE_CONTEXTS, tokenIds: true });
languageModelConformance("kNN router over both families", {
  open: async () => router([await open("a-med", "a/experts/medicine/model.gguf"), await open("b-bio", "b/experts/biology/model.gguf")]),
  contexts: UNICODE_CONTEXTS, tokenIds: false, composite: true,
});
languageModelConformance("ensemble over both families, always mixing", {
  open: async () => ensemble([await aBase(), await bBase()], 1),
  contexts: UNICODE_CONTEXTS, tokenIds: false, composite: true,
});
languageModelConformance("ensemble over both families, with its confidence gate", {
  open: async () => ensemble([await open("a-law", "a/experts/law/model.gguf"), await bBase()]),
  contexts: UNICODE_CONTEXTS, tokenIds: false, composite: true, greedyIsTopCandidate: false,
});
languageModelConformance("router over an ensemble and a single model", {
  open: async () => router([ensemble([await aBase(), await bBase()], 1), await open("b-fin", "b/experts/finance/model.gguf")]),
  contexts: UNICODE_CONTEXTS.slice(0, 3), tokenIds: false, composite: true,
});
languageModelConformance("ensemble over a router and a single model", {
  open: async () => ensemble([router([await aBase(), await bBase()]), await open("a-food", "a/experts/food/model.gguf")], 1),
  contexts: UNICODE_CONTEXTS.slice(0, 3), tokenIds: false, composite: true,
});

languageModelConformance("llama.cpp served by the gateway, read back through the OpenAI-compatible backend", {
  open: async () => {
    const served = await aBase();
    const gateway = await startGateway({ models: new Map([["served", served]]), host: "127.0.0.1", port: 0 });
    const client = createOpenAIModel({ id: "served", model: "served", baseUrl: `${gateway.url}/v1`, maxRetries: 0 });
    return { ...client, close: async () => { await client.close(); await gateway.close(); } };
  },
  contexts: UNICODE_CONTEXTS, tokenIds: false,
});
