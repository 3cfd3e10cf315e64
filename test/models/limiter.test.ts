import { describe, expect, it } from "vitest";
import { Limiter } from "../../src/models/limiter.js";

describe("Limiter", () => {
  it("hands a released slot to the first waiter, so a task acquiring right after the release waits its turn", async () => {
    const lock = new Limiter(1);
    const order: string[] = [];
    const releaseFirst = await lock.acquire();
    const second = lock.acquire().then((release) => (order.push("second"), release));
    releaseFirst();
    // Acquiring before the waiter resumes (a microtask later) must not take the slot it was given.
    const third = lock.acquire().then((release) => (order.push("third"), release));
    const releaseSecond = await second;
    expect(lock.inFlight).toBe(1);
    expect(order).toEqual(["second"]);
    releaseSecond();
    const releaseThird = await third;
    expect(order).toEqual(["second", "third"]);
    expect(lock.peak).toBe(1);
    releaseThird();
    expect(lock.inFlight).toBe(0);
  });

  it("runs up to its limit at once and the rest in arrival order", async () => {
    const lock = new Limiter(2);
    const started: number[] = [];
    const gates = Array.from({ length: 5 }, () => {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      return { promise, resolve };
    });
    const runs = gates.map((gate, i) => lock.run(async () => (started.push(i), gate.promise)));
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0, 1]);
    gates[1].resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0, 1, 2]);
    for (const gate of gates) gate.resolve();
    await Promise.all(runs);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(lock.peak).toBe(2);
    expect(lock.inFlight).toBe(0);
  });
});
