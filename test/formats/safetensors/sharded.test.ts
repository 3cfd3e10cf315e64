import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InputFileError } from "../../../src/core/errors.js";
import type { TensorInfo } from "../../../src/core/tensor.js";
import {
  openHfWeights,
  openSafetensors,
  writeSafetensorsSharded,
  type TensorPlanEntry,
} from "../../../src/formats/safetensors/index.js";
import { cleanup, tempDir } from "./helpers.js";

/** Deterministic content for a tensor: byte i of tensor k is (k * 31 + i) mod 256. */
function content(info: TensorInfo, k: number): Uint8Array {
  const out = new Uint8Array(info.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = (k * 31 + i) & 0xff;
  return out;
}

// Byte sizes: 400, 400, 200, 1000, 100, 100 (F32 and F16 mixed).
const plan: TensorPlanEntry[] = [
  { name: "embed.weight", dtype: "F32", shape: [10, 10] },
  { name: "layers.0.w", dtype: "F16", shape: [20, 10] },
  { name: "layers.0.b", dtype: "F16", shape: [100] },
  { name: "layers.1.w", dtype: "F32", shape: [250] },
  { name: "9", dtype: "U8", shape: [100] },
  { name: "norm", dtype: "I8", shape: [10, 10] },
];

describe("sharded Hugging Face weights", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => cleanup(dir));

  it("shards by size with HF names, an index with total_size and weight_map, and reads back through openHfWeights", async () => {
    const calls: string[] = [];
    const result = await writeSafetensorsSharded(
      dir,
      plan,
      async (info, k) => {
        calls.push(info.name);
        expect(info.name).toBe(plan[k].name);
        return content(info, k);
      },
      { maxShardBytes: 1000, metadata: { format: "pt" } },
    );
    expect(calls).toEqual(plan.map((p) => p.name));
    // 400+400+200 = 1000 fits; 1000 alone; 100+100.
    const shardNames = ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"];
    expect(result.files.map((f) => path.basename(f))).toEqual([...shardNames, "model.safetensors.index.json"]);
    expect(result.totalSize).toBe(2200);
    expect((await fs.readdir(dir)).sort()).toEqual([...shardNames, "model.safetensors.index.json"].sort());

    const index = JSON.parse(await fs.readFile(path.join(dir, "model.safetensors.index.json"), "utf8"));
    expect(index.metadata).toEqual({ total_size: 2200 });
    expect(index.weight_map).toEqual({
      "embed.weight": shardNames[0], "layers.0.w": shardNames[0], "layers.0.b": shardNames[0],
      "layers.1.w": shardNames[1], "9": shardNames[2], norm: shardNames[2],
    });
    const second = await openSafetensors(path.join(dir, shardNames[1]));
    expect(second.metadata).toEqual({ format: "pt" });
    expect(second.list().map((t) => t.name)).toEqual(["layers.1.w"]);
    await second.close();

    const weights = await openHfWeights(dir);
    try {
      expect(weights.metadata).toEqual({ total_size: 2200 });
      expect(weights.files.map((f) => path.basename(f))).toEqual(shardNames);
      expect(weights.list().map((t) => t.name)).toEqual(plan.map((p) => p.name));
      for (const [k, p] of plan.entries()) {
        const info = weights.info(p.name) as TensorInfo;
        expect(info.shape).toEqual(p.shape);
        expect(await weights.readRaw(p.name)).toEqual(content(info, k));
      }
      expect((await weights.readF32("9"))[5]).toBe((4 * 31 + 5) & 0xff);
      await expect(weights.readRaw("missing")).rejects.toThrow(InputFileError);
    } finally {
      await weights.close();
    }
  });

  it("writes a single model.safetensors when everything fits, and replaces a previous sharded write", async () => {
    await writeSafetensorsSharded(dir, plan, async (info, k) => content(info, k), { maxShardBytes: 500 });
    expect((await fs.readdir(dir)).length).toBe(6); // 5 shards + index
    await fs.writeFile(path.join(dir, "config.json"), "{}");
    const result = await writeSafetensorsSharded(dir, plan, async (info, k) => content(info, k));
    expect(result.files.map((f) => path.basename(f))).toEqual(["model.safetensors"]);
    expect((await fs.readdir(dir)).sort()).toEqual(["config.json", "model.safetensors"]);
    const weights = await openHfWeights(dir);
    expect(weights.list().length).toBe(plan.length);
    expect(await weights.readRaw("norm")).toEqual(content(weights.info("norm") as TensorInfo, 5));
    await weights.close();
  });

  it("leaves no complete-looking file when the producer fails, and keeps the previous model intact", async () => {
    await writeSafetensorsSharded(dir, plan.slice(0, 1), async (info, k) => content(info, k));
    const before = await fs.readFile(path.join(dir, "model.safetensors"));
    await expect(
      writeSafetensorsSharded(dir, plan, async (info, k) => {
        if (k === 3) throw new Error("producer exploded");
        return content(info, k);
      }, { maxShardBytes: 1000 }),
    ).rejects.toThrow("producer exploded");
    expect(await fs.readdir(dir)).toEqual(["model.safetensors"]);
    expect(await fs.readFile(path.join(dir, "model.safetensors"))).toEqual(before);
    await expect(
      writeSafetensorsSharded(dir, plan, async () => new Uint8Array(3)),
    ).rejects.toThrow(/got 3 bytes/);
    expect(await fs.readdir(dir)).toEqual(["model.safetensors"]);
  });

  it("holds one tensor at a time: the next producer call starts only after the previous tensor is written", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    await writeSafetensorsSharded(dir, plan, async (info, k) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      return content(info, k);
    }, { maxShardBytes: 800 });
    expect(maxInFlight).toBe(1);
  });

  describe("index validation", () => {
    async function writeIndexed(): Promise<void> {
      await writeSafetensorsSharded(dir, plan, async (info, k) => content(info, k), { maxShardBytes: 1000 });
    }
    async function editIndex(edit: (index: { weight_map: Record<string, string> }) => void): Promise<string> {
      const file = path.join(dir, "model.safetensors.index.json");
      const index = JSON.parse(await fs.readFile(file, "utf8"));
      edit(index);
      await fs.writeFile(file, JSON.stringify(index));
      return file;
    }

    it("names the missing shard", async () => {
      await writeIndexed();
      await fs.rm(path.join(dir, "model-00002-of-00003.safetensors"));
      const err = await openHfWeights(dir).catch((e) => e);
      expect(err).toBeInstanceOf(InputFileError);
      expect(err.message).toContain("model.safetensors.index.json");
      expect(err.message).toContain('shard "model-00002-of-00003.safetensors"');
      expect(err.message).toContain("does not exist");
    });

    it("names the shard that lacks a tensor the index maps to it", async () => {
      await writeIndexed();
      await editIndex((i) => { i.weight_map["layers.1.w"] = "model-00001-of-00003.safetensors"; });
      const err = await openHfWeights(dir).catch((e) => e);
      expect(err).toBeInstanceOf(InputFileError);
      expect(err.message).toMatch(/model-00001-of-00003\.safetensors: tensor "layers\.1\.w" is mapped to this file .* but is not in it/);
    });

    it("rejects file names that leave the folder, duplicate keys and a missing weight_map", async () => {
      await writeIndexed();
      const file = path.join(dir, "model.safetensors.index.json");
      await editIndex((i) => { i.weight_map.norm = "../model-00003-of-00003.safetensors"; });
      await expect(openHfWeights(dir)).rejects.toThrow(/not a plain file name/);
      await fs.writeFile(file, '{"weight_map": {"norm": "model-00003-of-00003.safetensors", "norm": "model-00001-of-00003.safetensors"}}');
      await expect(openHfWeights(dir)).rejects.toThrow(/duplicate key "norm"/);
      await fs.writeFile(file, '{"metadata": {}}');
      await expect(openHfWeights(dir)).rejects.toThrow(/model\.safetensors\.index\.json: weight_map is missing/);
      await fs.writeFile(file, Buffer.from([0x7b, 0xff, 0x7d]));
      await expect(openHfWeights(dir)).rejects.toThrow(/not valid UTF-8/);
    });

    it("reports a folder without weights", async () => {
      await expect(openHfWeights(dir)).rejects.toThrow(/no model\.safetensors or model\.safetensors\.index\.json/);
      await expect(openHfWeights(path.join(dir, "nope"))).rejects.toThrow(InputFileError);
    });
  });
});
