/**
 * The continuous loop: register → evaluate → re-rank → compose → publish.
 *
 * Registering or updating an expert (or submitting evidence for it) enqueues it. Its work runs
 * through the eval jobs (src/eval/jobs: in-process, or BullMQ workers elsewhere): every suite
 * item it has no hub-run result for (current revision), or — for suites where the contributor
 * submitted results — a seeded random sample of the submitted items, re-run to check them. Each
 * job's results land as evidence under idempotent keys (expert, revision, suite, item, source),
 * so a job re-run after a crash adds nothing twice; tasks left queued by a crash are picked up
 * by `resume()`. Then every domain it has evidence in is refitted (a new leaderboard version)
 * and, by the maintainer's policy, a new composition is built and published.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { CogenError } from "../core/errors.js";
import type { EvalJob } from "../eval/jobs/job.js";
import { makeEvalJobs } from "../eval/jobs/job.js";
import type { JobOutcome, JobQueue } from "../eval/jobs/queue.js";
import type { TaskItem } from "../formats/tasks.js";
import { parseUnifiedConfig, type UnifiedConfig } from "../serve/unified-config.js";
import type { Composition } from "./api-types.js";
import { compareSubmitted, sampleItems } from "./check.js";
import { buildComposition, DEFAULT_POLICY, SERVED_ID, type HubPolicy } from "./compose.js";
import { expertSpec } from "./expert-spec.js";
import { refitDomain } from "./fit.js";
import { StoreUnavailableError } from "./store/db.js";
import type { ExpertRecord, HubStore, TaskKind } from "./store/store.js";

/** Where a published composition goes: hub-live's gateway live switch, or nowhere (registry only). */
export interface Publisher {
  /** Serve `config` as `version`; resolves to where it is served, or null when not served. */
  publish(version: number, config: UnifiedConfig): Promise<Composition["endpoint"]>;
}

export const NO_GATEWAY: Publisher = { publish: async () => null };

export interface HubLoopOptions {
  store: HubStore;
  queue: JobQueue;
  /** Compositions' files are written under `<dataDir>/compositions/<version>`. */
  dataDir: string;
  publisher?: Publisher;
  /** Seed of the submitted-evidence samples (default 1). */
  seed?: number;
  /** Submitted items the hub re-runs per suite (default 16). */
  recheckSample?: number;
  /** Items per eval job (default 32). */
  batchSize?: number;
  /** Attempts at a store write while the database is unavailable (default 20, 250 ms apart). */
  storeRetries?: number;
  onEvent?: (event: LoopEvent) => void;
}

export type LoopEvent =
  | { kind: "evaluated"; expert: string; revision: number; added: number; failed: number }
  | { kind: "flagged"; expert: string; suite: string; domain: string }
  | { kind: "ranked"; domain: string; version: number }
  | { kind: "composed"; version: number; published: boolean }
  | { kind: "error"; expert?: string; message: string };

export const POLICY_SETTING = "composition-policy";

interface JobMeta {
  suite: string;
  kind: TaskKind;
  domains: Map<string, string>;
}

export class HubLoop {
  private readonly store: HubStore;
  private readonly options: HubLoopOptions;
  private chain: Promise<void> = Promise.resolve();
  private readonly pending = new Set<string>();
  private running = 0;

  constructor(options: HubLoopOptions) {
    this.store = options.store;
    this.options = options;
  }

  /** Experts waiting or being evaluated now. */
  get waiting(): number {
    return this.pending.size;
  }

  get active(): number {
    return this.running;
  }

  /** Queue an expert's evaluation (once, however often it is asked for before it starts). */
  enqueue(expertId: string): void {
    if (this.pending.has(expertId)) return;
    this.pending.add(expertId);
    // Start on a later turn of the event loop: the request that enqueued it replies first, and
    // SQLite's synchronous reads of the loop do not land inside that request's time.
    this.chain = this.chain.then(nextTurn).then(async () => {
      this.pending.delete(expertId);
      this.running++;
      try {
        await this.process(expertId);
      } catch (error) {
        if (!CogenError.isInstance(error)) throw error;
        this.options.onEvent?.({ kind: "error", expert: expertId, message: error.message });
      } finally {
        this.running--;
      }
    });
  }

  /** Enqueue every expert whose evaluation was left unfinished (after a crash or restart). */
  async resume(): Promise<string[]> {
    const experts = await this.store.expertsWithQueuedTasks();
    for (const id of experts) this.enqueue(id);
    return experts;
  }

  /** Resolves when everything queued so far is done. */
  async idle(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.chain;
      await seen;
    } while (seen !== this.chain);
  }

  private async retrying<T>(work: () => Promise<T>): Promise<T> {
    const attempts = this.options.storeRetries ?? 20;
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (!(error instanceof StoreUnavailableError) || attempt >= attempts) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  private async process(expertId: string): Promise<void> {
    const store = this.store;
    const expert = await this.retrying(() => store.getExpert(expertId));
    if (!expert) return;
    const experts = new Map((await this.retrying(() => store.allExperts())).map((e) => [e.id, e]));
    const spec = expertSpec(expert, (id) => experts.get(id));
    const have = await this.retrying(() => store.evidenceOf(expert.id, expert.revision));
    const hubRun = new Set(have.filter((r) => r.source === "hub-run").map((r) => `${r.suiteId}\u0000${r.itemId}`));
    const submitted = new Map<string, Map<string, number>>();
    for (const r of have) if (r.source === "submitted") submitted.set(r.suiteId, (submitted.get(r.suiteId) ?? new Map()).set(r.itemId, r.score));

    const jobs: EvalJob[] = [];
    const meta = new Map<string, JobMeta>();
    const samples = new Map<string, string[]>();
    const batch = this.options.batchSize ?? 32;
    for (const suite of await this.retrying(() => store.listSuites())) {
      const items = await this.retrying(() => store.suiteItems(suite.id));
      const mine = submitted.get(suite.id);
      // A self-evaluating contributor's suites wait for its results; the hub only re-checks them.
      if (!mine && expert.evaluation === "submitted") continue;
      const kind: TaskKind = mine ? "recheck" : "full";
      let wanted = items;
      if (mine) {
        const sample = new Set(sampleItems([...mine.keys()], this.options.recheckSample ?? 16, this.seedFor(expert, suite.id)));
        samples.set(suite.id, [...sample]);
        wanted = items.filter((i) => sample.has(i.id));
      }
      const todo = wanted.filter((i) => !hubRun.has(`${suite.id}\u0000${i.id}`));
      await this.retrying(() => store.putTask({ expertId: expert.id, revision: expert.revision, suiteId: suite.id, kind, state: "queued" }));
      const domains = new Map(items.map((i) => [i.id, i.domain]));
      for (const job of makeEvalJobs(spec, todo.map((i) => i.task as TaskItem), batch, 1, 0)) {
        jobs.push(job);
        meta.set(job.id, { suite: suite.id, kind, domains });
      }
    }
    await this.retrying(() => store.setExpertState(expert.id, expert.revision, "running"));
    let added = 0;
    const failures = new Map<string, string>();
    await this.options.queue.run(jobs, async (outcome: JobOutcome) => {
      const m = meta.get(outcome.job.id)!;
      if (outcome.error !== undefined || !outcome.records) {
        failures.set(m.suite, outcome.error ?? "no results");
        return;
      }
      const rows = outcome.records.map((record) => ({
        expertId: expert.id, revision: expert.revision, suiteId: m.suite, itemId: record.item, source: "hub-run" as const,
        producer: "hub", domain: m.domains.get(record.item) ?? record.domain, score: record.score, record,
      }));
      added += await this.retrying(() => store.addEvidence(rows));
    });

    for (const task of await this.retrying(() => store.tasksOf(expert.id, expert.revision))) {
      const error = failures.get(task.suiteId);
      await this.retrying(() => store.finishTask(task, error === undefined ? "done" : "failed", error ?? null));
    }
    if (samples.size > 0) await this.checkSubmitted(expert, submitted, samples);
    const state = failures.size > 0 ? "failed" : "evaluated";
    await this.retrying(() => store.setExpertState(expert.id, expert.revision, state));
    this.options.onEvent?.({ kind: "evaluated", expert: expert.id, revision: expert.revision, added, failed: failures.size });
    await this.retrying(() => store.audit("hub", "expert.evaluate", `expert:${expert.id}`, { revision: expert.revision, added, failed: Object.fromEntries(failures) }));
    await this.rerank(expert, `evidence for ${expert.id} rev ${expert.revision}`);
  }

  private seedFor(expert: ExpertRecord, suite: string): number {
    let h = (this.options.seed ?? 1) >>> 0;
    for (const c of `${expert.id}\u0000${expert.revision}\u0000${suite}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
    return h;
  }

  /** Compare each rechecked suite's submitted scores with the hub's re-run, per domain; flag on disagreement. */
  private async checkSubmitted(expert: ExpertRecord, submitted: Map<string, Map<string, number>>, samples: Map<string, string[]>): Promise<void> {
    const store = this.store;
    const rerun = new Map((await this.retrying(() => store.evidenceOf(expert.id, expert.revision))).filter((r) => r.source === "hub-run").map((r) => [`${r.suiteId}\u0000${r.itemId}`, r]));
    let flagged = false;
    for (const [suite, ids] of samples) {
      const byDomain = new Map<string, { s: number[]; r: number[] }>();
      for (const id of ids) {
        const again = rerun.get(`${suite}\u0000${id}`);
        if (!again) continue;
        const pair = byDomain.get(again.domain) ?? { s: [], r: [] };
        pair.s.push(submitted.get(suite)!.get(id)!);
        pair.r.push(again.score);
        byDomain.set(again.domain, pair);
      }
      for (const [domain, pair] of byDomain) {
        const comparison = compareSubmitted(pair.s, pair.r);
        const check = { suite, domain, sampled: pair.s.length, ...comparison, seed: this.seedFor(expert, suite), checkedAt: new Date().toISOString() };
        await this.retrying(() => store.putCheck(expert.id, expert.revision, check));
        if (comparison.disagrees) {
          flagged = true;
          this.options.onEvent?.({ kind: "flagged", expert: expert.id, suite, domain });
        }
      }
    }
    await this.retrying(() => store.setExpertFlag(expert.id, expert.revision, flagged));
    if (flagged) await this.retrying(() => store.audit("hub", "expert.flag", `expert:${expert.id}`, { revision: expert.revision, reason: "submitted and re-run scores disagree beyond their standard errors" }));
  }

  private async rerank(expert: ExpertRecord, reason: string): Promise<void> {
    const store = this.store;
    const domains = new Set((await this.retrying(() => store.evidenceOf(expert.id, expert.revision))).map((r) => r.domain));
    for (const domain of [...domains].sort()) {
      const board = await this.retrying(() => refitDomain(store, domain, reason, { seed: this.options.seed }));
      if (board) this.options.onEvent?.({ kind: "ranked", domain, version: board.version });
    }
    if (domains.size > 0) await this.compose();
  }

  /** Build a composition by the maintainer's policy and, when the policy says so, publish it. */
  async compose(by = "hub"): Promise<Composition | undefined> {
    const store = this.store;
    const policy = (await this.retrying(() => store.getSetting<HubPolicy>(POLICY_SETTING))) ?? DEFAULT_POLICY;
    const staging = path.join(this.options.dataDir, "compositions", `staging-${process.pid}`);
    await fs.rm(staging, { recursive: true, force: true });
    const built = await buildComposition(store, policy, staging);
    if (!built) return undefined;
    const current = await this.retrying(() => store.currentComposition());
    if (current && sameComposition(current, built.experts, built.served)) {
      await fs.rm(staging, { recursive: true, force: true });
      return current;
    }
    const composition = await this.retrying(() => store.addComposition({ policy: built.policy, builtFrom: built.builtFrom, experts: built.experts, served: built.served, config: built.config, routing: built.routing }));
    const dir = path.join(this.options.dataDir, "compositions", String(composition.version));
    await fs.rename(staging, dir);
    await this.retrying(() => store.audit(by, "composition.build", `composition:${composition.version}`, { policy: built.policy, experts: built.experts, reasons: built.reasons }));
    let published = false;
    if (policy.autoPublish) {
      await this.publish(composition.version, by);
      published = true;
    }
    this.options.onEvent?.({ kind: "composed", version: composition.version, published });
    return (await this.retrying(() => store.getComposition(composition.version)))!;
  }

  /** Serve the current composition again, as a restarted hub does; the store is not changed. */
  async serveCurrent(): Promise<number | null> {
    const current = await this.retrying(() => this.store.currentComposition());
    if (!current) return null;
    await (this.options.publisher ?? NO_GATEWAY).publish(current.version, this.unifiedConfig(current));
    return current.version;
  }

  /** A stored composition's config; its evidence files are beside it under the data folder. */
  private unifiedConfig(composition: Composition): UnifiedConfig {
    return parseUnifiedConfig(composition.config, path.join(this.options.dataDir, "compositions", String(composition.version), "config.yaml"));
  }

  /** Serve a built (or earlier) composition version. */
  async publish(version: number, by: string): Promise<Composition> {
    const store = this.store;
    const composition = await this.retrying(() => store.getComposition(version));
    if (!composition) throw new CogenError(`no composition version ${version}`);
    const endpoint = await (this.options.publisher ?? NO_GATEWAY).publish(version, this.unifiedConfig(composition));
    await this.retrying(() => store.markPublished(version, by, endpoint ?? null));
    await this.retrying(() => store.audit(by, "composition.publish", `composition:${version}`, { endpoint, servedId: SERVED_ID }));
    return (await this.retrying(() => store.getComposition(version)))!;
  }
}

function sameComposition(current: Composition, experts: readonly string[], served: Composition["served"]): boolean {
  return JSON.stringify(current.experts) === JSON.stringify(experts) && JSON.stringify(current.served.map((s) => [s.id, s.policy, s.members])) === JSON.stringify(served.map((s) => [s.id, s.policy, s.members]));
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
