/** Which experts a merge or mixture combines, and what unify says when there are none. */
import { describe, expect, it } from "vitest";
import type { ExpertSpec } from "../../src/formats/models-file.js";
import { sameBaseGroup } from "../../src/unify/same-base.js";

const local = (id: string, base?: string): ExpertSpec => ({ id, backend: "llamacpp", path: `${id}.gguf`, domains: [], tags: [], ...(base ? { base } : {}) });
const remote = (id: string, base?: string): ExpertSpec => ({ id, backend: "openai", url: "http://127.0.0.1:1/v1", domains: [], tags: [], ...(base ? { base } : {}) });

describe("sameBaseGroup", () => {
  it("takes the largest group of local experts on one local base, and notes the others", () => {
    const { group, reason } = sameBaseGroup([local("a"), local("b"), local("a1", "a"), local("b1", "b"), local("a2", "a"), local("b2", "b"), local("a3", "a"), remote("a4", "a")]);
    expect(reason).toBeUndefined();
    expect(group?.base.id).toBe("a");
    expect(group?.experts.map((e) => e.id)).toEqual(["a1", "a2", "a3"]);
    expect(group?.others).toEqual([{ base: "b", experts: ["b1", "b2"] }]);
    expect(group?.adapters).toEqual([]);
  });

  it("leaves out an expert that is a runtime LoRA adapter without a weights folder, and names it", () => {
    const adapter = (id: string, weights?: string): ExpertSpec => ({ ...local(id, "a"), lora: { path: `${id}.lora.gguf`, scale: 1 }, ...(weights ? { weights } : {}) });
    const { group } = sameBaseGroup([local("a"), local("a1", "a"), adapter("a2"), adapter("a3", "a3-hf"), local("a4", "a")]);
    expect(group?.experts.map((e) => e.id)).toEqual(["a1", "a3", "a4"]);
    expect(group?.adapters).toEqual(["a2"]);
    expect(sameBaseGroup([local("a"), local("a1", "a"), adapter("a2")]).reason).toMatch(/a2 → a \(a LoRA adapter: give it `weights:`\)/);
  });

  it("says to name bases when no expert names one", () => {
    expect(sameBaseGroup([local("a"), local("b")]).reason).toMatch(/no two local experts name the same base in the models file \(a → no base, b → no base\); give each expert .*`base: ID`/);
  });

  it("says one expert on a base is not enough, rather than blaming different bases", () => {
    const { reason } = sameBaseGroup([local("base"), local("medicine", "base")]);
    expect(reason).toMatch(/\(base → no base, medicine → base\); a weight-space model combines two or more experts fine-tuned from one base, and one names it$/);
  });

  it("says the bases differ when single experts name different bases", () => {
    expect(sameBaseGroup([local("a"), local("b"), local("a1", "a"), local("b1", "b")]).reason).toMatch(/different bases cannot be combined$/);
  });

  it("says a remote base has no local weights", () => {
    expect(sameBaseGroup([remote("a"), local("a1", "a"), local("a2", "a")]).reason).toMatch(/the base a has no local weights/);
  });
});
