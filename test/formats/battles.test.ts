import { describe, expect, it } from "vitest";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseBattles, readBattles } from "../../src/formats/battles.js";
import { InputFileError } from "../../src/core/errors.js";
import { referenceFile } from "../reference-data.js";

const LLMFAO = referenceFile("llmfao", "llmfao.csv");

describe("parseBattles (CSV)", () => {
  it("reads the Arena layout, including the old 'tie (bothbad)' spelling", () => {
    const text = "id,model_a,model_b,winner,math.math\n1,x,y,model_a,0\n2,x,y,model_b,1\n3,y,z,tie,0\n4,y,z,both_bad,0\n5,x,z,tie (bothbad),1\n";
    const battles = parseBattles(text, "arena.csv");
    expect(battles.layout).toBe("arena");
    expect(battles.comparisons).toEqual([
      { a: "x", b: "y", outcome: "a" },
      { a: "x", b: "y", outcome: "b" },
      { a: "y", b: "z", outcome: "tie" },
      { a: "y", b: "z", outcome: "both_bad" },
      { a: "x", b: "z", outcome: "both_bad" },
    ]);
    expect(battles.lines).toEqual([2, 3, 4, 5, 6]);
  });

  it("reads the llmfao layout (left/right names, extra id columns ignored)", () => {
    const text = "id,prompt,model_x,model_y,worker,winner,left,right\n0,8,97,98,58,tie,A,B\n0,8,97,98,14,right,A,B\n1,2,3,4,5,left,\"C, the model\",A\n";
    const battles = parseBattles(text, "llmfao.csv");
    expect(battles.layout).toBe("llmfao");
    expect(battles.comparisons).toEqual([
      { a: "A", b: "B", outcome: "tie" },
      { a: "A", b: "B", outcome: "b" },
      { a: "C, the model", b: "A", outcome: "a" },
    ]);
  });

  it("keeps a domain only when asked", () => {
    const text = "model_a,model_b,winner,category\nx,y,model_a,math\nx,y,model_b,\n";
    expect(parseBattles(text, "t.csv").comparisons[0].domain).toBeUndefined();
    const battles = parseBattles(text, "t.csv", { domainColumn: "category" });
    expect(battles.comparisons.map((c) => c.domain)).toEqual(["math", "default"]);
    expect(() => parseBattles(text, "t.csv", { domainColumn: "nope" })).toThrow(/t\.csv:1: no column "nope"/);
  });

  it("rejects bad rows naming the file and line", () => {
    const header = "model_a,model_b,winner\n";
    expect(() => parseBattles(header + "x,y,model_a\n,y,model_a\n", "b.csv")).toThrow(/b\.csv:3: empty model name in "model_a"/);
    expect(() => parseBattles(header + "x, ,tie\n", "b.csv")).toThrow(/b\.csv:2: empty model name in "model_b"/);
    expect(() => parseBattles(header + "x,y,tie\nx,x,tie\n", "b.csv")).toThrow(/b\.csv:3: model "x" is compared with itself/);
    expect(() => parseBattles(header + "x,y,left\n", "b.csv")).toThrow(/b\.csv:2: unknown winner "left" in "winner"; expected one of model_a, model_b, tie, both_bad/);
    expect(() => parseBattles("left,right,winner\nx,y,model_a\n", "b.csv")).toThrow(/b\.csv:2: unknown winner "model_a"/);
    expect(() => parseBattles(header + "x,y\n", "b.csv")).toThrow(/b\.csv:2: expected 3 fields/);
    expect(() => parseBattles("a,b,c\n1,2,3\n", "b.csv")).toThrow(/b\.csv:1: not a battle file/);
    expect(() => parseBattles(header, "b.csv")).toThrow(/no battles/);
    expect(() => parseBattles("", "b.csv")).toThrow(/empty battle file/);
    expect(() => parseBattles(header + "x,y,model_a\n", "b.csv")).not.toThrow();
  });

  it("skips self-comparisons on request, with a warning naming the lines", () => {
    const text = "model_a,model_b,winner\nx,x,tie\nx,y,model_a\nx,x,model_b\n";
    const battles = parseBattles(text, "s.csv", { selfComparisons: "skip" });
    expect(battles.comparisons).toEqual([{ a: "x", b: "y", outcome: "a" }]);
    expect(battles.lines).toEqual([3]);
    expect(battles.warnings[0]).toMatch(/skipped 2 row\(s\).*lines 2, 4/);
  });
});

describe("parseBattles (JSONL)", () => {
  it("reads both layouts from JSON Lines with blank lines and CRLF", () => {
    const text = '{"model_a":"x","model_b":"y","winner":"model_b","extra":[1]}\r\n\r\n{"model_a":"y","model_b":"z","winner":"tie"}\n';
    const battles = parseBattles(text, "b.jsonl");
    expect(battles.comparisons).toEqual([
      { a: "x", b: "y", outcome: "b" },
      { a: "y", b: "z", outcome: "tie" },
    ]);
    expect(battles.lines).toEqual([1, 3]);
    expect(parseBattles('{"left":"p","right":"q","winner":"left"}\n', "l.jsonl").comparisons).toEqual([{ a: "p", b: "q", outcome: "a" }]);
  });

  it("rejects malformed lines with their line numbers", () => {
    const ok = '{"model_a":"x","model_b":"y","winner":"tie"}\n';
    expect(() => parseBattles(ok + "{oops\n", "b.jsonl")).toThrow(/b\.jsonl:2: not valid JSON/);
    expect(() => parseBattles(ok + '{"model_a":"x","model_b":3,"winner":"tie"}\n', "b.jsonl")).toThrow(/b\.jsonl:2: "model_b" must be a string/);
    expect(() => parseBattles(ok + '{"model_a":"x","winner":"tie"}\n', "b.jsonl")).toThrow(/b\.jsonl:2: missing key "model_b"/);
    expect(() => parseBattles(ok + '{"model_a":"x","model_b":"y","winner":"draw"}\n', "b.jsonl")).toThrow(/b\.jsonl:2: unknown winner "draw"/);
    expect(() => parseBattles('{"a":1}\n', "b.jsonl")).toThrow(/b\.jsonl:1: not a battle file/);
  });
});

describe("readBattles", () => {
  it("reads a file from disk and reports unreadable paths as InputFileError", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-battles-"));
    try {
      const file = path.join(dir, "b.csv");
      await fs.writeFile(file, "model_a,model_b,winner\r\nx,y,model_a\r\n");
      expect((await readBattles(file)).comparisons).toEqual([{ a: "x", b: "y", outcome: "a" }]);
      await expect(readBattles(path.join(dir, "missing.csv"))).rejects.toBeInstanceOf(InputFileError);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("reads the bytes of a CSV with a BOM, CRLF, quoted names and padded spellings, and JSONL after blank space", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-battles-"));
    try {
      const file = path.join(dir, "b.csv");
      const rows = ['id,model_a,model_b,winner,note', '1,"m, large",tiny,model_a,"said ""hi"""', "2, tiny ,\"m, large\",tie (bothbad),", '3,tiny,x,"model_b",'];
      await fs.writeFile(file, "\ufeff" + rows.join("\r\n") + "\r\n");
      const battles = await readBattles(file, { domainColumn: "note" });
      expect(battles.comparisons).toEqual([
        { a: "m, large", b: "tiny", outcome: "a", domain: 'said "hi"' },
        { a: "tiny", b: "m, large", outcome: "both_bad", domain: "default" },
        { a: "tiny", b: "x", outcome: "b", domain: "default" },
      ]);
      // A name padded with spaces and written bare reads as the same name.
      expect(battles.comparisons[1].a).toBe(battles.comparisons[2].a);
      expect(battles.lines).toEqual([2, 3, 4]);
      const jsonl = path.join(dir, "b.jsonl");
      await fs.writeFile(jsonl, '\n  {"left":"p","right":"q","winner":"right"}\n');
      expect((await readBattles(jsonl)).comparisons).toEqual([{ a: "p", b: "q", outcome: "b" }]);
      await fs.writeFile(jsonl, " \r\n\t");
      await expect(readBattles(jsonl)).rejects.toThrow(/b\.jsonl: empty battle file/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("names the file, line and field of a bad row read from disk", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-battles-"));
    try {
      const file = path.join(dir, "arena.csv");
      const header = "id,model_a,model_b,winner\n";
      const bad = async (body: string) => {
        await fs.writeFile(file, header + body);
        return readBattles(file);
      };
      await expect(bad("1,x,y,tie\n2,x,,model_a\n")).rejects.toThrow(/arena\.csv:3: empty model name in "model_b"/);
      await expect(bad('1,x,y,tie\n2,"x\ny",z,draw\n3,x,y,tie\n')).rejects.toThrow(/arena\.csv:3: unknown winner "draw" in "winner"/);
      await expect(bad("1,x,y,tie\n\n3,x,y\n")).rejects.toThrow(/arena\.csv:4: expected 4 fields \(as in the header\), found 3/);
      await expect(bad('1,x,y,tie\n2,x"y,z,tie\n')).rejects.toThrow(/arena\.csv:3: a double quote inside an unquoted field/);
      await expect(bad('1,x,y,tie\n2,"x"y,z,tie\n')).rejects.toThrow(/arena\.csv:3: unexpected character "y" after a closing quote/);
      await expect(bad('1,x,y,tie\n2,"x,z,tie\n')).rejects.toThrow(/arena\.csv:3: unterminated quoted field/);
      await expect(bad("1,x,x,tie\n")).rejects.toThrow(/arena\.csv:2: model "x" is compared with itself/);
      await expect(bad("")).rejects.toThrow(/arena\.csv: no battles after the header/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!LLMFAO.available)(`parses the real llmfao file${LLMFAO.skipNote}`, async () => {
    const battles = await readBattles(LLMFAO.path);
    expect(battles.layout).toBe("llmfao");
    expect(battles.comparisons.length).toBe(8931);
    expect(new Set(battles.comparisons.flatMap((c) => [c.a, c.b])).size).toBe(59);
  });
});
