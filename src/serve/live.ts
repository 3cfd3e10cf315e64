import { ConfigError } from "../core/errors.js";
import type { LanguageModel } from "../core/language-model.js";
import type { ExpertSpec } from "../formats/models-file.js";
import { openModel } from "../models/open.js";
import { ModelPool } from "../models/pool.js";
import { POLICIES } from "./policies.js";
import { pooledModel } from "./pooled-model.js";
import type { ServedModels } from "./served-models.js";
import { buildServedModels, type PolicyBuilder, type UnifiedConfig } from "./unified-config.js";

/**
 * The served composition, replaceable at run time. `publish` builds a new UnifiedConfig version
 * beside the one serving and switches new requests to it only once it is fully built; requests
 * already running keep the version they started on (each holds it through `checkout` until its
 * response ends), and a replaced version's experts go back to the model pool when its last
 * request ends. A failed build leaves the current version serving. Published configs are kept in
 * a bounded history, so any of them can be served again with `rollback`.
 *
 * Experts come from one ModelPool keyed by their spec: a version that keeps an expert of the
 * previous one reuses its loaded model, and the pool holds at most `maxLoadedModels` models
 * (idle ones are closed first; one in use by a serving or draining version never is).
 */
export interface LiveOptions {
  policies?: Readonly<Record<string, PolicyBuilder>>;
  /** Opens one expert (default: llama.cpp or an OpenAI-compatible server, by its backend). */
  open?: (spec: ExpertSpec) => Promise<LanguageModel>;
  /** Most models loaded at once (default 64); with `loadOnUse: false` a version needing more is refused. */
  maxLoadedModels?: number;
  /**
   * `true`: load each expert when a request needs it instead of when its version is built,
   * keeping at most `maxLoadedModels` loaded (least recently used idle ones are closed) — for
   * compositions of more experts than fit at once, such as a router over hundreds. `false`: load
   * every expert when its version is built, so an expert that fails to load fails the publish and
   * the current version keeps serving. `"auto"` (default): `false` for a version whose experts fit
   * under the cap, `true` for a larger one.
   */
  loadOnUse?: boolean | "auto";
  /** Idle models kept loaded after their last version ends, for a quick rollback (default 0). */
  keepIdleModels?: number;
  /** Published versions remembered for rollback (default 20). */
  historyLimit?: number;
}

export type VersionState = "serving" | "draining" | "retired";

export interface VersionInfo {
  version: string;
  /** ISO time it last started serving. */
  publishedAt: string;
  state: VersionState;
  /** The ids it serves. */
  served: string[];
  /** Its experts' ids. */
  experts: string[];
  /** Requests running on it now. */
  inFlight: number;
  /** Time to build it, the last time it was built. */
  buildMs: number;
}

export interface PublishReport {
  version: string;
  /** The version it replaced (null for the first). */
  previous: string | null;
  served: string[];
  buildMs: number;
  /** Experts whose already-loaded model was reused. */
  reused: string[];
  /** Experts loaded for this version. */
  loaded: string[];
}

export interface LiveStatus {
  current: string | null;
  /** Newest first. */
  versions: VersionInfo[];
  /** The last publish that failed, and why (cleared by the next success). */
  lastFailure: { version: string; error: string; at: string } | null;
  loadedModels: number;
}

interface Built {
  version: string;
  served: Map<string, LanguageModel>;
  release: () => void;
  /** Its experts are loaded per call (pooled-model.ts), not held from the build on. */
  onUse: boolean;
  requests: number;
  retired: boolean;
  drained: Promise<void>;
  onDrained: () => void;
}

interface Kept {
  version: string;
  config: UnifiedConfig;
  publishedAt: string;
  buildMs: number;
}

export class LiveComposition implements ServedModels {
  private readonly pool: ModelPool;
  private readonly policies: Readonly<Record<string, PolicyBuilder>>;
  private readonly maxLoaded: number;
  private readonly keepIdle: number;
  private readonly loadOnUse: boolean | "auto";
  private readonly historyLimit: number;
  private current: Built | undefined;
  private readonly draining = new Set<Built>();
  private readonly kept: Kept[] = [];
  private lastFailure: LiveStatus["lastFailure"] = null;
  /** Publishes and rollbacks run one at a time, in call order. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(options: LiveOptions = {}) {
    this.maxLoaded = options.maxLoadedModels ?? 64;
    this.keepIdle = options.keepIdleModels ?? 0;
    this.loadOnUse = options.loadOnUse ?? "auto";
    this.historyLimit = Math.max(1, options.historyLimit ?? 20);
    this.policies = options.policies ?? POLICIES;
    this.pool = new ModelPool({ maxModels: this.maxLoaded, open: options.open ?? ((spec) => openModel(spec)) });
  }

  ids(): string[] {
    return this.current ? [...this.current.served.keys()] : [];
  }

  checkout(id: string): { model: LanguageModel; release: () => void } | undefined {
    const version = this.current;
    const model = version?.served.get(id);
    if (!version || !model) return undefined;
    version.requests++;
    let released = false;
    return {
      model,
      release: () => {
        if (released) return;
        released = true;
        version.requests--;
        if (version.retired && version.requests === 0) void this.dispose(version);
      },
    };
  }

  /** The version serving now, or null before the first publish. */
  get version(): string | null {
    return this.current?.version ?? null;
  }

  /**
   * Build `config` and serve it as `version`. Resolves once new requests go to it; rejects (and
   * the current version keeps serving) when the build fails. A version name is published once:
   * serve an earlier one again with `rollback`.
   */
  publish(config: UnifiedConfig, version: string | number): Promise<PublishReport> {
    return this.serially(async () => {
      if (typeof version === "number") version = String(version);
      if (typeof version !== "string" || version.trim() === "") throw new ConfigError(["publish: the version must be a non-empty string or a number"]);
      if (this.kept.some((k) => k.version === version)) {
        throw new ConfigError([`publish: version '${version}' was already published; serve it again with rollback('${version}')`]);
      }
      return this.install(config, version);
    });
  }

  /** Serve an earlier published version again (rebuilt from its kept config). */
  rollback(version: string | number): Promise<PublishReport> {
    return this.serially(async () => {
      version = String(version);
      const kept = this.kept.find((k) => k.version === version);
      if (!kept) {
        throw new ConfigError([`rollback: no version '${version}' in the history (kept: ${this.kept.map((k) => k.version).join(", ") || "none"})`]);
      }
      return this.install(kept.config, version);
    });
  }

  status(): LiveStatus {
    const live = new Map([...this.draining, ...(this.current ? [this.current] : [])].map((b) => [b.version, b]));
    const versions = [...this.kept].reverse().map((k): VersionInfo => {
      const built = live.get(k.version);
      return {
        version: k.version,
        publishedAt: k.publishedAt,
        state: built === this.current && built ? "serving" : built ? "draining" : "retired",
        served: k.config.served.map((s) => s.id),
        experts: k.config.experts.map((e) => e.id),
        inFlight: built?.requests ?? 0,
        buildMs: k.buildMs,
      };
    });
    return { current: this.version, versions, lastFailure: this.lastFailure, loadedModels: this.pool.size };
  }

  /** Resolves when every replaced version has finished its requests and given its models back. */
  async drained(): Promise<void> {
    await Promise.all([...this.draining].map((b) => b.drained));
  }

  /** Stop serving: later requests find no model; models are closed now. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue.catch(() => {});
    this.current = undefined;
    this.draining.clear();
    await this.pool.close();
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(() => {
      if (this.closed) throw new ConfigError(["the live composition is closed"]);
      return work();
    });
    this.queue = next.catch(() => {});
    return next;
  }

  private async install(config: UnifiedConfig, version: string): Promise<PublishReport> {
    const started = process.hrtime.bigint();
    let built: Built;
    let reused: string[];
    let loaded: string[];
    try {
      ({ built, reused, loaded } = await this.build(config, version));
    } catch (error) {
      this.lastFailure = { version, error: error instanceof Error ? error.message : String(error), at: new Date().toISOString() };
      throw error;
    }
    const buildMs = Number(process.hrtime.bigint() - started) / 1e6;
    const previous = this.current;
    this.current = built;
    this.lastFailure = null;
    this.remember({ version, config, publishedAt: new Date().toISOString(), buildMs });
    if (previous) {
      previous.retired = true;
      this.draining.add(previous);
      if (previous.requests === 0) await this.dispose(previous);
    }
    return { version, previous: previous?.version ?? null, served: [...built.served.keys()], buildMs, reused, loaded };
  }

  private async build(config: UnifiedConfig, version: string) {
    const needed = expertsServed(config);
    if (this.loadOnUse === true || (this.loadOnUse === "auto" && needed.length > this.maxLoaded)) {
      const { served } = await buildServedModels(config, this.policies, async (spec) => pooledModel(spec, this.pool));
      return { built: newBuilt(version, served, () => {}, true), reused: [], loaded: [] };
    }
    if (needed.length > this.maxLoaded) {
      throw new ConfigError([`version '${version}' serves ${needed.length} experts, above the model pool's cap of ${this.maxLoaded} (maxLoadedModels)`], config.file);
    }
    const leases: { release: () => void }[] = [];
    const opening: Promise<unknown>[] = [];
    const reused: string[] = [];
    const loaded: string[] = [];
    const open = (spec: ExpertSpec): Promise<LanguageModel> => {
      (this.pool.isOpen(spec) ? reused : loaded).push(spec.id);
      const lease = this.pool.lease(spec).then((l) => (leases.push(l), l.model));
      opening.push(lease);
      return lease;
    };
    const releaseAll = () => {
      for (const lease of leases.splice(0)) lease.release();
    };
    try {
      const { served } = await buildServedModels(config, this.policies, open);
      return { built: newBuilt(version, served, releaseAll, false), reused, loaded };
    } catch (error) {
      // Experts still opening when another failed are given back once they are open.
      await Promise.allSettled(opening);
      releaseAll();
      await this.trimIdle();
      throw error;
    }
  }

  private async dispose(version: Built): Promise<void> {
    if (!this.draining.delete(version)) return;
    version.release();
    await this.trimIdle();
    version.onDrained();
  }

  /** Close idle models, unless the serving version loads on use: its idle experts are its cache. */
  private async trimIdle(): Promise<void> {
    if (!this.current?.onUse) await this.pool.trim(this.keepIdle);
  }

  private remember(entry: Kept): void {
    const at = this.kept.findIndex((k) => k.version === entry.version);
    if (at >= 0) this.kept.splice(at, 1);
    this.kept.push(entry);
    while (this.kept.length > this.historyLimit) this.kept.shift();
  }
}

function newBuilt(version: string, served: Map<string, LanguageModel>, release: () => void, onUse: boolean): Built {
  let onDrained = () => {};
  const drained = new Promise<void>((resolve) => (onDrained = resolve));
  return { version, served, release, onUse, requests: 0, retired: false, drained, onDrained };
}

/** The experts a config's served models reach (directly or through composites). */
function expertsServed(config: UnifiedConfig): string[] {
  const experts = new Set(config.experts.map((e) => e.id));
  const served = new Map(config.served.map((s) => [s.id, s]));
  const found = new Set<string>();
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    const spec = served.get(id);
    if (spec && !(spec.policy === "single" && spec.members[0] === id)) spec.members.forEach(visit);
    else if (experts.has(id)) found.add(id);
  };
  config.served.forEach((s) => visit(s.id));
  return [...found];
}
