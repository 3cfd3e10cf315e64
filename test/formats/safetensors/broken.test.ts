import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputFileError } from "../../../src/core/errors.js";
import { openSafetensors } from "../../../src/formats/safetensors/index.js";
import { cleanup, rawSafetensors, tempDir } from "./helpers.js";

const entry = (dtype: string, shape: unknown, offsets: unknown): string =>
  JSON.stringify({ dtype, shape, data_offsets: offsets });
const header = (entries: Record<string, string>): string =>
  "{" + Object.entries(entries).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",") + "}";
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Hostile files built from raw bytes, each with the problem its error must name. */
const corpus: { name: string; bytes: Uint8Array; problem: RegExp }[] = [
  { name: "empty file", bytes: new Uint8Array(0), problem: /truncated: 0 bytes/ },
  { name: "shorter than the length field", bytes: new Uint8Array([5, 0, 0]), problem: /truncated: 3 bytes/ },
  { name: "header longer than the file", bytes: rawSafetensors("{}", 0, 100n), problem: /truncated: header length 100 is longer than the 2 bytes/ },
  { name: "huge header length (2^63)", bytes: rawSafetensors("{}", 0, 2n ** 63n), problem: /header length 9223372036854775808 exceeds the limit/ },
  { name: "header length over the 100 MB cap", bytes: rawSafetensors("{}", 0, 200_000_000n), problem: /exceeds the limit of 100000000/ },
  { name: "header length zero", bytes: rawSafetensors("", 0), problem: /too short for a JSON object/ },
  { name: "non-UTF-8 tensor name", bytes: rawSafetensors(new Uint8Array([...utf8('{"a'), 0xc3, 0x28, ...utf8('":{}}')])), problem: /header is not valid UTF-8/ },
  { name: "invalid JSON", bytes: rawSafetensors('{"a": {"dtype": "F32",}}'), problem: /header: invalid JSON/ },
  { name: "NUL padding", bytes: rawSafetensors("{}\0\0\0\0\0\0"), problem: /header: invalid JSON/ },
  { name: "JSON array", bytes: rawSafetensors("[1, 2]"), problem: /header is not a JSON object/ },
  {
    name: "duplicate tensor names",
    bytes: rawSafetensors(`{"w": ${entry("U8", [4], [0, 4])}, "w": ${entry("U8", [4], [4, 8])}}`, 8),
    problem: /duplicate key "w"/,
  },
  {
    name: "duplicate names written with escapes",
    bytes: rawSafetensors(`{"w": ${entry("U8", [4], [0, 4])}, "\\u0077": ${entry("U8", [4], [4, 8])}}`, 8),
    problem: /duplicate key "w"/,
  },
  { name: "duplicate field in an entry", bytes: rawSafetensors('{"w": {"dtype": "U8", "dtype": "F32", "shape": [1], "data_offsets": [0, 1]}}', 1), problem: /duplicate key "dtype"/ },
  { name: "metadata value not a string", bytes: rawSafetensors('{"__metadata__": {"format": "pt", "epochs": 3}}'), problem: /__metadata__\["epochs"\] is 3, not a string/ },
  { name: "metadata nested object", bytes: rawSafetensors('{"__metadata__": {"cfg": {"a": "b"}}}'), problem: /__metadata__\["cfg"\] .* not a string/ },
  { name: "metadata not an object", bytes: rawSafetensors('{"__metadata__": "pt"}'), problem: /__metadata__ is not an object/ },
  { name: "entry not an object", bytes: rawSafetensors('{"w": [1, 2]}'), problem: /tensor "w": entry is not an object/ },
  { name: "unknown dtype", bytes: rawSafetensors(header({ w: entry("F4", [2], [0, 1]) }), 1), problem: /tensor "w": unknown or unsupported dtype "F4"/ },
  { name: "missing dtype", bytes: rawSafetensors('{"w": {"shape": [1], "data_offsets": [0, 1]}}', 1), problem: /tensor "w": unknown or unsupported dtype undefined/ },
  { name: "negative dimension", bytes: rawSafetensors(header({ w: entry("U8", [-1], [0, 0]) })), problem: /tensor "w": shape \[-1\] is not an array of non-negative integers/ },
  { name: "fractional dimension", bytes: rawSafetensors(header({ w: entry("U8", [1.5], [0, 1]) }), 1), problem: /shape \[1.5\]/ },
  { name: "string dimension", bytes: rawSafetensors(header({ w: entry("U8", ["4"], [0, 4]) }), 4), problem: /shape \["4"\]/ },
  { name: "unsafe integer dimension", bytes: rawSafetensors(header({ w: entry("U8", [2 ** 60], [0, 4]) }), 4), problem: /shape \[1152921504606847000\] is not an array/ },
  {
    name: "shape whose product overflows",
    bytes: rawSafetensors(header({ w: entry("F32", [2 ** 40, 2 ** 40, 2 ** 20], [0, 4]) }), 4),
    problem: /tensor "w": shape \[1099511627776, 1099511627776, 1048576\] is too large/,
  },
  {
    name: "product that wraps to a small 64-bit value",
    bytes: rawSafetensors(header({ w: entry("U8", [2 ** 32, 2 ** 32], [0, 0]) })),
    problem: /is too large/,
  },
  { name: "wrong byte size for the dtype", bytes: rawSafetensors(header({ w: entry("F32", [2], [0, 4]) }), 4), problem: /tensor "w": data_offsets \[0, 4\] hold 4 bytes but shape \[2\] of F32 needs 8/ },
  { name: "offsets not a pair", bytes: rawSafetensors(header({ w: entry("U8", [1], [0, 1, 2]) }), 1), problem: /data_offsets \[0,1,2\] is not a pair/ },
  { name: "offset beyond 2^53", bytes: rawSafetensors('{"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 18446744073709551615]}}', 1), problem: /is not a pair of non-negative integers/ },
  { name: "negative offset", bytes: rawSafetensors(header({ w: entry("U8", [1], [-1, 0]) }), 1), problem: /is not a pair of non-negative integers/ },
  { name: "end before begin", bytes: rawSafetensors(header({ w: entry("U8", [0], [4, 0]) }), 4), problem: /data_offsets \[4, 0\] end before they begin/ },
  { name: "out-of-bounds offsets", bytes: rawSafetensors(header({ w: entry("U8", [8], [0, 8]) }), 4), problem: /data_offsets \[0, 8\] are out of bounds \(the data section has 4 bytes\)/ },
  {
    name: "overlapping tensors",
    bytes: rawSafetensors(header({ a: entry("U8", [8], [0, 8]), b: entry("U8", [8], [4, 12]) }), 12),
    problem: /tensors "a" and "b" overlap/,
  },
  {
    name: "two tensors at the same bytes",
    bytes: rawSafetensors(header({ a: entry("U8", [4], [0, 4]), b: entry("U8", [4], [0, 4]) }), 4),
    problem: /overlap/,
  },
  {
    name: "gap between tensors",
    bytes: rawSafetensors(header({ a: entry("U8", [4], [0, 4]), b: entry("U8", [4], [8, 12]) }), 12),
    problem: /gap in the data section: bytes 4\.\.8/,
  },
  { name: "gap at the start", bytes: rawSafetensors(header({ a: entry("U8", [4], [4, 8]) }), 8), problem: /gap in the data section: bytes 0\.\.4/ },
  { name: "trailing bytes after the last tensor", bytes: rawSafetensors(header({ a: entry("U8", [4], [0, 4]) }), 6), problem: /the data section has 6 bytes but the tensors cover 4/ },
  { name: "unpaired surrogate in a name", bytes: rawSafetensors('{"\\ud800": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}}'), problem: /unpaired UTF-16 surrogate/ },
];

describe("broken safetensors files", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir();
  });
  afterAll(async () => cleanup(dir));

  for (const [i, c] of corpus.entries()) {
    it(`rejects: ${c.name}`, async () => {
      const file = path.join(dir, `case-${i}.safetensors`);
      await fs.writeFile(file, c.bytes);
      const err = await openSafetensors(file).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputFileError);
      expect((err as InputFileError).file).toBe(file);
      expect((err as Error).message.startsWith(`${file}: `)).toBe(true);
      expect((err as Error).message).toMatch(c.problem);
    });
  }

  it("rejects a missing file and a folder, naming them", async () => {
    const missing = path.join(dir, "missing.safetensors");
    await expect(openSafetensors(missing)).rejects.toThrow(new RegExp(`^${missing}: no such file or folder`));
    await expect(openSafetensors(dir)).rejects.toThrow(InputFileError);
  });

  it("accepts legal edge cases: no tensors, metadata only, zero-size tensors sharing an offset, trailing spaces", async () => {
    const legal = [
      rawSafetensors("{}"),
      rawSafetensors('{"__metadata__": {}}'),
      rawSafetensors(`  {"a": ${entry("F32", [0], [0, 0])}, "b": ${entry("F16", [2, 0], [0, 0])}, "c": ${entry("U8", [2], [0, 2])}}    `, 2),
      rawSafetensors(header({ s: entry("BOOL", [], [0, 1]) }), 1),
    ];
    for (const [i, bytes] of legal.entries()) {
      const file = path.join(dir, `legal-${i}.safetensors`);
      await fs.writeFile(file, bytes);
      const st = await openSafetensors(file);
      for (const t of st.list()) expect((await st.readRaw(t.name)).length).toBe(t.byteLength);
      await st.close();
    }
  });
});
