import { describe, expect, it } from "vitest";
import { parseCsv } from "../../src/formats/csv.js";
import { CsvFieldInterner, csvFieldText, forEachCsvSpans } from "../../src/formats/csv-bytes.js";
import { Rng } from "../../src/core/rng.js";

/** Records as the byte reader sees them, or its error message. */
function byteRecords(text: string): { fields: string[]; line: number }[] | string {
  const bytes = Buffer.from(text, "utf8");
  const out: { fields: string[]; line: number }[] = [];
  try {
    forEachCsvSpans(bytes, "t.csv", (spans, line) => {
      out.push({ fields: Array.from({ length: spans.count }, (_, k) => csvFieldText(bytes, spans, k)), line });
    });
  } catch (error) {
    return (error as Error).message;
  }
  return out;
}

function textRecords(text: string): { fields: string[]; line: number }[] | string {
  try {
    return parseCsv(text, "t.csv");
  } catch (error) {
    return (error as Error).message;
  }
}

describe("forEachCsvSpans", () => {
  it("reads what csv.ts reads: fields, lines, quoting, CRLF, BOM, blank lines and every error", () => {
    const cases = [
      "a,b,c\n1,2,3\n",
      "a,b\r\n1,2\r\n",
      "a,b\r\n1,2",
      "a,b\r",
      ",x,\n",
      "a,",
      'id,text\n1,"hello, world"\n2,"she said ""hi"""\n3,"two\r\nlines"\n4,""\n',
      'h\n"a\nb"\n\nc\n',
      "\ufeffa,b\n\n1,2\n\r\n",
      'a,"b"\r\nc,d\r\n',
      '"a",b\r',
      "x\ry,z\n",
      "naïve,日本\n",
      'a\nb\n"open,\nmore',
      'a\n"x"y,1\n',
      'a\nx"y\n',
      '"é"ü\n',
    ];
    for (const text of cases) expect(byteRecords(text), JSON.stringify(text)).toEqual(textRecords(text));
  });

  it("agrees with csv.ts on 3,000 random texts built from the characters CSV cares about", () => {
    const alphabet = ["a", "b", "é", ",", '"', '""', "\n", "\r", "\r\n", " "];
    const rng = new Rng(11);
    for (let t = 0; t < 3000; t++) {
      let text = "";
      const length = rng.int(24);
      for (let k = 0; k < length; k++) text += alphabet[rng.int(alphabet.length)];
      expect(byteRecords(text), JSON.stringify(text)).toEqual(textRecords(text));
    }
  });
});

describe("CsvFieldInterner", () => {
  it("makes one value per distinct field as written, and tells quoted from bare spellings apart", () => {
    const bytes = Buffer.from('x,"x",y\nx,"x",y\n"a""b",yy,y\n', "utf8");
    const made: string[] = [];
    const interner = new CsvFieldInterner(bytes, (text) => {
      made.push(text);
      return text.toUpperCase();
    });
    const values: string[] = [];
    forEachCsvSpans(bytes, "t.csv", (spans) => {
      for (let k = 0; k < spans.count; k++) values.push(interner.get(spans, k));
    });
    expect(values).toEqual(["X", "X", "Y", "X", "X", "Y", 'A"B', "YY", "Y"]);
    expect(made).toEqual(["x", "x", "y", 'a"b', "yy"]);
  });

  it("tells apart values that share their length and first and last bytes (equal hashes)", () => {
    const names = ["prefix-1-A-suffix-1", "prefix-1-B-suffix-1", "prefix-1-C-suffix-1"];
    const bytes = Buffer.from([...names, ...names].join("\n"), "utf8");
    const interner = new CsvFieldInterner(bytes, (text) => text);
    const seen: string[] = [];
    forEachCsvSpans(bytes, "t.csv", (spans) => seen.push(interner.get(spans, 0)));
    expect(seen).toEqual([...names, ...names]);
  });

  it("keeps every one of many distinct values apart as its table grows", () => {
    const names = Array.from({ length: 5000 }, (_, k) => `model-${k}`);
    const bytes = Buffer.from(names.join("\n") + "\n" + names.join("\n"), "utf8");
    const interner = new CsvFieldInterner(bytes, (text) => ({ text }));
    const seen: { text: string }[] = [];
    forEachCsvSpans(bytes, "t.csv", (spans) => seen.push(interner.get(spans, 0)));
    expect(seen.slice(0, 5000).map((v) => v.text)).toEqual(names);
    // The second half gets the very same objects back.
    expect(seen.slice(5000).every((v, k) => v === seen[k])).toBe(true);
  });
});
