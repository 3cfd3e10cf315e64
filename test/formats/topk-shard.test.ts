import { describe, expect, it } from "vitest";
import { decodeTopKShard, encodeTopKShard, EMPTY_SLOT, shardOffsets, type TopKShard } from "../../src/formats/topk-shard.js";

function shard(strings: string[]): TopKShard {
  return {
    source: "src", k: 2, first: 4, identity: "abc",
    texts: [{ positions: 2, nats: 3.5, bytes: 6 }, { positions: 0, nats: 0, bytes: 0, skip: "empty" }, { positions: 1, nats: 0.25, bytes: 2 }],
    strings,
    end: Uint32Array.of(3, 6, 2),
    token: Uint32Array.of(0, 1, strings.length - 1),
    logprob: Float32Array.of(-1.5, Number.NaN, -0.25),
    topToken: Uint32Array.of(0, 1, 1, EMPTY_SLOT, strings.length - 1, 0),
    topLogprob: Float32Array.of(-0.5, -1, -0.75, -Infinity, -0.25, -3),
  };
}

describe("top-K shards", () => {
  it("round-trips with 16-bit string indices and costs 10 + 6·K bytes per position plus the header", () => {
    const s = shard(["abc", " d", "é☃"]);
    const bytes = encodeTopKShard(s);
    expect(decodeTopKShard(bytes, "x.cgtk")).toEqual(s);
    const headerLength = new DataView(bytes.buffer).getUint32(8, true);
    // 3 positions: end 12, token 6→8, logprob 12, topToken 12, topLogprob 24 (each padded to 4).
    expect(bytes.length - 12 - headerLength).toBe(12 + 8 + 12 + 12 + 24);
  });

  it("switches to 32-bit indices when a shard interns 65 535 strings or more", () => {
    const many = Array.from({ length: 70_000 }, (_, i) => `t${i}`);
    const s = shard(many);
    const decoded = decodeTopKShard(encodeTopKShard(s), "x.cgtk");
    expect(decoded.token[2]).toBe(69_999);
    expect(decoded.topToken[3]).toBe(EMPTY_SLOT);
  });

  it("gives each text's offset into the arrays", () => {
    expect(shardOffsets(shard(["a", "b"]))).toEqual([0, 2, 2, 3]);
  });

  it("names the problem of a damaged file", () => {
    const bytes = encodeTopKShard(shard(["a", "b"]));
    expect(() => decodeTopKShard(bytes.subarray(0, bytes.length - 4), "cut.cgtk")).toThrow(/cut\.cgtk: .*truncated/);
    const wrong = bytes.slice();
    wrong[0] = 0x58;
    expect(() => decodeTopKShard(wrong, "bad.cgtk")).toThrow(/bad\.cgtk: .*CGTK/);
    const version = bytes.slice();
    new DataView(version.buffer).setUint32(4, 9, true);
    expect(() => decodeTopKShard(version, "v.cgtk")).toThrow(/version 9/);
  });
});
