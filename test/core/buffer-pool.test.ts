import { describe, expect, it } from "vitest";
import { BufferPool } from "../../src/core/buffer-pool.js";

describe("BufferPool", () => {
  it("hands a given-back buffer out again for a request it fits, best fit first", () => {
    const pool = new BufferPool();
    const big = pool.take(1000);
    const small = pool.take(600);
    pool.give(big);
    pool.give(small);
    const again = pool.take(550);
    expect(again.buffer).toBe(small.buffer);
    expect(again.length).toBe(550);
    expect(pool.take(900).buffer).toBe(big.buffer);
  });

  it("does not hand out a buffer more than twice the size asked for", () => {
    const pool = new BufferPool();
    const big = pool.take(1000);
    pool.give(big);
    expect(pool.take(500).buffer).toBe(big.buffer);
    const other = new BufferPool();
    const big2 = other.take(1000);
    other.give(big2);
    expect(other.take(499).buffer).not.toBe(big2.buffer);
  });

  it("never holds more than the most that was in use at once", () => {
    const pool = new BufferPool();
    // 3 × 100 in use at once, then sizes that never fit what waits: the waiting ones are let go.
    const first = [pool.take(100), pool.take(100), pool.take(100)];
    for (const b of first) pool.give(b);
    expect(pool.bytesWaiting).toBe(300);
    const larger = pool.take(250);
    expect(pool.bytesInUse + pool.bytesWaiting).toBeLessThanOrEqual(300);
    pool.give(larger);
    const most = [pool.take(250), pool.take(260)];
    expect(most[0].buffer).toBe(larger.buffer);
    expect(pool.bytesInUse + pool.bytesWaiting).toBeLessThanOrEqual(510);
  });

  it("ignores a detached buffer (one lost in a worker)", () => {
    const pool = new BufferPool();
    const b = pool.take(64);
    structuredClone(b.buffer, { transfer: [b.buffer as ArrayBuffer] });
    pool.give(b);
    expect(pool.bytesWaiting).toBe(0);
  });
});
