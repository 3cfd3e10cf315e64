import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { InputFileError } from "../../../src/core/errors.js";
import { encodeHeader } from "../../../src/formats/safetensors/header.js";
import { openSafetensors, writeSafetensorsFile } from "../../../src/formats/safetensors/index.js";
import { cleanup, tempDir } from "./helpers.js";

describe("lazy per-tensor reads", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => cleanup(dir));

  it("reads one tensor of an 8 GiB (sparse) file without touching the rest", async () => {
    // A whole-file read would need an 8 GiB buffer (beyond Node 20's limit) and take seconds.
    const big = 8 * 1024 ** 3;
    const header = encodeHeader([
      { name: "huge", dtype: "U8", shape: [big], byteLength: big },
      { name: "small", dtype: "F32", shape: [4], byteLength: 16 },
    ]);
    const file = path.join(dir, "sparse.safetensors");
    const handle = await fs.open(file, "w");
    await handle.write(header, 0, header.length, 0);
    await handle.write(new Uint8Array(new Float32Array([1, 2, 3, -4]).buffer), 0, 16, header.length + big);
    await handle.close();
    // Count the bytes asked of the file through any FileHandle.
    const probe = await fs.open(file, "r");
    const handleClass = Object.getPrototypeOf(probe) as { read: (...args: unknown[]) => Promise<unknown> };
    await probe.close();
    const reads = vi.spyOn(handleClass, "read");
    const st = await openSafetensors(file);
    expect(Array.from(await st.readF32("small"))).toEqual([1, 2, 3, -4]);
    expect(st.info("huge")?.byteLength).toBe(big);
    // Too big for one array on this Node: a clear InputFileError, not a RangeError.
    await expect(st.readRaw("huge")).rejects.toThrow(/tensor "huge" needs 8589934592 bytes in memory/);
    await st.close();
    expect(reads.mock.calls.every((call) => typeof call[2] === "number")).toBe(true);
    const asked = reads.mock.calls.reduce((sum, call) => sum + Number(call[2]), 0);
    reads.mockRestore();
    // The 8-byte length prefix, the header and the 16 bytes of "small": nothing of "huge".
    expect(asked).toBe(header.length + 16);
  });

  it("reads a tensor correctly when every other tensor's bytes are garbage", async () => {
    const file = path.join(dir, "g.safetensors");
    await writeSafetensorsFile(file, [
      { name: "a", dtype: "F32", shape: [64], data: new Float32Array(64) },
      { name: "b", dtype: "BF16", shape: [2], data: new Uint16Array([0x3f80, 0xc000]) },
      { name: "c", dtype: "F64", shape: [64], data: new Float64Array(64) },
    ]);
    const bytes = await fs.readFile(file);
    const st0 = await openSafetensors(file);
    const dataOffset = st0.dataOffset;
    await st0.close();
    bytes.fill(0xff, dataOffset, dataOffset + 256);
    bytes.fill(0xa5, dataOffset + 260);
    await fs.writeFile(file, bytes);
    const st = await openSafetensors(file);
    expect(Array.from(await st.readF32("b"))).toEqual([1, -2]);
    expect(Number.isNaN((await st.readF32("a"))[0])).toBe(true);
    await st.close();
  });

  it("reports a file truncated after it was opened, and refuses reads after close", async () => {
    const file = path.join(dir, "t.safetensors");
    await writeSafetensorsFile(file, [{ name: "a", dtype: "F32", shape: [1024], data: new Float32Array(1024) }]);
    const st = await openSafetensors(file);
    await fs.truncate(file, st.dataOffset + 100);
    const err = await st.readRaw("a").catch((e) => e);
    expect(err).toBeInstanceOf(InputFileError);
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/truncated/);
    await st.close();
    await expect(st.readRaw("a")).rejects.toThrow(/after close/);
  });
});
