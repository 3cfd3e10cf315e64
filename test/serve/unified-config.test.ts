import { describe, expect, it } from "vitest";
import type { LanguageModel } from "../../src/core/language-model.js";
import { POLICIES } from "../../src/serve/policies.js";
import { buildServedModels, formatUnifiedConfig, parseUnifiedConfig, readUnifiedConfig, type PolicyBuilder } from "../../src/serve/unified-config.js";

const experts = `
experts:
  - { id: med, backend: llamacpp, path: med.gguf }
  - { id: law, backend: llamacpp, path: law.gguf }
`;

const fakeExpert = (id: string) => ({ id }) as unknown as LanguageModel;

describe("unified serve config", () => {
  it("serves every expert as itself when there is no serve section", () => {
    const config = parseUnifiedConfig(experts, "u.yml");
    expect(config.served.map((s) => [s.id, s.policy, s.members])).toEqual([["med", "single", ["med"]], ["law", "single", ["law"]]]);
  });

  it("builds nested composites once per member, through the policy registry", async () => {
    const text = `${experts}
serve:
  - { id: both, policy: pair, members: [med, law] }
  - { id: nested, policy: pair, members: [both, med] }
  - { id: merged, policy: single, members: [law] }
`;
    const config = parseUnifiedConfig(text, "u.yml");
    const opened: string[] = [];
    const pair: PolicyBuilder = async (spec, members) => ({ id: `${spec.id}(${members.map((m) => m.id).join(",")})` }) as unknown as LanguageModel;
    const { served } = await buildServedModels(config, { ...POLICIES, pair }, async (spec) => (opened.push(spec.id), fakeExpert(spec.id)));
    expect(served.get("nested")!.id).toBe("nested(both(med,law),med)");
    expect(served.get("merged")!.id).toBe("law");
    expect(opened.sort()).toEqual(["law", "med"]);
  });

  it("reports unknown members, unknown fields and cycles", async () => {
    expect(() => parseUnifiedConfig(`${experts}\nserve:\n  - { id: x, policy: router, members: [med, ghost], colour: red }\n`, "u.yml")).toThrow(
      /u\.yml: [\s\S]*unknown field 'colour'[\s\S]*unknown member 'ghost'/,
    );
    const cyclic = parseUnifiedConfig(`${experts}\nserve:\n  - { id: a, policy: pair, members: [b] }\n  - { id: b, policy: pair, members: [a] }\n`, "u.yml");
    const pair: PolicyBuilder = async (_s, m) => m[0];
    await expect(buildServedModels(cyclic, { pair }, async (s) => fakeExpert(s.id))).rejects.toThrow(/'a' → 'b' → 'a' is a cycle/);
    const unknownPolicy = parseUnifiedConfig(`${experts}\nserve:\n  - { id: a, policy: magic, members: [med] }\n`, "u.yml");
    await expect(buildServedModels(unknownPolicy, POLICIES, async (s) => fakeExpert(s.id))).rejects.toThrow(/unknown policy 'magic'.*single/);
  });
});

describe("formatUnifiedConfig", () => {
  it("names a missing config file in the one wording every command uses", async () => {
    await expect(readUnifiedConfig("no-such-dir/unified.yml")).rejects.toThrow(/no-such-dir\/unified\.yml: no such file or folder$/);
  });

  it("writes YAML that reads back to the same config, for every kind of expert", () => {
    const text = [
      "experts:",
      "  - { id: a, backend: llamacpp, path: /m/a.gguf, lora: /m/a-lora.gguf, scale: 0.5, threads: 1, context_size: 64, domains: [law], tags: [x] }",
      "  - { id: b, backend: openai, url: 'http://127.0.0.1:9/v1', model: m, api_key_env: KEY, concurrency: 2, timeout_ms: 10, max_retries: 0, chat: true }",
      "serve:",
      "  - { id: u, policy: router, members: [a, b], options: { tasks: t.jsonl, results: r.jsonl, k: 5 } }",
      "  - { id: a, policy: single, members: [a] }",
    ].join("\n");
    const config = parseUnifiedConfig(text, "/cfg/unified.yml");
    expect(parseUnifiedConfig(formatUnifiedConfig(config), "/cfg/unified.yml")).toEqual(config);
  });
});
