import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.js";
import { makeModel, tmp } from "./fixtures.js";
import { capture } from "../cli/capture.js";

let root: string;
beforeAll(async () => {
  root = await tmp();
  const base = await makeModel(path.join(root, "base"), { seed: 1 });
  await makeModel(path.join(root, "a"), { seed: 2, from: base.tensors });
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe("cogen merge", () => {
  it("a method typo fails on the config alone, naming the valid methods", async () => {
    const cfg = path.join(root, "typo.yml");
    await fs.writeFile(cfg, "merge_method: dare-ties\nmodels: [{model: nowhere}]\n");
    const err = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const code = await main(["merge", cfg, path.join(root, "out-typo")]);
    expect(code).toBe(1);
    // It failed on the config alone (the method, before the missing model "nowhere") and wrote nothing.
    await expect(fs.stat(path.join(root, "out-typo"))).rejects.toThrow(/ENOENT/);
    expect(err.mock.calls.flat().join("\n")).toMatch(/unknown method 'dare-ties' \(did you mean 'dare_ties'\?\); valid methods: linear/);
    err.mockRestore();
  });

  it("merges with --json and --seed, relative paths resolving against the working directory", async () => {
    const cfg = path.join(root, "ok.yml");
    await fs.writeFile(cfg, `merge_method: dare_linear\nbase_model: ${path.join(root, "base")}\nmodels: [{model: ${path.join(root, "a")}, parameters: {weight: 1, density: 0.5}}]\n`);
    const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const code = await main(["merge", cfg, path.join(root, "out-ok"), "--seed", "3", "--json", "--out-shard-size", "1M"]);
    const printed = out.mock.calls.map((c) => String(c[0])).join("");
    out.mockRestore();
    expect(code).toBe(0);
    const report = JSON.parse(printed);
    expect(report).toMatchObject({ method: "dare_linear", layers: 2, dryRun: false });
    expect(report.inputBytesRead).toBeGreaterThan(0);
    expect(await fs.readdir(path.join(root, "out-ok"))).toContain("model.safetensors");
  });

  it("runs a mergekit-multi file into OUT_DIR/<name> and names the result", async () => {
    const cfg = path.join(root, "multi.yml");
    const base = path.join(root, "base");
    await fs.writeFile(cfg, `name: half\nmerge_method: linear\nmodels: [{model: ${base}}, {model: ${path.join(root, "a")}}]\nparameters: {weight: 1}\n---\nmerge_method: slerp\nbase_model: ${base}\nmodels: [{model: half}]\nparameters: {t: 0.5}\n`);
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    const code = await main(["merge", cfg, path.join(root, "out-multi")]);
    const printed = log.mock.calls.flat().join("\n");
    log.mockRestore();
    expect(code).toBe(0);
    expect((await fs.readdir(path.join(root, "out-multi"))).sort()).toEqual(["final", "half"]);
    expect(printed).toMatch(/merged \(linear\)[\s\S]*merged \(slerp\)[\s\S]*result: .*out-multi[\\/]final/);
  });

  it("refuses to replace a non-empty output folder unless --force", async () => {
    const cfg = path.join(root, "again.yml");
    await fs.writeFile(cfg, `merge_method: linear\nmodels: [{model: ${path.join(root, "base")}}, {model: ${path.join(root, "a")}}]\nparameters: {weight: 1}\n`);
    const out = path.join(root, "out-again");
    await fs.mkdir(out);
    await fs.writeFile(path.join(out, "precious.txt"), "yesterday's merge\n");
    const refused = await capture(["merge", cfg, out]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/^cogen merge: .*out-again already exists and is not empty; give --force to replace it/);
    expect(await fs.readFile(path.join(out, "precious.txt"), "utf8")).toBe("yesterday's merge\n");
    expect((await capture(["merge", cfg, out, "--dry-run"])).code).toBe(0);
    const forced = await capture(["merge", cfg, out, "--force"]);
    expect(forced.code, forced.err).toBe(0);
    expect(await fs.readdir(out)).toContain("model.safetensors");
    expect(await fs.readdir(out)).not.toContain("precious.txt");
    // An empty folder is not worth protecting.
    const empty = path.join(root, "out-empty");
    await fs.mkdir(empty);
    expect((await capture(["merge", cfg, empty])).code).toBe(0);
  });

  it("never writes over one of its inputs, not even with --force, and says why", async () => {
    const a = path.join(root, "a");
    const cfg = path.join(root, "over-input.yml");
    await fs.writeFile(cfg, `merge_method: linear\nmodels: [{model: ${path.join(root, "base")}}, {model: ${a}}]\nparameters: {weight: 1}\n`);
    const before = await fs.readFile(path.join(a, "model.safetensors"));
    // Without --force it says so too, rather than suggesting --force.
    for (const [out, flags] of [[a, []], [a, ["--force"]], [a, ["--dry-run"]], [root, ["--force"]]] as const) {
      const result = await capture(["merge", cfg, out, ...flags]);
      expect(result.code, result.err).toBe(1);
      expect(result.err).toMatch(new RegExp(`the output folder .* is, or holds, the input .*[\\\\/]a: writing there would delete it; choose another output folder`));
    }
    expect(await fs.readFile(path.join(a, "model.safetensors"))).toEqual(before);
    // A folder inside an input is not the input: allowed.
    const inside = await capture(["merge", cfg, path.join(root, "a-merged")]);
    expect(inside.code, inside.err).toBe(0);
  });

  it("names an output that is a file, and a config that is a folder, as such", async () => {
    const cfg = path.join(root, "again.yml");
    const file = path.join(root, "a-file");
    await fs.writeFile(file, "not a folder\n");
    const onFile = await capture(["merge", cfg, file]);
    expect(onFile.code).toBe(1);
    expect(onFile.err).toMatch(/^cogen merge: .*a-file is a file, not a folder; give --force to replace it/);
    const dirConfig = await capture(["merge", root, path.join(root, "out-dir-config")]);
    expect(dirConfig.code).toBe(1);
    expect(dirConfig.err).toMatch(/^cogen merge: .*: is a folder; give a file$/);
  });

  it("says models of different widths are incompatible, without suggesting slices", async () => {
    const zoo = path.join(import.meta.dirname, "../../zoo");
    const cfg = path.join(root, "families.yml");
    await fs.writeFile(cfg, `merge_method: linear\nmodels: [{model: ${path.join(zoo, "a/base/hf")}}, {model: ${path.join(zoo, "b/base/hf")}}]\nparameters: {weight: 1}\n`);
    const result = await capture(["merge", cfg, path.join(root, "out-families")]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/the models are incompatible: their hidden sizes differ \(.*a\/base\/hf: 64, .*b\/base\/hf: 48\)/);
    expect(result.err).not.toMatch(/slices/);
  });

  it("rejects bad flags", async () => {
    const err = vi.spyOn(console, "error").mockImplementation(() => undefined);
    expect(await main(["merge", "x.yml", "out", "--threads", "0", "--out-format", "onnx"])).toBe(2);
    expect(err.mock.calls.flat().join("\n")).toMatch(/--threads[\s\S]*--out-format/);
    err.mockRestore();
  });
});
