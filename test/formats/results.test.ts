import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseResultsCsv, parseResultsJsonl, readResultsFile } from "../../src/formats/results.js";
import { fixtureFile } from "../reference-data.js";

describe("long-format results", () => {
  it("reads JSONL with optional domain and benchmark, scores as numbers or booleans", () => {
    const text = [
      '{"model": "m1", "item": "q1", "score": 1, "domain": "chem", "benchmark": "cb"}',
      "",
      '{"model": "m1", "item": 2, "score": 0.25}',
      '{"model": "m2", "item": "q1", "score": false}',
    ].join("\n");
    expect(parseResultsJsonl(text, "r.jsonl")).toEqual([
      { model: "m1", item: "q1", score: 1, domain: "chem", benchmark: "cb" },
      { model: "m1", item: "2", score: 0.25, domain: "default" },
      { model: "m2", item: "q1", score: 0, domain: "default" },
    ]);
  });

  it("names the file and line of bad JSONL records", () => {
    expect(() => parseResultsJsonl('{"model":"m","item":"q","score":1}\n{"model":"m","item":"q","score":0}', "r.jsonl"))
      .toThrow('r.jsonl:2: duplicate result for model "m" on item "q" (first on line 1)');
    expect(() => parseResultsJsonl('{"model":"m","item":"q","score":1.5}', "r.jsonl")).toThrow("r.jsonl:1: score 1.5 is outside [0, 1]");
    expect(() => parseResultsJsonl('{"model":"m","item":"q","score":"NaN"}', "r.jsonl")).toThrow('r.jsonl:1: score "NaN" is not a number');
    expect(() => parseResultsJsonl('{"model":"m","item":"q"}', "r.jsonl")).toThrow("r.jsonl:1: score is missing");
    expect(() => parseResultsJsonl('{"item":"q","score":1}', "r.jsonl")).toThrow('r.jsonl:1: field "model" is missing');
    expect(() => parseResultsJsonl("{oops", "r.jsonl")).toThrow(/r\.jsonl:1: not valid JSON/);
    expect(() => parseResultsJsonl("[1,2]", "r.jsonl")).toThrow(/r\.jsonl:1: expected a JSON object/);
    expect(() => parseResultsJsonl("\n\n", "r.jsonl")).toThrow(/no results/);
  });

  it("reads long CSV and rejects bad rows with their line", () => {
    const rows = parseResultsCsv("model,item,score,domain\nm1,q1,1,law\nm2,q1,0.5,\n", "r.csv");
    expect(rows).toEqual([
      { model: "m1", item: "q1", score: 1, domain: "law" },
      { model: "m2", item: "q1", score: 0.5, domain: "default" },
    ]);
    expect(() => parseResultsCsv("model,item,score\nm1,q1,1\nm1,q1,0\n", "r.csv")).toThrow('r.csv:3: duplicate result for model "m1" on item "q1" (first on line 2)');
    expect(() => parseResultsCsv("model,item,score\nm1,q1,-0.1\n", "r.csv")).toThrow("r.csv:2: score -0.1 is outside [0, 1]");
    expect(() => parseResultsCsv("model,item,score\nm1,q1\n", "r.csv")).toThrow("r.csv:2: expected 3 fields");
  });
});

describe("wide matrix results", () => {
  it("reads a ChemBench-style matrix: empty first header, model columns, empty cells missing", () => {
    const rows = parseResultsCsv(",A,B\n0,1.0,0.0\n1,,1\n", "m.csv");
    expect(rows).toEqual([
      { model: "A", item: "0", score: 1, domain: "default" },
      { model: "B", item: "0", score: 0, domain: "default" },
      { model: "B", item: "1", score: 1, domain: "default" },
    ]);
    const withDomain = parseResultsCsv("item,domain,A\nq,bio,1\n", "m.csv");
    expect(withDomain).toEqual([{ model: "A", item: "q", score: 1, domain: "bio" }]);
  });

  it("rejects duplicates, bad cells and headers that are neither format", () => {
    expect(() => parseResultsCsv(",A\n0,1\n0,0\n", "m.csv")).toThrow('m.csv:3: item "0" appears twice (first on line 2)');
    expect(() => parseResultsCsv(",A,A\n0,1,1\n", "m.csv")).toThrow('m.csv:1: model "A" has two columns');
    expect(() => parseResultsCsv(",A\n0,2\n", "m.csv")).toThrow('m.csv:2: column "A" 2 is outside [0, 1]');
    expect(() => parseResultsCsv(",A\n0,yes\n", "m.csv")).toThrow('m.csv:2: column "A" "yes" is not a number');
    expect(() => parseResultsCsv("model_a,model_b,winner\nx,y,tie\n", "v.csv")).toThrow(/m?v\.csv:1: not a results file/);
  });

  it("reads a real ChemBench matrix (the committed excerpt) from disk", async () => {
    const rows = await readResultsFile(fixtureFile("chembench", "binary_matrix-every-5th-item.csv"));
    expect(rows).toHaveLength(571 * 22);
    expect(new Set(rows.map((r) => r.model)).size).toBe(22);
    // Row "5", column "o1" of the CSV (1.0) and row "0", column "Mistral-Large-2" (0.0).
    expect(rows.find((r) => r.item === "5" && r.model === "o1")?.score).toBe(1);
    expect(rows.find((r) => r.item === "0" && r.model === "Mistral-Large-2")?.score).toBe(0);
  });

  it("refuses unknown file types", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-results-"));
    try {
      const file = path.join(dir, "r.txt");
      await fs.writeFile(file, "x");
      await expect(readResultsFile(file)).rejects.toThrow(/unknown results file type ".txt"/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
