import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { f32ToBf16, f32ToF16 } from "../../../src/core/half.js";
import { InputFileError } from "../../../src/core/errors.js";
import { Rng } from "../../../src/core/rng.js";
import { elementCount } from "../../../src/core/tensor.js";
import { encodeSafetensors, openSafetensors } from "../../../src/formats/safetensors/index.js";
import { cleanup, tempDir } from "./helpers.js";

/** Small valid files to mutate: several dtypes, metadata, a zero-size tensor, integer-like names. */
function seeds(): Uint8Array[] {
  return [
    encodeSafetensors(
      [
        { name: "model.embed.weight", dtype: "F16", shape: [4, 3], data: f32ToF16(new Float32Array(12).map((_, i) => i / 7)) },
        { name: "model.norm", dtype: "BF16", shape: [3], data: f32ToBf16(new Float32Array([1, -1, 0.5])) },
        { name: "lm_head", dtype: "F32", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
        { name: "empty", dtype: "I64", shape: [0], data: new BigInt64Array(0) },
      ],
      { format: "pt" },
    ),
    encodeSafetensors([
      { name: "0", dtype: "F8_E4M3", shape: [8], data: new Uint8Array([0, 1, 0x38, 0x7e, 0x7f, 0x80, 0xfe, 0xff]) },
      { name: "1", dtype: "F8_E5M2", shape: [2, 2], data: new Uint8Array([0x3c, 0x7c, 0x7d, 0x01]) },
      { name: "b", dtype: "BOOL", shape: [3], data: new Uint8Array([1, 0, 1]) },
      { name: "i", dtype: "I32", shape: [2], data: new Int32Array([-5, 7]) },
      { name: "d", dtype: "F64", shape: [], data: new Float64Array([Math.PI]) },
    ]),
  ];
}

const CASES = 3000;

describe("mutation: random byte flips of valid files", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir();
  });
  afterAll(async () => cleanup(dir));

  it(`either parses (and reads or fails cleanly) or throws InputFileError, over ${CASES} seeded cases`, async () => {
    const rng = new Rng(20260529);
    const bases = seeds();
    const file = path.join(dir, "mutant.safetensors");
    const outcomes = { parsed: 0, rejected: 0, readFailed: 0 };
    for (let c = 0; c < CASES; c++) {
      const base = bases[c % bases.length];
      const bytes = base.slice();
      const headerEnd = 8 + Number(new DataView(base.buffer).getBigUint64(0, true));
      const flips = rng.next() < 0.6 ? 1 : 2 + rng.int(2);
      for (let f = 0; f < flips; f++) {
        // Mostly within the length field and header, where the structure is; otherwise in the data.
        const at = rng.next() < 0.7 ? rng.int(headerEnd) : headerEnd + rng.int(bytes.length - headerEnd);
        bytes[at] = rng.next() < 0.5 ? rng.int(256) : bytes[at] ^ (1 << rng.int(8));
      }
      // Sometimes truncate or extend as well.
      const cut = rng.next();
      const mutated = cut < 0.05 ? bytes.subarray(0, rng.int(bytes.length)) : cut < 0.1 ? new Uint8Array([...bytes, 0, 0, 0, 0]) : bytes;
      await fs.writeFile(file, mutated);
      let st;
      try {
        st = await openSafetensors(file);
      } catch (error) {
        if (!(error instanceof InputFileError)) throw new Error(`case ${c}: not an InputFileError: ${String(error)}`, { cause: error });
        expect(error.file).toBe(file);
        outcomes.rejected++;
        continue;
      }
      outcomes.parsed++;
      try {
        for (const t of st.list()) {
          expect((await st.readRaw(t.name)).length).toBe(t.byteLength);
          expect((await st.readF32(t.name)).length).toBe(elementCount(t.shape));
        }
      } catch (error) {
        if (!(error instanceof InputFileError)) throw new Error(`case ${c}: read failed with ${String(error)}`, { cause: error });
        outcomes.readFailed++;
      } finally {
        await st.close();
      }
    }
    expect(outcomes.parsed + outcomes.rejected).toBe(CASES);
    console.log(`mutation outcomes: ${JSON.stringify(outcomes)}`);
    // The corpus must exercise both paths, or it proves nothing.
    expect(outcomes.parsed).toBeGreaterThan(CASES / 10);
    expect(outcomes.rejected).toBeGreaterThan(CASES / 4);
  }, 60_000);
});
