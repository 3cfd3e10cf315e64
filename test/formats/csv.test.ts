import { describe, expect, it } from "vitest";
import { columnIndices, parseCsv, parseCsvTable } from "../../src/formats/csv.js";
import { InputFileError } from "../../src/core/errors.js";

const fields = (text: string) => parseCsv(text, "t.csv").map((r) => r.fields);

describe("parseCsv", () => {
  it("splits plain records with LF and CRLF endings", () => {
    expect(fields("a,b,c\n1,2,3\n")).toEqual([["a", "b", "c"], ["1", "2", "3"]]);
    expect(fields("a,b\r\n1,2\r\n")).toEqual([["a", "b"], ["1", "2"]]);
    expect(fields("a,b\r\n1,2")).toEqual([["a", "b"], ["1", "2"]]);
  });

  it("ends a CRLF record after a closing quote or at a final CR", () => {
    expect(fields('a,"b"\r\nc,d\r\n')).toEqual([["a", "b"], ["c", "d"]]);
    expect(fields('"x",y\r\n"p","q"\r')).toEqual([["x", "y"], ["p", "q"]]);
    expect(fields('"a",b\r')).toEqual([["a", "b"]]);
  });

  it("keeps empty fields, including a trailing one", () => {
    expect(fields(",x,\n")).toEqual([["", "x", ""]]);
    expect(fields("a,")).toEqual([["a", ""]]);
  });

  it("reads quoted fields with commas, doubled quotes and line breaks", () => {
    const text = 'id,text\n1,"hello, world"\n2,"she said ""hi"""\n3,"two\r\nlines"\n4,""\n';
    expect(fields(text)).toEqual([
      ["id", "text"],
      ["1", "hello, world"],
      ["2", 'she said "hi"'],
      ["3", "two\r\nlines"],
      ["4", ""],
    ]);
  });

  it("numbers records by the line they start on, counting embedded line breaks", () => {
    const records = parseCsv('h\n"a\nb"\n\nc\n', "t.csv");
    expect(records.map((r) => r.line)).toEqual([1, 2, 5]);
  });

  it("drops a byte-order mark and skips blank lines", () => {
    expect(fields("\ufeffa,b\n\n1,2\n\r\n")).toEqual([["a", "b"], ["1", "2"]]);
  });

  it("rejects an unterminated quote, naming the line where it opened", () => {
    expect(() => parseCsv('a\nb\n"open,\nmore', "bad.csv")).toThrow(/bad\.csv:3: unterminated quoted field/);
  });

  it("rejects text after a closing quote and a quote inside an unquoted field", () => {
    expect(() => parseCsv('a\n"x"y,1\n', "bad.csv")).toThrow(/bad\.csv:2: unexpected character "y"/);
    expect(() => parseCsv('a\nx"y\n', "bad.csv")).toThrow(/bad\.csv:2: a double quote inside an unquoted field/);
  });
});

describe("parseCsvTable", () => {
  it("checks the header and the field count of every row", () => {
    const table = parseCsvTable("a,b\n1,2\n3,4\n", "t.csv");
    expect(table.header).toEqual(["a", "b"]);
    expect(table.rows.map((r) => r.fields)).toEqual([["1", "2"], ["3", "4"]]);
    expect(() => parseCsvTable("a,b\n1,2\n3\n", "t.csv")).toThrow(/t\.csv:3: expected 2 fields/);
    expect(() => parseCsvTable("a,a\n", "t.csv")).toThrow(/duplicate column "a"/);
    expect(() => parseCsvTable("", "t.csv")).toThrow(InputFileError);
  });

  it("finds named columns or lists the missing ones", () => {
    const table = parseCsvTable("x,model_a,winner\n", "t.csv");
    expect(columnIndices(table, ["model_a", "winner"], "t.csv")).toEqual({ model_a: 1, winner: 2 });
    expect(() => columnIndices(table, ["model_a", "model_b"], "t.csv")).toThrow(/missing column\(s\) "model_b"/);
  });
});
