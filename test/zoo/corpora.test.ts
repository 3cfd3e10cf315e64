import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError, InputFileError } from "../../src/core/errors.js";
import { readTasksFile } from "../../src/formats/tasks.js";
import { run as runZoo } from "../../src/cli/zoo.js";
import { writeZooData, zooManifest } from "../../src/zoo/corpora/write.js";
import { generateItems } from "../../src/zoo/items/generate.js";
import { buildCorpus, defaultDataDirs, splitCorpus, type Corpus } from "../../src/zoo/corpora/build.js";
import { fieldText, readFactbook } from "../../src/zoo/corpora/factbook.js";
import type { CorpusRecord } from "../../src/zoo/corpora/record.js";
import { parseWordNetData } from "../../src/zoo/corpora/wordnet.js";
import { fnv1a32, isHeldOut, splitKey } from "../../src/zoo/split.js";

const digest = (c: Corpus) => {
  const h = createHash("sha256");
  for (const d of c.domains) h.update(d.name).update("\0").update(d.trainText).update("\0").update(JSON.stringify(d.heldOut));
  return h.digest("hex");
};

describe("split", () => {
  it("is FNV-1a 32 (published test vectors)", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
    // non-ASCII keys hash their UTF-8 bytes: "é" is C3 A9
    const bytes = [0xc3, 0xa9];
    let h = 0x811c9dc5;
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    expect(fnv1a32("é")).toBe(h);
  });

  it("normalises keys so spellings of one headword share a side", () => {
    expect(splitKey("  Medical_Specialty ")).toBe("medical specialty");
    for (let i = 0; i < 200; i++) {
      const key = `Word_${i} Part`;
      expect(isHeldOut(key)).toBe(isHeldOut(`word ${i}  part`));
    }
  });

  it("holds out about the requested share, differently per seed", () => {
    const keys = Array.from({ length: 20000 }, (_, i) => `key${i}`);
    const share = keys.filter((k) => isHeldOut(k)).length / keys.length;
    expect(share).toBeGreaterThan(0.09);
    expect(share).toBeLessThan(0.11);
    expect(keys.filter((k) => isHeldOut(k, { heldOutPerMille: 500 })).length / keys.length).toBeCloseTo(0.5, 1);
    const differ = keys.filter((k) => isHeldOut(k, { seed: 0 }) !== isHeldOut(k, { seed: 1 })).length;
    expect(differ).toBeGreaterThan(2000);
  });

  it("puts a key's records on one side in every domain and never trains on held-out text", () => {
    const rec = (id: string, key: string, definition: string): CorpusRecord =>
      ({ id, key, headword: key, definition, text: `${key}: ${definition}`, source: "wordnet" });
    const heldKey = Array.from({ length: 100 }, (_, i) => `w${i}`).find((k) => isHeldOut(k))!;
    const trainKey = Array.from({ length: 100 }, (_, i) => `w${i}`).find((k) => !isHeldOut(k))!;
    const specs = [{ name: "a", description: "" }, { name: "b", description: "" }];
    const corpus = splitCorpus(specs, [
      [rec("1", heldKey, "the same definition"), rec("2", trainKey, "another one")],
      [rec("3", heldKey, "a third"), rec("4", trainKey, "the same definition"), rec("5", trainKey, "another one")],
    ]);
    expect(corpus.domains[0].heldOut.map((r) => r.id)).toEqual(["1"]);
    expect(corpus.domains[1].heldOut.map((r) => r.id)).toEqual(["3"]);
    // Record 4 repeats a held-out definition under a train headword: dropped from train.
    expect(corpus.domains[1].train.map((r) => r.id)).toEqual(["5"]);
    expect(corpus.domains[1].trainText).toBe(`${trainKey}: another one\n`);
  });
});

describe("WordNet data-file reader", () => {
  const header = "  1 This software and database is being provided to you, the LICENSEE  \n";
  const noun = "00001740 03 n 01 entity 0 001 ~ 00001930 n 0000 | that which is perceived or known  \n";
  const verb = "00001740 29 v 04 breathe 0 take_a_breath 0 respire 0 suspire 3 001 @ 00002084 v 0000 02 + 08 00 + 02 00 | draw air into, and expel out of, the lungs  \n";

  it("parses synsets, skipping the licence header", () => {
    const [s] = parseWordNetData(header + noun, "data.noun", "n");
    expect(s).toMatchObject({ key: "n00001740", lexName: "noun.Tops", words: ["entity"], gloss: "that which is perceived or known" });
    expect(s.pointers).toEqual([{ symbol: "~", target: "n00001930" }]);
    const [v] = parseWordNetData(verb, "data.verb", "v");
    expect(v.words).toEqual(["breathe", "take a breath", "respire", "suspire"]);
    expect(v.lexName).toBe("verb.body");
    const [a] = parseWordNetData("00002098 00 s 01 able(a) 0 001 ;c 06052606 n 0000 | having power  \n", "data.adj", "a");
    expect(a).toMatchObject({ key: "a00002098", satellite: true, words: ["able"], pointers: [{ symbol: ";c", target: "n06052606" }] });
  });

  it("rejects malformed lines naming the file and line", () => {
    const bad: [string, RegExp][] = [
      ["0000174 03 n 01 entity 0 000 | x\n", /synset_offset '0000174'/],
      ["00001740 99 n 01 entity 0 000 | x\n", /lex_filenum 99/],
      ["00001740 03 v 01 entity 0 000 | x\n", /ss_type 'v'/],
      ["00001740 03 n 02 entity 0 000 | x\n", /lex_id|word/],
      ["00001740 03 n 01 entity 0 002 ~ 00001930 n 0000 | x\n", /pointer|line ends/],
      ["00001740 03 n 01 entity 0 000\n", /gloss/],
      ["00001740 03 n 01 entity 0 001 ~ 00001930 q 0000 | x\n", /pointer pos 'q'/],
    ];
    for (const [line, message] of bad) {
      let error: unknown;
      try {
        parseWordNetData(header + line, "dict/data.noun", "n");
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InputFileError);
      expect((error as Error).message).toMatch(/^dict\/data\.noun:2: /);
      expect((error as Error).message).toMatch(message);
    }
    expect(() => parseWordNetData(header, "data.noun", "n")).toThrow(/no synsets/);
  });
});

describe("Factbook passages", () => {
  it("flattens nested fields and the package's list separator", () => {
    const data = { Geography: { Climate: { north: { text: "cold ++ wet" }, south: { text: "hot" } }, Terrain: { text: "flat" } } };
    expect(fieldText(data, ["Geography", "Climate"])).toBe("north: cold; wet; south: hot");
    expect(fieldText(data, ["Geography", "Terrain"])).toBe("flat");
    expect(fieldText(data, ["Geography", "Missing"])).toBeUndefined();
  });

  it("reports a broken country file by name", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "zoo-factbook-"));
    try {
      await fs.mkdir(path.join(dir, "europe"));
      await fs.writeFile(path.join(dir, "europe", "xx.json"), "{ not json");
      await expect(readFactbook(dir)).rejects.toThrow(/europe\/xx\.json: not valid JSON/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe("buildCorpus (WordNet 3.1 + Factbook)", () => {
  let corpus: Corpus;
  beforeAll(async () => {
    corpus = await buildCorpus();
  }, 60_000);

  it("has eight distinct, non-trivially sized domains", () => {
    expect(corpus.domains.map((d) => d.name)).toEqual(["medicine", "law", "finance", "computing", "geography", "biology", "food", "people"]);
    for (const d of corpus.domains) {
      // computing is the one domain WordNet cannot fill to 100 KB (see docs/ARCHITECTURE.md)
      expect(d.stats.trainBytes, d.name).toBeGreaterThan(d.name === "computing" ? 60_000 : 100_000);
      expect(d.stats.heldOutLines, d.name).toBeGreaterThan(50);
      const share = d.stats.heldOutLines / (d.stats.heldOutLines + d.stats.trainLines);
      expect(share, d.name).toBeGreaterThan(0.06);
      expect(share, d.name).toBeLessThan(0.15);
      expect(d.stats.trainBytes).toBe(Buffer.byteLength(d.trainText));
    }
    const ids = corpus.domains.flatMap((d) => [...d.train, ...d.heldOut].map((r) => r.id));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("splits by key: one side per key across domains, held-out keys never in train", () => {
    const side = new Map<string, boolean>();
    const domainsOf = new Map<string, Set<string>>();
    for (const d of corpus.domains) {
      for (const [records, held] of [[d.train, false], [d.heldOut, true]] as const) {
        for (const r of records) {
          const key = splitKey(r.key);
          expect(side.get(key) ?? held, key).toBe(held);
          side.set(key, held);
          expect(isHeldOut(r.key)).toBe(held);
          if (!domainsOf.has(key)) domainsOf.set(key, new Set());
          domainsOf.get(key)!.add(d.name);
        }
      }
    }
    // the rule is exercised: some headwords do occur in several domains
    expect([...domainsOf.values()].filter((s) => s.size > 1).length).toBeGreaterThan(50);
  });

  it("never trains on held-out text", () => {
    const trainLines = new Set(corpus.domains.flatMap((d) => d.train.map((r) => r.text)));
    const trainDefinitions = new Set(corpus.domains.flatMap((d) => d.train.map((r) => r.definition)));
    const held = corpus.domains.flatMap((d) => d.heldOut);
    for (const r of held) {
      expect(trainLines.has(r.text)).toBe(false);
      expect(trainDefinitions.has(r.definition)).toBe(false);
    }
    // and long held-out definitions are not even substrings of the train text (a sample)
    const allTrain = corpus.domains.map((d) => d.trainText).join("");
    const long = held.filter((r) => r.definition.length >= 60);
    for (let i = 0; i < long.length; i += Math.ceil(long.length / 150)) expect(allTrain.includes(long[i].definition), long[i].id).toBe(false);
  });

  it("is deterministic: the same bytes twice", async () => {
    const again = await buildCorpus();
    expect(digest(again)).toBe(digest(corpus));
  }, 60_000);

  it("fails clearly when the data is missing", async () => {
    const { factbookDir } = defaultDataDirs();
    await expect(buildCorpus({ wordnetDir: "/nonexistent/dict", factbookDir })).rejects.toThrow(/\/nonexistent\/dict\/data\.noun: no such file or folder/);
  });

  it("writes corpora, held-out records, items and a manifest atomically; refuses a foreign folder", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "zoo-data-"));
    try {
      const items = generateItems(corpus, { perDomain: 4, bitsPerByteChunks: 2 });
      const data = { corpus, items, manifest: zooManifest(corpus, items) };
      const out = path.join(dir, "data");
      await writeZooData(out, data);
      await writeZooData(out, data); // replacing our own output is allowed
      const manifest = JSON.parse(await fs.readFile(path.join(out, "manifest.json"), "utf8"));
      expect(manifest.domains.map((d: { name: string }) => d.name)).toEqual(corpus.domains.map((d) => d.name));
      const law = corpus.domains.find((d) => d.name === "law")!;
      expect(await fs.readFile(path.join(out, "corpora", "law.train.txt"), "utf8")).toBe(law.trainText);
      const held = (await fs.readFile(path.join(out, "corpora", "law.heldout.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
      expect(held).toEqual(law.heldOut);
      for (const [kind, entry] of Object.entries(manifest.items) as [string, { file: string; count: number }][]) {
        const parsed = await readTasksFile(path.join(out, entry.file));
        expect(parsed.length, kind).toBe(entry.count);
      }
      const foreign = path.join(dir, "foreign");
      await fs.mkdir(foreign);
      await fs.writeFile(path.join(foreign, "notes.txt"), "mine");
      await expect(writeZooData(foreign, data)).rejects.toThrow(ConfigError);
      expect(await fs.readFile(path.join(foreign, "notes.txt"), "utf8")).toBe("mine");
      await expect(writeZooData(path.join(foreign, "notes.txt"), data)).rejects.toThrow(/is a file/);
      expect((await fs.readdir(dir)).sort()).toEqual(["data", "foreign"]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("cogen zoo: rejects bad flags and unknown subcommands before any work", async () => {
    await expect(runZoo(["data", "--seed", "x"])).rejects.toThrow(/--seed: expected an integer from 0 to .*got 'x'/);
    await expect(runZoo(["data", "--per-domain", "0"])).rejects.toThrow(/--per-domain/);
    await expect(runZoo(["data", "--bogus"])).rejects.toThrow(ConfigError);
    await expect(runZoo(["nope"])).rejects.toThrow(/unknown subcommand 'nope'; known: data, build/);
  });
});
