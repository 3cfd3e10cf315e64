import { beforeAll, describe, expect, it } from "vitest";
import { parseTasks } from "../../src/formats/tasks.js";
import { Rng } from "../../src/core/rng.js";
import { buildCorpus, type Corpus } from "../../src/zoo/corpora/build.js";
import type { CorpusRecord } from "../../src/zoo/corpora/record.js";
import { SPAN_CHARS, SPAN_SLACK } from "../../src/zoo/items/continuation.js";
import { definitionItems } from "../../src/zoo/items/definition.js";
import { generateItems, ITEM_KINDS, type ZooItems } from "../../src/zoo/items/generate.js";
import { toJsonl, type MultipleChoiceJson } from "../../src/zoo/items/item.js";
import { leak } from "../../src/zoo/items/leak.js";
import { words } from "../../src/zoo/items/text.js";
import { solverAccuracy, TRIVIAL_SOLVERS } from "../../src/zoo/items/trivial.js";

describe("leak filter", () => {
  it("catches shared stems, long shared substrings and acronyms", () => {
    expect(leak("psoriasis", "a psoriatic condition of the skin")).toBe("stem");
    expect(leak("lawyer", "a professional person authorized to practice law")).toBe("stem");
    expect(leak("surgeon", "a physician who specializes in surgery")).toBe("stem");
    expect(leak("bloodhound", "a large hound with a keen sense of smell")).toBe("substring");
    expect(leak("AIDS", "a serious disease: acquired immune deficiency syndrome")).toBe("acronym");
    expect(leak("CPU", "the central processing unit of a computer")).toBe("acronym");
    expect(leak("random access memory", "the main memory of a computer (RAM)")).toBe("stem");
    expect(leak("operating system", "software that schedules programs; an OS")).toBe("acronym");
  });

  it("lets honest definitions through", () => {
    expect(leak("psoriasis", "a chronic skin disease characterized by dry red patches covered with scales")).toBeUndefined();
    expect(leak("ox", "an adult castrated bull of the genus Bos")).toBeUndefined();
    expect(leak("CPU", "the part of a computer that does the arithmetic")).toBeUndefined();
    expect(leak("Columbia", "capital and largest city in South Carolina")).toBeUndefined();
  });

  it("keeps leaking definitions out of definition items", () => {
    const rec = (headword: string, definition: string, i: number): CorpusRecord =>
      ({ id: `t/${i}`, key: headword, headword, definition, text: `${headword}: ${definition}`, source: "wordnet" });
    const headwords = [
      "nurse", "medic", "oculist", "dentist", "midwife", "pharmacist", "anesthetist", "orderly", "paramedic", "radiologist",
      "chiropractor", "optician", "podiatrist", "physician", "internist", "pediatrician", "obstetrician", "dermatologist",
      "neurologist", "cardiologist", "oncologist", "urologist", "psychiatrist", "hematologist", "virologist", "herbalist", "vet",
    ];
    const codes = ["amber", "basil", "cedar", "delta", "ember", "fjord", "gamma", "hazel", "indigo", "jasper"];
    const pool = [
      rec("surgeon", "a physician who specializes in surgery", 0),
      ...headwords.map((h, i) => rec(h, `a health worker of grade ${codes[i % codes.length]} and rank ${codes[(i * 3) % codes.length]}`, i + 1)),
    ];
    const items = definitionItems("medicine", pool, new Rng(3), 100);
    expect(items.length).toBeGreaterThan(0);
    for (const item of items) {
      const answer = item.choices[item.answer].trim();
      expect(answer).not.toBe("surgeon");
      expect(leak(answer, item.context.replace(/^Definition: /, "").replace(/\nWord:$/, ""))).toBeUndefined();
    }
  });
});

describe("zoo items from the real corpus", () => {
  let corpus: Corpus;
  let items: ZooItems;
  beforeAll(async () => {
    corpus = await buildCorpus();
    items = generateItems(corpus);
  }, 60_000);

  it("are valid for the tasks parser, with unique ids and every domain present", () => {
    for (const kind of ITEM_KINDS) {
      const parsed = parseTasks(toJsonl(items[kind]), `${kind}.jsonl`);
      expect(parsed.length).toBe(items[kind].length);
      expect(new Set(parsed.map((i) => i.domain))).toEqual(new Set(corpus.domains.map((d) => d.name)));
      for (const item of parsed) expect(item.kind).toBe(kind === "bitsPerByte" ? "bits_per_byte" : "multiple_choice");
    }
    expect(items.definition.length).toBeGreaterThan(500);
    expect(items.cloze.length).toBeGreaterThan(1000);
    expect(items.continuation.length).toBeGreaterThan(1000);
  });

  it("are deterministic for a seed", () => {
    const again = generateItems(corpus);
    for (const kind of ITEM_KINDS) expect(toJsonl(again[kind])).toBe(toJsonl(items[kind]));
    const other = generateItems(corpus, { seed: 5 });
    expect(toJsonl(other.continuation)).not.toBe(toJsonl(items.continuation));
  });

  it("use only held-out text", () => {
    const held = new Map(corpus.domains.map((d) => [d.name, d.heldOut]));
    const trainLines = new Set(corpus.domains.flatMap((d) => d.train.map((r) => r.text)));
    for (const item of [...items.cloze, ...items.continuation]) {
      const source = held.get(item.domain)!.find((r) => item.id.endsWith("/" + r.id))!;
      expect(source, item.id).toBeDefined();
      expect(source.text.startsWith(item.context + item.choices[item.answer])).toBe(true);
    }
    for (const item of items.definition) {
      const answer = item.choices[item.answer].trim();
      expect(held.get(item.domain)!.some((r) => r.headword === answer && item.context.includes(r.definition))).toBe(true);
      // distractors are held-out headwords too: no choice was trained on more than another
      for (const c of item.choices) expect(held.get(item.domain)!.some((r) => r.headword === c.trim())).toBe(true);
    }
    for (const item of items.bitsPerByte) for (const line of item.text.trimEnd().split("\n")) expect(trainLines.has(line)).toBe(false);
  });

  it("give no surface cue: each choice starts at a word boundary; cloze and continuation choices share a length bucket", () => {
    for (const item of [...items.definition, ...items.cloze, ...items.continuation]) {
      expect(item.choices.length).toBe(4);
      expect(new Set(item.choices).size).toBe(4);
      for (const c of item.choices) expect(c).toMatch(/^ \S/);
    }
    for (const item of items.cloze) {
      const lengths = new Set(item.choices.map((c) => c.length));
      expect(lengths.size).toBe(1);
      const word = words(item.choices[item.answer])[0];
      expect(words(item.context)).not.toContain(word);
    }
    for (const item of items.continuation) {
      for (const c of item.choices) {
        expect(c.length).toBeGreaterThanOrEqual(SPAN_CHARS);
        expect(c.length).toBeLessThanOrEqual(SPAN_CHARS + SPAN_SLACK);
        expect(c).toMatch(/^ [a-z]/);
      }
    }
    for (const kind of ["definition", "cloze", "continuation"] as const) {
      const counts = [0, 0, 0, 0];
      for (const item of items[kind]) counts[item.answer]++;
      for (const n of counts) expect(n / items[kind].length, kind).toBeGreaterThan(0.18);
    }
  });

  it("keep trivial solvers near chance on every multiple-choice kind", () => {
    const report: string[] = [];
    const check = (kind: string, list: MultipleChoiceJson[]) => {
      for (const [name, solver] of Object.entries(TRIVIAL_SOLVERS)) {
        const a = solverAccuracy(list, solver);
        report.push(`${kind} ${name}: ${a.accuracy.toFixed(3)} ± ${a.standardError.toFixed(3)} (n=${a.items}, chance ${a.chance.toFixed(2)})`);
        expect(Math.abs(a.accuracy - a.chance), `${kind} ${name}`).toBeLessThan(Math.max(0.04, 3 * a.standardError));
      }
    };
    check("definition", items.definition);
    check("cloze", items.cloze);
    check("continuation", items.continuation);
    console.log(report.join("\n"));
  });

  it("credits ties fairly in the trivial-solver score", () => {
    const item: MultipleChoiceJson = { id: "x", domain: "d", task: "t", context: "abc", choices: [" aa", " bb", " c"], answer: 1 };
    expect(solverAccuracy([item], TRIVIAL_SOLVERS.longest).accuracy).toBeCloseTo(0.5);
    expect(solverAccuracy([item], TRIVIAL_SOLVERS.shortest).accuracy).toBe(0);
    expect(solverAccuracy([{ ...item, answer: 2 }], TRIVIAL_SOLVERS.shortest).accuracy).toBe(1);
  });
});
