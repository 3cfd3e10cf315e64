import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GenerateChunk, GenerateOptions, LanguageModel } from "../../src/core/language-model.js";
import type { ExpertSpec } from "../../src/formats/models-file.js";
import { startGateway, type StartedGateway } from "../../src/serve/gateway.js";
import { LiveComposition } from "../../src/serve/live.js";
import { parseUnifiedConfig, type UnifiedConfig } from "../../src/serve/unified-config.js";
import { makeTinyLlama, tempDir } from "../fixtures/tiny-llama.js";

/**
 * An edge stub whose generation waits for the test to let it finish, so that a request can be
 * held in flight across a publish. It answers with its own id, so the version that served a
 * request is visible in the reply.
 */
class GatedModel implements LanguageModel {
  closed = false;
  started = 0;
  private release = () => {};
  private readonly gate = new Promise<void>((resolve) => (this.release = resolve));
  constructor(readonly id: string) {}
  open() { this.release(); }
  async tokenize(text: string) { return [...text].map((c) => c.charCodeAt(0)); }
  async detokenize(tokens: number[]) { return String.fromCharCode(...tokens); }
  async nextTokenLogprobs() { return []; }
  async logLikelihood() { return { logprob: 0, tokens: 0, bytes: 0, greedy: true }; }
  async *generate(_prompt: string, _options: GenerateOptions = {}): AsyncGenerator<GenerateChunk> {
    if (this.closed) throw new Error(`${this.id} used after close`);
    this.started++;
    yield { type: "text", text: `${this.id} ` };
    await this.gate;
    if (this.closed) throw new Error(`${this.id} closed mid-generation`);
    yield { type: "text", text: "done" };
    yield { type: "finish", reason: "stop", tokens: 2 };
  }
  async close() { this.closed = true; }
}

function config(root: string, experts: string[], unified: string[]): UnifiedConfig {
  const lines = ["experts:", ...experts.map((id) => `  - { id: ${id}, backend: llamacpp, path: ${id}.gguf }`), "serve:"];
  lines.push(`  - { id: unified, policy: single, members: [${unified.join(", ")}] }`);
  for (const id of experts) lines.push(`  - { id: ${id}, policy: single, members: [${id}] }`);
  return parseUnifiedConfig(lines.join("\n"), path.join(root, "unified.yml"));
}

async function servedIds(url: string): Promise<string[]> {
  const body = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
  return body.data.map((m) => m.id).sort();
}

async function chat(url: string, stream: boolean): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "unified", messages: [{ role: "user", content: "The heart" }], max_tokens: 8, temperature: 0, stream }),
  });
  if (!stream) {
    const body = (await response.json()) as { choices?: { message: { content: string } }[] };
    return { status: response.status, text: body.choices?.[0].message.content ?? JSON.stringify(body) };
  }
  const raw = await response.text();
  const events = raw.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => e.slice(6));
  if (events.at(-1) !== "[DONE]") return { status: 599, text: raw };
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { choices?: { delta?: { content?: string } }[]; error?: unknown });
  if (chunks.some((c) => c.error)) return { status: 598, text: raw };
  return { status: response.status, text: chunks.map((c) => c.choices?.[0]?.delta?.content ?? "").join("") };
}

describe("live publishing with requests held in flight", () => {
  const models = new Map<string, GatedModel>();
  let opened: string[] = [];
  const open = async (spec: ExpertSpec): Promise<LanguageModel> => {
    if (spec.id === "broken") throw new Error("broken.gguf: not a GGUF file");
    opened.push(spec.id);
    const model = new GatedModel(spec.id);
    models.set(spec.id, model);
    return model;
  };
  let live: LiveComposition;
  let gateway: StartedGateway;
  const root = "/nonexistent-test-root";

  beforeAll(async () => {
    live = new LiveComposition({ open, maxLoadedModels: 3, historyLimit: 3, loadOnUse: false });
    gateway = await startGateway({ models: live, host: "127.0.0.1", port: 0 });
  });
  afterAll(async () => {
    await gateway?.close();
    await live?.close();
  });

  it("serves nothing before the first publish, then the published version", async () => {
    expect(await servedIds(gateway.url)).toEqual([]);
    const report = await live.publish(config(root, ["a"], ["a"]), "v1");
    expect(report).toMatchObject({ version: "v1", previous: null, loaded: ["a"], reused: [] });
    expect(await servedIds(gateway.url)).toEqual(["a", "unified"]);
  });

  it("finishes in-flight requests (streamed and not) on their version and releases it after the last one", async () => {
    const held = [chat(gateway.url, false), chat(gateway.url, true)];
    while (models.get("a")!.started < 2) await new Promise((r) => setTimeout(r, 5));

    const report = await live.publish(config(root, ["b"], ["b"]), "v2");
    expect(report).toMatchObject({ version: "v2", previous: "v1", loaded: ["b"] });
    expect(live.status().versions.map((v) => [v.version, v.state, v.inFlight])).toEqual([["v2", "serving", 0], ["v1", "draining", 2]]);
    expect(await servedIds(gateway.url)).toEqual(["b", "unified"]);
    expect(models.get("a")!.closed).toBe(false);

    // A new request goes to the new version while the old ones are still running.
    models.get("b")!.open();
    expect(await chat(gateway.url, false)).toEqual({ status: 200, text: "b done" });

    models.get("a")!.open();
    expect(await Promise.all(held)).toEqual([{ status: 200, text: "a done" }, { status: 200, text: "a done" }]);
    await live.drained();
    expect(models.get("a")!.closed).toBe(true);
    expect(models.get("b")!.closed).toBe(false);
    expect(live.status().versions[1].state).toBe("retired");
  });

  it("reuses a loaded expert the next version keeps", async () => {
    opened = [];
    const report = await live.publish(config(root, ["b", "c"], ["b"]), "v3");
    expect(report.reused).toEqual(["b"]);
    expect(report.loaded).toEqual(["c"]);
    expect(opened).toEqual(["c"]);
    expect(models.get("b")!.closed).toBe(false);
  });

  it("keeps serving the current version when a build fails, and says why", async () => {
    await expect(live.publish(config(root, ["b", "broken"], ["broken"]), "v4")).rejects.toThrow(/not a GGUF file/);
    expect(live.version).toBe("v3");
    expect(live.status().lastFailure).toMatchObject({ version: "v4", error: expect.stringContaining("not a GGUF") });
    models.get("c")!.open();
    expect(await chat(gateway.url, true)).toEqual({ status: 200, text: "b done" });
    // Nothing the failed build opened stays loaded beyond the serving version's experts.
    expect(live.status().loadedModels).toBe(2);
  });

  it("refuses a version above the model pool's cap, a reused version name and an unknown rollback", async () => {
    await expect(live.publish(config(root, ["a", "b", "c", "d"], ["a"]), "big")).rejects.toThrow(/4 experts, above the model pool's cap of 3/);
    await expect(live.publish(config(root, ["a"], ["a"]), "v2")).rejects.toThrow(/already published; serve it again with rollback/);
    await expect(live.rollback("v0")).rejects.toThrow(/no version 'v0' in the history \(kept: v1, v2, v3\)/);
    expect(live.version).toBe("v3");
  });

  it("rolls back to an earlier version, rebuilt from its kept config", async () => {
    const report = await live.rollback("v1");
    expect(report).toMatchObject({ version: "v1", previous: "v3", loaded: ["a"] });
    models.get("a")!.open();
    expect(await chat(gateway.url, false)).toEqual({ status: 200, text: "a done" });
    expect(live.status().versions.map((v) => v.version)).toEqual(["v1", "v3", "v2"]);
    await live.drained();
    expect(models.get("b")!.closed && models.get("c")!.closed).toBe(true);
  });

  it("keeps a bounded history", async () => {
    await live.publish(config(root, ["a"], ["a"]), "v5");
    expect(live.status().versions.map((v) => v.version)).toEqual(["v5", "v1", "v3"]);
    await expect(live.rollback("v2")).rejects.toThrow(/no version 'v2'/);
  });
});

describe("experts loaded on use, under the pool's cap", () => {
  it("serves a composition of more experts than the cap, keeping at most the cap loaded", async () => {
    const loaded: GatedModel[] = [];
    const open = async (spec: ExpertSpec): Promise<LanguageModel> => {
      const model = new GatedModel(spec.id);
      model.open();
      loaded.push(model);
      return model;
    };
    const live = new LiveComposition({ open, maxLoadedModels: 2, loadOnUse: true });
    const gateway = await startGateway({ models: live, host: "127.0.0.1", port: 0 });
    try {
      const ids = ["a", "b", "c", "d"];
      await live.publish(config("/nonexistent-test-root", ids, ["a"]), "wide");
      expect(loaded).toEqual([]); // nothing is loaded until a request needs it
      for (const id of [...ids, "a"]) {
        const response = await fetch(`${gateway.url}/v1/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: id, prompt: "x", max_tokens: 4 }),
        });
        expect(((await response.json()) as { choices: { text: string }[] }).choices[0].text).toBe(`${id} done`);
        expect(loaded.filter((m) => !m.closed).length).toBeLessThanOrEqual(2);
      }
      // a was closed to make room and loaded again.
      expect(loaded.map((m) => m.id)).toEqual(["a", "b", "c", "d", "a"]);
    } finally {
      await gateway.close();
      await live.close();
    }
  });
});

describe("loadOnUse auto (the default): built when the experts fit under the cap, loaded on use when not", () => {
  it("loads a small version at publish (a broken expert fails the publish), and serves a larger one on use", async () => {
    const loaded: GatedModel[] = [];
    const open = async (spec: ExpertSpec): Promise<LanguageModel> => {
      if (spec.id.startsWith("broken")) throw new Error(`${spec.id}.gguf: not a GGUF file`);
      const model = new GatedModel(spec.id);
      model.open();
      loaded.push(model);
      return model;
    };
    const live = new LiveComposition({ open, maxLoadedModels: 2 });
    const gateway = await startGateway({ models: live, host: "127.0.0.1", port: 0 });
    const post = (id: string) => fetch(`${gateway.url}/v1/completions`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: id, prompt: "x", max_tokens: 4 }),
    });
    const ask = async (id: string) => ((await (await post(id)).json()) as { choices: { text: string }[] }).choices[0].text;
    const root = "/nonexistent-test-root";
    try {
      expect(await live.publish(config(root, ["a", "b"], ["a"]), "small")).toMatchObject({ loaded: ["a", "b"] });
      expect(loaded.map((m) => m.id)).toEqual(["a", "b"]); // loaded by the publish, before any request
      await expect(live.publish(config(root, ["a", "broken"], ["a"]), "small-broken")).rejects.toThrow(/broken.gguf: not a GGUF file/);
      expect(live.version).toBe("small");

      await live.publish(config(root, ["a", "b", "c", "d"], ["a"]), "wide");
      await live.drained();
      // Above the cap: accepted, and nothing new is loaded until a request needs it.
      expect(loaded.map((m) => m.id)).toEqual(["a", "b"]);
      for (const id of ["c", "d", "a", "b"]) {
        expect(await ask(id)).toBe(`${id} done`);
        expect(loaded.filter((m) => !m.closed).length).toBeLessThanOrEqual(2);
      }
      // A broken expert in a version above the cap shows on its first request, not at publish.
      await live.publish(config(root, ["a", "b", "c", "broken2"], ["a"]), "wide-broken");
      expect(await ask("a")).toBe("a done");
      const failed = await post("broken2");
      expect(failed.status).toBe(502);
      expect(((await failed.json()) as { error: { type: string } }).error.type).toBe("server_error");

      // Back under the cap: built (and checked) at publish again.
      expect(await live.publish(config(root, ["c"], ["c"]), "small-again")).toMatchObject({ served: ["unified", "c"] });
      expect(await ask("unified")).toBe("c done");
    } finally {
      await gateway.close();
      await live.close();
    }
  });
});

describe("zero failed requests across 20 publishes under a steady load (llama.cpp models)", () => {
  let root: string;
  let live: LiveComposition;
  let gateway: StartedGateway;

  beforeAll(async () => {
    root = await tempDir();
    for (const [id, seed] of [["e1", 7], ["e2", 8], ["e3", 9]] as const) {
      const fixture = await makeTinyLlama(root, "byte-level", { seed });
      await fs.copyFile(await fixture.gguf("f32"), path.join(root, `${id}.gguf`));
    }
    live = new LiveComposition({ maxLoadedModels: 4 });
    gateway = await startGateway({ models: live, host: "127.0.0.1", port: 0 });
  }, 60_000);
  afterAll(async () => {
    await gateway?.close();
    await live?.close();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  it("answers every request, each by a whole version, while versions change", async () => {
    const ids = ["e1", "e2", "e3"];
    const versionConfig = (i: number) => config(root, [ids[i % 3], ids[(i + 1) % 3]], [ids[i % 3]]);
    await live.publish(versionConfig(0), "v0");
    // The greedy answer of each expert, to tell which version served a request.
    const answers = new Map<string, string>();
    for (let i = 0; i < 3; i++) {
      if (i > 0) await live.publish(versionConfig(i), `probe${i}`);
      answers.set(ids[i], (await chat(gateway.url, false)).text);
    }
    expect(new Set(answers.values()).size).toBe(3);
    await live.rollback("v0");

    let stop = false;
    const results: { status: number; text: string }[] = [];
    const client = async (stream: boolean) => {
      while (!stop) results.push(await chat(gateway.url, stream));
    };
    const clients = [client(false), client(true), client(false), client(true)];
    for (let i = 1; i <= 20; i++) {
      await live.publish(versionConfig(i), `v${i}`);
      const before = results.length;
      // Let some requests land on each version (bounded: a few requests or 200 polls).
      for (let poll = 0; poll < 200 && results.length < before + 4; poll++) await new Promise((r) => setTimeout(r, 5));
    }
    stop = true;
    await Promise.all(clients);
    await live.drained();

    expect(results.length).toBeGreaterThanOrEqual(20 * 4);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    const known = new Set(answers.values());
    expect(results.filter((r) => !known.has(r.text))).toEqual([]);
    // Every expert served some requests, and only the current version's experts stay loaded.
    expect(new Set(results.map((r) => r.text)).size).toBe(3);
    expect(live.status().loadedModels).toBe(2);
  }, 120_000);
});
