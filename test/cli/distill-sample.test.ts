import { promises as fs } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../fixtures/tiny-llama.js";
import { capture } from "./capture.js";

// A real source: the committed zoo's family-B finance expert, through llama.cpp.
const ZOO = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "zoo");
let root: string;

beforeAll(async () => {
  root = await tempDir("cogen-distill-sample-");
  await fs.writeFile(path.join(root, "finance.txt"), "peso: the basic unit of money in Mexico\nbond: a certificate of debt issued by a government\n");
  await fs.writeFile(path.join(root, "models.yml"), `experts:\n  - { id: b/finance, backend: llamacpp, path: ${JSON.stringify(path.join(ZOO, "b/experts/finance/model.gguf"))}, threads: 1, context_size: 64 }\n`);
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const sample = (...extra: string[]) => capture(["distill", "sample", "--sources", path.join(root, "models.yml"), "--json", ...extra]);

describe("cogen distill sample", () => {
  it("writes each source's seeded samples and the manifest", async () => {
    const out = path.join(root, "out");
    const run = await sample("--prefixes", `b/finance=${path.join(root, "finance.txt")}`, "--out", out, "--samples", "6", "--max-tokens", "16", "--seed", "3");
    expect(run.code).toBe(0);
    const manifest = JSON.parse(run.out);
    expect(manifest.sources).toMatchObject([{ name: "b-finance", model: "b/finance", file: "b-finance.txt" }]);
    const lines = (await fs.readFile(path.join(out, "b-finance.txt"), "utf8")).trimEnd().split("\n");
    expect(lines).toHaveLength(manifest.sources[0].samples);
    expect(lines.every((l) => l.startsWith("peso: the basic unit") || l.startsWith("bond: a certificate of"))).toBe(true);
  });

  it("refuses an unknown source, a malformed entry and a missing prefix file", async () => {
    const out = path.join(root, "bad");
    const unknown = await sample("--prefixes", "b/law=x.txt", "--out", out);
    expect(unknown.code).not.toBe(0);
    expect(unknown.err).toMatch(/'b\/law', which is not an entry .*entries: b\/finance/);
    const malformed = await sample("--prefixes", "b/finance", "--out", out, "--samples", "x");
    expect(malformed.err).toMatch(/--samples: expected an integer/);
    expect(malformed.err).toMatch(/entries are ID=FILE, got 'b\/finance'/);
    const missing = await sample("--prefixes", `b/finance=${path.join(root, "none.txt")}`, "--out", out);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toMatch(/none\.txt: cannot read the prefix lines/);
    await expect(fs.access(out)).rejects.toThrow();
  });
});
