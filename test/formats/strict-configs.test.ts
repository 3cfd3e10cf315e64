/** Unknown keys in every config are errors that name the closest known key; YAML errors carry line and column. */
import { describe, expect, it } from "vitest";
import { ConfigError, InputFileError } from "../../src/core/errors.js";
import type { LanguageModel } from "../../src/core/language-model.js";
import { parseModelsFile } from "../../src/formats/models-file.js";
import { parseTasks } from "../../src/formats/tasks.js";
import { parseMergeConfig } from "../../src/merge/config.js";
import { POLICIES } from "../../src/serve/policies.js";
import { buildServedModels, parseUnifiedConfig } from "../../src/serve/unified-config.js";

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

const EXPERTS = "experts:\n  - { id: med, backend: llamacpp, path: med.gguf }\n  - { id: law, backend: llamacpp, path: law.gguf }\n";
const fakeExpert = (id: string) => ({ id }) as unknown as LanguageModel;

describe("serve configs", () => {
  it("a misspelt policy option is an error naming the option it resembles, before any file is read", async () => {
    const config = parseUnifiedConfig(`${EXPERTS}serve:\n  - { id: u, policy: ensemble, members: [med, law], options: { ranking: r.json, gat: 0.3, colour: red } }\n`, "u.yml");
    const error = await buildServedModels(config, POLICIES, async (s) => fakeExpert(s.id)).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      "serve 'u' (policy ensemble) options.gat: unknown option 'gat' (did you mean 'gate'?); known: ranking, tasks, results, domain_items, gate, top_k, max_ability_gap, weight_temperature",
      "serve 'u' (policy ensemble) options.colour: unknown option 'colour'; known: ranking, tasks, results, domain_items, gate, top_k, max_ability_gap, weight_temperature",
    ]);
    expect((error as Error).message).toMatch(/^u\.yml: /);
  });

  it("'single' takes no options; unknown sections, fields and policies get suggestions", async () => {
    const single = parseUnifiedConfig(`${EXPERTS}serve:\n  - { id: s, policy: single, members: [med], options: { k: 3 } }\n`, "u.yml");
    await expect(buildServedModels(single, POLICIES, async (s) => fakeExpert(s.id))).rejects.toThrow(/\(policy single\) options\.k: unknown option 'k'; known: none/);
    expect(problemsOf(() => parseUnifiedConfig(`${EXPERTS}serv:\n  - { id: s, policy: single, members: [med] }\n`, "u.yml")))
      .toEqual(["line 4: serv: unknown section 'serv' (did you mean 'serve'?); known: experts, serve"]);
    expect(problemsOf(() => parseUnifiedConfig(`${EXPERTS}serve:\n  - { id: s, policy: single, member: [med] }\n`, "u.yml")))
      .toContain("serve[0].member: unknown field 'member' (did you mean 'members'?); known: id, policy, members, options");
    const typo = parseUnifiedConfig(`${EXPERTS}serve:\n  - { id: r, policy: ruoter, members: [med, law] }\n`, "u.yml");
    await expect(buildServedModels(typo, POLICIES, async (s) => fakeExpert(s.id))).rejects.toThrow(/unknown policy 'ruoter' \(did you mean 'router'\?\)/);
  });
});

describe("models files", () => {
  it("unknown fields, backends and top-level sections name their closest match and line", () => {
    const problems = problemsOf(() => parseModelsFile("experts:\n  - id: a\n    backend: llamacp\n    path: a.gguf\n    contxt_size: 64\n", "m.yml"));
    expect(problems).toContain("line 5: experts[0].contxt_size: unknown field 'contxt_size' (did you mean 'context_size'?); known: id, backend, path, url, model, lora, scale, domains, tags, threads, context_size, api_key_env, concurrency, timeout_ms, max_retries, chat, base, weights");
    expect(problems.some((p) => /line 3: experts\[0\]\.backend: must be 'llamacpp' or 'openai', got 'llamacp' \(did you mean 'llamacpp'\?\)/.test(p))).toBe(true);
    expect(problemsOf(() => parseModelsFile("expert:\n  - { id: a, backend: llamacpp, path: a.gguf }\n", "m.yml"))[0]).toMatch(/unknown section 'expert' \(did you mean 'experts'\?\)/);
  });
});

describe("merge configs", () => {
  it("misspelt keys, methods and parameters name what they resemble", () => {
    const problems = problemsOf(() => parseMergeConfig("merge_methd: ties\nmodels:\n  - model: a\n    parametres: {weight: 1}\n", "c.yml"));
    expect(problems).toContain("line 1: merge_methd: unknown key 'merge_methd' (did you mean 'merge_method'?); known: merge_method, base_model, models, slices, parameters, dtype, out_dtype, tokenizer_source, tokenizer, chat_template, modules, name");
    expect(problems.some((p) => /line 4: models\[0\]\.parametres: unknown key 'parametres' \(did you mean 'parameters'\?\)/.test(p))).toBe(true);
    expect(problemsOf(() => parseMergeConfig("merge_method: tie\nbase_model: b\nmodels: [{model: a}]\n"))[0]).toMatch(/unknown method 'tie' \(did you mean 'ties'\?\)/);
  });

  it("a misspelt method parameter is an error; another method's parameter is ignored with a warning", () => {
    expect(problemsOf(() => parseMergeConfig("merge_method: ties\nbase_model: b\nmodels:\n  - model: a\n    parameters: {weight: 1, densty: 0.5}\n")))
      .toEqual([expect.stringMatching(/^line 5: models\[0\]\.parameters\.densty: ties has no parameter 'densty' \(did you mean 'density'\?\); known: /)]);
    const { warnings } = parseMergeConfig("merge_method: slerp\nbase_model: a\nmodels: [{model: a}, {model: b}]\nparameters: {t: 0.5, lambda: 1}\n");
    expect(warnings).toEqual([expect.stringMatching(/line 4: parameters\.lambda: slerp has no parameter 'lambda'; known: t; ignored/)]);
  });

  it("YAML syntax errors carry the yaml library's line and column; several documents get a cogen message", () => {
    const syntax = problemsOf(() => parseMergeConfig("merge_method: linear\nmodels: [{model: a}\nbase_model: b\n", "c.yml"));
    expect(syntax.length).toBeGreaterThan(0);
    for (const p of syntax) expect(p).toMatch(/^line \d+, column \d+: /);
    expect(syntax.join("\n")).not.toContain("line ?");
    const multi = problemsOf(() => parseMergeConfig("merge_method: linear\nmodels: [{model: a}]\n---\nmerge_method: ties\n", "c.yml"));
    expect(multi).toEqual(["line 3: a second YAML document starts here; a merge config is a single document (remove the '---' separator or split the file)"]);
    expect(multi.join()).not.toMatch(/parseAllDocuments/);
  });
});

describe("task files", () => {
  it("a field the item's kind does not use is refused with the closest name and the line", () => {
    const text = '{"id": "q1", "context": "2+2=", "choices": ["4", "5"], "answer": 0}\n{"id": "q2", "context": "1+1=", "choises": ["2", "3"], "answer": 0}\n';
    expect(() => parseTasks(text, "t.jsonl")).toThrow(InputFileError);
    expect(() => parseTasks('{"id": "q1", "text": "abc", "domian": "law"}\n', "t.jsonl")).toThrow(/t\.jsonl:1: 'domian': unknown field 'domian' \(did you mean 'domain'\?\)/);
    expect(() => parseTasks('{"id": "q1", "promt": "say hi", "answer": "hi"}\n', "t.jsonl")).toThrow(/cannot tell the item's kind.*unknown field 'promt' \(did you mean 'prompt'\?\)/);
  });
});
