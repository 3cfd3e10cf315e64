import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputFileError } from "../../src/core/errors.js";
import { readTasksFile } from "../../src/formats/tasks.js";
import { buildCorpus } from "../../src/zoo/corpora/build.js";
import { readZooManifest } from "../../src/zoo/build/manifest.js";
import { buildUnseenDomain, unseenEntry, writeUnseenDomain, type UnseenDomain } from "../../src/zoo/build/unseen.js";
import { ITEM_FILES, ITEM_KINDS } from "../../src/zoo/items/generate.js";
import { toJsonl } from "../../src/zoo/items/item.js";
import { tempDir } from "../fixtures/tiny-llama.js";

const ZOO = path.resolve("zoo");
let built: UnseenDomain;

beforeAll(async () => {
  built = await buildUnseenDomain({ seed: 0, perDomain: 200 });
}, 120_000);

describe("the zoo's unseen (ninth) domain", () => {
  it("is committed exactly as it builds: train text, held-out records, items and the manifest entry", async () => {
    const manifest = await readZooManifest(ZOO);
    const entry = unseenEntry(built);
    expect(manifest.unseen).toEqual(entry);
    const domain = built.corpus.domains[0];
    const train = await fs.readFile(path.join(ZOO, entry.trainFile), "utf8");
    expect(createHash("sha256").update(train).digest("hex")).toBe(entry.trainHash);
    expect(train).toBe(domain.trainText);
    expect(await fs.readFile(path.join(ZOO, entry.heldOutFile), "utf8")).toBe(toJsonl(domain.heldOut));
    for (const kind of ITEM_KINDS) {
      const file = path.join(ZOO, entry.items[kind].file);
      expect(await fs.readFile(file, "utf8")).toBe(toJsonl(built.items[kind]));
      expect((await readTasksFile(file)).length).toBe(entry.items[kind].count);
    }
    expect(entry.items.bitsPerByte.count).toBeGreaterThan(0);
  });

  it("holds nothing any zoo model trained on, and leaves the eight domains' data as the models were trained on it", async () => {
    const eight = await buildCorpus({ seed: 0 });
    const manifest = await readZooManifest(ZOO);
    expect(eight.domains.map((d) => createHash("sha256").update(d.trainText).digest("hex"))).toEqual(manifest.data.domains.map((d) => d.trainHash));
    const seen = new Set(eight.domains.flatMap((d) => [...d.train, ...d.heldOut].map((r) => r.definition)));
    const domain = built.corpus.domains[0];
    expect(domain.heldOut.length).toBeGreaterThan(50);
    for (const r of [...domain.train, ...domain.heldOut]) expect(seen.has(r.definition)).toBe(false);
    const mixture = eight.domains.map((d) => d.trainText).join("");
    for (const r of domain.heldOut) expect(mixture.includes(r.text)).toBe(false);
    // Its own split holds out no train definition.
    const heldOut = new Set(domain.heldOut.map((r) => r.definition));
    for (const r of domain.train) expect(heldOut.has(r.definition)).toBe(false);
  }, 120_000);

  describe("writeUnseenDomain", () => {
    let root: string;
    beforeAll(async () => {
      root = await tempDir("cogen-zoo-unseen-");
    });
    afterAll(async () => {
      await fs.rm(root, { recursive: true, force: true });
    });

    it("refuses a zoo whose build is not complete, and writes nothing", async () => {
      const zoo = path.join(root, "partial");
      await fs.mkdir(zoo);
      await fs.writeFile(path.join(zoo, "manifest.json"), JSON.stringify({ format: "cogen-zoo/1", complete: false, models: [], families: [] }));
      await expect(writeUnseenDomain(zoo)).rejects.toThrow(InputFileError);
      await expect(writeUnseenDomain(zoo)).rejects.toThrow(/not complete/);
      expect(await fs.readdir(zoo)).toEqual(["manifest.json"]);
    });

    it("adds the files and the manifest entry to a complete zoo, keeping the rest of the manifest", async () => {
      const zoo = path.join(root, "complete");
      await fs.mkdir(zoo);
      const before = { format: "cogen-zoo/1", complete: true, models: [], families: [], data: { seed: 0 }, plan: { itemsPerDomain: 200 } };
      await fs.writeFile(path.join(zoo, "manifest.json"), JSON.stringify(before));
      const entry = await writeUnseenDomain(zoo);
      const after = JSON.parse(await fs.readFile(path.join(zoo, "manifest.json"), "utf8"));
      expect(after).toEqual({ ...before, unseen: entry });
      expect(entry.trainHash).toBe(unseenEntry(built).trainHash);
      expect((await fs.readdir(path.join(zoo, "unseen", "items"))).sort()).toEqual(Object.values(ITEM_FILES).sort());
    }, 120_000);
  });
});
