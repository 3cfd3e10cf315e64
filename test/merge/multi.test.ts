import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planMultiMerge, runMultiMerge, UNNAMED_MERGE } from "../../src/merge/multi.js";
import { openHfWeights } from "../../src/formats/safetensors/index.js";
import { makeModel, tmp } from "./fixtures.js";

let root: string;
beforeAll(async () => {
  root = await tmp("cogen-multi-");
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const doc = (lines: string[]) => lines.join("\n");

describe("mergekit-multi files", () => {
  it("orders merges by their references, whatever the file order, and rewrites references to OUT_DIR/<name>", () => {
    const text = [
      doc(["merge_method: linear", "models:", "  - model: mid", "  - model: c", "parameters:", "  weight: 1"]),
      doc(["name: mid", "merge_method: slerp", "base_model: first", "models:", "  - model: b", "parameters:", "  t: 0.5"]),
      doc(["name: first", "merge_method: linear", "models:", "  - model: a", "  - model: b", "parameters:", "  weight: 1"]),
    ].join("\n---\n");
    const { merges, result } = planMultiMerge(text, "/out");
    expect(merges.map((m) => m.name)).toEqual(["first", "mid", UNNAMED_MERGE]);
    expect(result).toBe(UNNAMED_MERGE);
    expect(merges[1].config.baseModel?.path).toBe(path.join("/out", "first"));
    expect(merges[2].config.models?.[0].model.path).toBe(path.join("/out", "mid"));
    expect(merges[2].config.models?.[1].model.path).toBe("c");
  });

  it("the last merge is the result when every merge has a name", () => {
    const text = ["name: x\nmerge_method: linear\nmodels:\n  - model: a\nparameters:\n  weight: 1", "name: y\nmerge_method: linear\nmodels:\n  - model: x\nparameters:\n  weight: 1"].join("\n---\n");
    expect(planMultiMerge(text, "/out").result).toBe("y");
  });

  it("reports every naming problem and cycles, with document numbers", () => {
    const bad = [
      "merge_method: linear\nmodels:\n  - model: a\nparameters:\n  weight: 1",
      "merge_method: linear\nmodels:\n  - model: b\nparameters:\n  weight: 1",
      "name: x\nmerge_method: linear\nmodels:\n  - model: x\nparameters:\n  weight: 1",
      "name: ../up\nmerge_method: linear\nmodels:\n  - model: a\nparameters:\n  weight: 1",
    ].join("\n---\n");
    const message = (() => {
      try {
        planMultiMerge(bad, "/out", "m.yml");
      } catch (e) {
        return (e as Error).message;
      }
      return "";
    })();
    expect(message).toMatch(/^m\.yml: /);
    expect(message).toContain("2 documents have no name");
    expect(message).toContain("document 3: 'x' refers to its own output");
    expect(message).toContain("document 4: name '../up' must be letters");
    expect(message).not.toContain("is used by");
    const cycle = ["name: p\nmerge_method: linear\nmodels:\n  - model: q\nparameters:\n  weight: 1", "name: q\nmerge_method: linear\nmodels:\n  - model: p\nparameters:\n  weight: 1"].join("\n---\n");
    expect(() => planMultiMerge(cycle, "/out")).toThrow(/cycle: p \(needs q\); q \(needs p\)/);
    const typo = ["name: p\nmerge_method: linear\nmodels:\n  - model: a", "name: r\nmerge_method: lineer\nmodels:\n  - model: a"].join("\n---\n");
    expect(() => planMultiMerge(typo, "/out")).toThrow(/document 2: line 7: merge_method: unknown method 'lineer' \(did you mean 'linear'\?\)/);
    const dup = ["name: p\nmerge_method: linear\nmodels:\n  - model: a", "name: p\nmerge_method: linear\nmodels:\n  - model: b"].join("\n---\n");
    expect(() => planMultiMerge(dup, "/out")).toThrow(/document 2: name 'p' is used by document 1 too/);
  });

  it("runs the chain: the second merge reads the first's output", async () => {
    const a = await makeModel(path.join(root, "a"), { seed: 1 });
    const b = await makeModel(path.join(root, "b"), { seed: 2, from: a.tensors });
    const text = [
      "name: avg\nmerge_method: linear\nmodels:\n  - model: a\n  - model: b\nparameters:\n  weight: 1",
      "merge_method: task_arithmetic\nbase_model: a\nmodels:\n  - model: avg\n    parameters:\n      weight: 2",
    ].join("\n---\n");
    const out = path.join(root, "out");
    const report = await runMultiMerge({ config: text, baseDir: root, outDir: out });
    expect(report.merges.map((m) => m.outDir)).toEqual([path.join(out, "avg"), path.join(out, UNNAMED_MERGE)]);
    const w = await openHfWeights(report.result);
    const name = "model.layers.0.mlp.up_proj.weight";
    const got = await w.readF32(name);
    await w.close();
    // a + 2·((a + b)/2 − a) = b
    const want = b.tensors.get(name)!;
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
  });
});
