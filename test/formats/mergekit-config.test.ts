import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors.js";
import { evaluateSetting } from "../../src/formats/mergekit-config.js";
import { parseMergeConfig } from "../../src/merge/config.js";

function problemsOf(text: string): string[] {
  try {
    parseMergeConfig(text, "c.yml");
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("parseMergeConfig", () => {
  it("parses a TIES config with per-model and global parameters", () => {
    const { config, warnings } = parseMergeConfig(`
models:
  - model: ./a
    parameters: {density: 0.5, weight: [0, 1]}
  - model: ./b+./lora
    parameters:
      weight: [{filter: mlp, value: 0.3}, {value: 0.7}]
merge_method: ties
base_model: ./base
parameters: {normalize: true}
dtype: bfloat16
tokenizer_source: union
`);
    expect(warnings).toEqual([]);
    expect(config.mergeMethod).toBe("ties");
    expect(config.models![1].model).toEqual({ text: "./b+./lora", path: "./b", lora: "./lora" });
    expect(config.dtype).toBe("bfloat16");
    expect(config.tokenizerSource).toBe("union");
    expect(config.baseModel!.path).toBe("./base");
  });

  it("a method typo fails naming the valid methods and a suggestion", () => {
    const problems = problemsOf("models: [{model: a}]\nmerge_method: dare-ties\n");
    expect(problems[0]).toMatch(/line 2: merge_method: unknown method 'dare-ties' \(did you mean 'dare_ties'\?\)/);
    expect(problems[0]).toContain("linear, task_arithmetic, ties");
  });

  it("reports every problem at once, with lines", () => {
    const problems = problemsOf(`merge_method: passthrough
slices:
  - sources:
      - model: a
        layer_range: [0, 4]
      - model: b
        layer_range: [4, 2]
  - sources:
      - {model: c, layer_range: [0, 2], parametres: {scale: 1}}
dtype: float8
colour: blue
`);
    expect(problems.some((p) => /line 7: slices\[0\]\.sources\[1\]\.layer_range/.test(p))).toBe(true);
    expect(problems.some((p) => /parametres: unknown key/.test(p))).toBe(true);
    expect(problems.some((p) => /unsupported dtype 'float8'/.test(p))).toBe(true);
    expect(problems.some((p) => /line 11: colour: unknown key/.test(p))).toBe(true);
    expect(problems.length).toBeGreaterThanOrEqual(4);
  });

  it("rejects both or neither of models/slices, and malformed YAML", () => {
    expect(problemsOf("merge_method: linear\n")).toContain("missing models (or slices): nothing to merge");
    expect(problemsOf("merge_method: linear\nmodels: [{model: a}]\nslices: [{sources: [{model: a, layer_range: [0,1]}]}]\n")).toContain("give either models or slices, not both");
    expect(problemsOf("merge_method: [linear\n")[0]).toMatch(/line/);
  });

  it("warns about parameters the method does not have", () => {
    const { warnings } = parseMergeConfig("merge_method: slerp\nbase_model: a\nmodels: [{model: a}, {model: b}]\nparameters: {t: 0.5, densty: 0.3}\n");
    expect(warnings[0]).toMatch(/parameters\.densty: slerp has no parameter 'densty'/);
  });
});

describe("evaluateSetting", () => {
  it("interpolates gradients piecewise-linearly", () => {
    expect(evaluateSetting([0, 1], "x", 0.25)).toBeCloseTo(0.25);
    expect(evaluateSetting([0, 0.5, 0.3, 0.7, 1], "x", 0)).toBe(0);
    expect(evaluateSetting([0, 0.5, 0.3, 0.7, 1], "x", 0.375)).toBeCloseTo(0.4);
    expect(evaluateSetting([0, 0.5, 0.3, 0.7, 1], "x", 1)).toBe(1);
  });
  it("takes the first matching filter, with nested gradients", () => {
    const s = [{ filter: "self_attn", value: [0, 1] }, { filter: "mlp", value: 0.3 }, { value: 0.5 }];
    expect(evaluateSetting(s, "model.layers.3.self_attn.q_proj.weight", 0.5)).toBeCloseTo(0.5);
    expect(evaluateSetting(s, "model.layers.3.mlp.up_proj.weight", 0.5)).toBe(0.3);
    expect(evaluateSetting(s, "model.norm.weight", 0.5)).toBe(0.5);
    expect(evaluateSetting([{ filter: "mlp", value: 1 }], "model.norm.weight", 0)).toBeUndefined();
  });
});
