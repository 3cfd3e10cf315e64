/**
 * Keeps opened models under a memory budget: a model is opened on first use and kept for the
 * next; when a new one would exceed the budget, idle models are closed least recently used
 * first. A model in use is never closed; a single model larger than the budget still opens.
 */
import type { LanguageModel } from "../core/language-model.js";
import type { ExpertSpec } from "../formats/models-file.js";
import { estimateModelBytes, openModel } from "./open.js";

export interface ModelPoolOptions {
  /** Bytes of models to keep open (default: unlimited). */
  budgetBytes?: number;
  /** Models to keep open at once (default: unlimited); idle ones are closed first, as for bytes. */
  maxModels?: number;
  open?: (spec: ExpertSpec) => Promise<LanguageModel>;
  sizeOf?: (spec: ExpertSpec) => Promise<number>;
}

interface Entry {
  key: string;
  model: Promise<LanguageModel>;
  bytes: number;
  leases: number;
  lastUsed: number;
}

export class ModelPool {
  private readonly entries = new Map<string, Entry>();
  private clock = 0;

  constructor(private readonly options: ModelPoolOptions = {}) {}

  /** Run `fn` with the expert's model, opening it if needed. */
  async use<T>(spec: ExpertSpec, fn: (model: LanguageModel) => Promise<T>): Promise<T> {
    const entry = await this.acquire(spec);
    try {
      return await fn(await entry.model);
    } finally {
      entry.leases--;
      entry.lastUsed = ++this.clock;
    }
  }

  /**
   * Hold the expert's model until `release` is called (a served composition holds its experts for
   * as long as it serves). Two holders of the same spec share one loaded model.
   */
  async lease(spec: ExpertSpec): Promise<{ model: LanguageModel; release: () => void }> {
    const entry = await this.acquire(spec);
    let released = false;
    try {
      const model = await entry.model;
      return {
        model,
        release: () => {
          if (released) return;
          released = true;
          entry.leases--;
          entry.lastUsed = ++this.clock;
        },
      };
    } catch (error) {
      entry.leases--;
      throw error;
    }
  }

  /** Whether the expert's model is open (or opening) now. */
  isOpen(spec: ExpertSpec): boolean {
    return this.entries.has(JSON.stringify(spec));
  }

  /** Models open now, in use or idle. */
  get size(): number {
    return this.entries.size;
  }

  /** Close idle models, least recently used first, until at most `keepIdle` idle ones remain. */
  async trim(keepIdle = 0): Promise<void> {
    const idle = [...this.entries.values()].filter((e) => e.leases === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const entry of idle.slice(0, Math.max(0, idle.length - keepIdle))) {
      this.entries.delete(entry.key);
      await (await loaded(entry))?.close();
    }
  }

  /** Ids of the models open now, least recently used first. */
  openIds(): string[] {
    return [...this.entries.values()].sort((a, b) => a.lastUsed - b.lastUsed).map((e) => JSON.parse(e.key).id);
  }

  /** Close the expert's model now if it is open and idle (it reopens on the next use). */
  async evict(spec: ExpertSpec): Promise<void> {
    const key = JSON.stringify(spec);
    const entry = this.entries.get(key);
    if (!entry || entry.leases > 0) return;
    this.entries.delete(key);
    await (await loaded(entry))?.close();
  }

  async close(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map(async (e) => (await loaded(e))?.close()));
  }

  private async acquire(spec: ExpertSpec): Promise<Entry> {
    const key = JSON.stringify(spec);
    let entry = this.entries.get(key);
    if (entry) {
      entry.leases++;
      entry.lastUsed = ++this.clock;
      return entry;
    }
    const bytes = await (this.options.sizeOf ?? estimateModelBytes)(spec);
    await this.makeRoom(bytes);
    const open = this.options.open ?? ((s: ExpertSpec) => openModel(s));
    entry = { key, model: open(spec), bytes, leases: 1, lastUsed: ++this.clock };
    this.entries.set(key, entry);
    const created = entry;
    // A failed open is reported to the caller awaiting it; here it only leaves the cache.
    entry.model.catch(() => {
      if (this.entries.get(key) === created) this.entries.delete(key);
    });
    return entry;
  }

  private async makeRoom(bytes: number): Promise<void> {
    const budget = this.options.budgetBytes ?? Infinity;
    const maxModels = this.options.maxModels ?? Infinity;
    const used = () => [...this.entries.values()].reduce((s, e) => s + e.bytes, 0);
    while (used() + bytes > budget || this.entries.size + 1 > maxModels) {
      const idle = [...this.entries.values()].filter((e) => e.leases === 0).sort((a, b) => a.lastUsed - b.lastUsed);
      if (idle.length === 0) return;
      this.entries.delete(idle[0].key);
      await (await loaded(idle[0]))?.close();
    }
  }
}

/** The entry's model, or undefined when it failed to open: there is nothing to close, and the
 *  failure already went to the caller that asked for the model. */
function loaded(entry: Entry): Promise<LanguageModel | undefined> {
  return entry.model.catch(() => undefined);
}
