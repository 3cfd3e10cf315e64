import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { GenerateChunk, LanguageModel } from "../../src/core/language-model.js";
import type { ExpertSpec } from "../../src/formats/models-file.js";
import { livePublisher } from "../../src/hub/publisher.js";
import { startGateway } from "../../src/serve/gateway.js";
import { LiveComposition } from "../../src/serve/live.js";
import { parseUnifiedConfig, type UnifiedConfig } from "../../src/serve/unified-config.js";

/** An edge stub that answers with its own id, so the served version is visible in the reply. */
function namedModel(id: string): LanguageModel {
  return {
    id,
    tokenize: async (text) => [...text].map((c) => c.charCodeAt(0)),
    detokenize: async (tokens) => String.fromCharCode(...tokens),
    nextTokenLogprobs: async () => [],
    logLikelihood: async () => ({ logprob: 0, tokens: 0, bytes: 0, greedy: true }),
    async *generate(): AsyncGenerator<GenerateChunk> {
      yield { type: "text", text: id };
      yield { type: "finish", reason: "stop", tokens: 1 };
    },
    close: async () => {},
  };
}

function config(expert: string, servedId = "unified"): UnifiedConfig {
  const text = [
    "experts:",
    `  - { id: ${expert}, backend: llamacpp, path: ${expert}.gguf }`,
    "serve:",
    `  - { id: ${servedId}, policy: single, members: [${expert}] }`,
  ].join("\n");
  return parseUnifiedConfig(text, path.join("/nonexistent-test-root", "config.yaml"));
}

describe("the hub's live publisher", () => {
  const live = new LiveComposition({ open: async (spec: ExpertSpec) => namedModel(spec.id) });
  afterAll(() => live.close());

  it("serves each published version, and an earlier version again when it is published again", async () => {
    const gateway = await startGateway({ models: live, host: "127.0.0.1", port: 0 });
    const publisher = livePublisher(live, { url: `${gateway.url}/v1` });
    const answer = async () => {
      const response = await fetch(`${gateway.url}/v1/completions`, {
        method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "unified", prompt: "x", max_tokens: 4 }),
      });
      return ((await response.json()) as { choices: { text: string }[] }).choices[0].text;
    };
    try {
      expect(await publisher.publish(1, config("alpha"))).toEqual({ url: `${gateway.url}/v1`, model: "unified" });
      expect(await answer()).toBe("alpha");
      await publisher.publish(2, config("beta"));
      expect(await answer()).toBe("beta");
      // Version 1 again: its kept config, not the one passed.
      await publisher.publish(1, config("gamma"));
      expect(live.version).toBe("1");
      expect(await answer()).toBe("alpha");
      expect(live.status().versions.map((v) => [v.version, v.state])).toEqual([["1", "serving"], ["2", "retired"]]);
      // Publishing the version already serving changes nothing and builds nothing.
      const publishedAt = live.status().versions[0].publishedAt;
      expect(await publisher.publish(1, config("alpha"))).toEqual({ url: `${gateway.url}/v1`, model: "unified" });
      expect(await live.activate(config("alpha"), 1)).toEqual({ version: "1", previous: "1", served: ["unified"], buildMs: 0, reused: [], loaded: [] });
      expect(live.status().versions[0]).toMatchObject({ version: "1", state: "serving", publishedAt });
    } finally {
      await gateway.close();
    }
  });

  it("refuses a composition that does not serve the hub's model id, leaving the current version serving", async () => {
    const publisher = livePublisher(live, { url: "http://127.0.0.1:1/v1" });
    await expect(publisher.publish(3, config("delta", "other"))).rejects.toThrow(/composition 3 does not serve 'unified' \(it serves other\)/);
    expect(live.version).toBe("1");
  });

  it("keeps the current version when the new one fails to build", async () => {
    const failing = new LiveComposition({ open: async (spec) => (spec.id === "broken" ? Promise.reject(new Error("broken.gguf: not a GGUF file")) : namedModel(spec.id)) });
    try {
      const publisher = livePublisher(failing, { url: "http://127.0.0.1:1/v1" });
      await publisher.publish(1, config("alpha"));
      await expect(publisher.publish(2, config("broken"))).rejects.toThrow(/not a GGUF file/);
      expect(failing.version).toBe("1");
      expect(failing.status().lastFailure).toMatchObject({ version: "2" });
    } finally {
      await failing.close();
    }
  });
});
