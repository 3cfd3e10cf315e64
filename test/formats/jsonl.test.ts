import { describe, expect, it } from "vitest";
import { forEachJsonlObject } from "../../src/formats/jsonl.js";

describe("JSON Lines of objects", () => {
  it("skips blank lines and a byte-order mark, and numbers lines as the file does", () => {
    const seen: [unknown, number][] = [];
    forEachJsonlObject('\ufeff{"a":1}\n\n  \n{"a":2}\r\n', "f.jsonl", "", (record, line) => seen.push([record.a, line]));
    expect(seen).toEqual([[1, 1], [2, 4]]);
  });

  it("names the file and line of a line that is not JSON or not an object", () => {
    const noop = () => {};
    expect(() => forEachJsonlObject('{"a":1}\n{oops', "f.jsonl", "", noop)).toThrow(/f\.jsonl:2: not valid JSON/);
    expect(() => forEachJsonlObject("[1]", "f.jsonl", "with a name", noop)).toThrow(/f\.jsonl:1: expected a JSON object with a name/);
    expect(() => forEachJsonlObject("null", "f.jsonl", "", noop)).toThrow(/f\.jsonl:1: expected a JSON object/);
  });
});
