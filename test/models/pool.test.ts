import { describe, expect, it } from "vitest";
import type { LanguageModel } from "../../src/core/language-model.js";
import type { ExpertSpec } from "../../src/formats/models-file.js";
import { ModelPool } from "../../src/models/pool.js";

const spec = (id: string): ExpertSpec => ({ id, backend: "llamacpp", path: `/m/${id}.gguf`, domains: [], tags: [] });

function recorder() {
  const events: string[] = [];
  const open = async (s: ExpertSpec): Promise<LanguageModel> => {
    events.push(`open ${s.id}`);
    return { id: s.id, close: async () => void events.push(`close ${s.id}`) } as unknown as LanguageModel;
  };
  return { events, open };
}

describe("ModelPool", () => {
  it("keeps models under the memory budget, closing the least recently used idle one", async () => {
    const { events, open } = recorder();
    const pool = new ModelPool({ budgetBytes: 250, open, sizeOf: async () => 100 });
    await pool.use(spec("a"), async () => {});
    await pool.use(spec("b"), async () => {});
    await pool.use(spec("a"), async () => {}); // a is now more recent than b
    await pool.use(spec("c"), async () => {}); // 300 > 250: b goes
    expect(events).toEqual(["open a", "open b", "close b", "open c"]);
    expect(pool.openIds()).toEqual(["a", "c"]);
    await pool.close();
    expect(events.slice(-2).sort()).toEqual(["close a", "close c"]);
  });

  it("never closes a model in use, and still opens one larger than the budget", async () => {
    const { events, open } = recorder();
    const pool = new ModelPool({ budgetBytes: 100, open, sizeOf: async () => 100 });
    await pool.use(spec("a"), async () => {
      await pool.use(spec("b"), async () => {});
    });
    expect(events).toEqual(["open a", "open b"]);
    await pool.use(spec("c"), async () => {});
    expect(events).toContain("close a");
    await pool.close();
  });

  it("forgets a model that failed to open, so the next use retries", async () => {
    let attempts = 0;
    const pool = new ModelPool({
      open: async (s) => {
        attempts++;
        if (attempts === 1) throw new Error("boom");
        return { id: s.id, close: async () => {} } as unknown as LanguageModel;
      },
      sizeOf: async () => 0,
    });
    await expect(pool.use(spec("a"), async () => {})).rejects.toThrow("boom");
    await expect(pool.use(spec("a"), async (m) => m.id)).resolves.toBe("a");
    await pool.close();
  });
});

describe("ModelPool.evict", () => {
  it("closes an idle model at once and reopens it on the next use", async () => {
    const { events, open } = recorder();
    const pool = new ModelPool({ open, sizeOf: async () => 0 });
    await pool.use(spec("a"), async () => {
      await pool.evict(spec("a")); // in use: kept
    });
    expect(events).toEqual(["open a"]);
    await pool.evict(spec("a"));
    expect(events).toEqual(["open a", "close a"]);
    await pool.use(spec("a"), async () => {});
    expect(events).toEqual(["open a", "close a", "open a"]);
    await pool.close();
  });
});

describe("ModelPool.lease", () => {
  it("shares one model between holders, caps the models open and trims idle ones", async () => {
    const { events, open } = recorder();
    const pool = new ModelPool({ open, maxModels: 2, sizeOf: async () => 0 });
    const a1 = await pool.lease(spec("a"));
    const a2 = await pool.lease(spec("a"));
    expect(a1.model).toBe(a2.model);
    expect(pool.isOpen(spec("a"))).toBe(true);
    const b = await pool.lease(spec("b"));
    a1.release();
    a1.release(); // twice counts once: a is still held by a2
    const c = await pool.lease(spec("c")); // cap 2, none idle: opens anyway, closes nothing
    expect(events).toEqual(["open a", "open b", "open c"]);
    a2.release();
    b.release();
    await pool.trim(1); // keeps the most recently released idle model
    expect(events.slice(3)).toEqual(["close a"]);
    expect(pool.size).toBe(2);
    await pool.lease(spec("d")); // over the cap: the idle b goes
    expect(events.slice(4)).toEqual(["close b", "open d"]);
    c.release();
    await pool.close();
  });

  it("gives the lease back when the model fails to open", async () => {
    const pool = new ModelPool({ open: async () => { throw new Error("bad gguf"); }, sizeOf: async () => 0 });
    await expect(pool.lease(spec("a"))).rejects.toThrow("bad gguf");
    await new Promise((r) => setTimeout(r, 0));
    expect(pool.size).toBe(0);
  });
});
