/**
 * The hub's registry over either database (SqlDb): contributors and their keys, experts,
 * suites, evidence, evaluation tasks, submitted-evidence checks, versioned leaderboards and
 * compositions, settings and the audit log. Every value is bound as a parameter; list filters
 * are fixed columns compared with `=` (or LIKE with escaped wildcards), never spliced SQL.
 */
import type {
  ArtefactKind, AuditEntry, DerivedKind, EvaluationMode, Composition, CompositionServed, EvaluationState, EvidenceSource, Leaderboard,
  ModelCard, Role, Suite, SubmittedCheck,
} from "../api-types.js";
import type { Row, SqlDb, SqlValue } from "./db.js";

export interface ContributorRecord {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
}

export interface ApiKeyRecord {
  id: string;
  contributorId: string;
  salt: string;
  hash: string;
  revoked: boolean;
}

export interface ArtefactRecord {
  kind: ArtefactKind;
  origin: "upload" | "reference";
  /** Absolute path of the GGUF/adapter file or HF folder (uploads: inside the hub's data dir). */
  path: string | null;
  sha256: string | null;
  bytes: number | null;
  baseExpert: string | null;
  url: string | null;
  model: string | null;
}

export interface ExpertRecord {
  id: string;
  owner: string;
  family: string;
  base: string | null;
  domains: string[];
  licence: string;
  artefact: ArtefactRecord;
  card: ModelCard;
  /** "hub": the hub evaluates it on every suite; "submitted": the contributor submits results and the hub re-runs a sample. */
  evaluation: EvaluationMode;
  /** Built from other experts: a mixture of experts or a distilled model (null: an expert of its own). */
  derived: DerivedKind | null;
  revision: number;
  state: EvaluationState;
  flagged: boolean;
  createdAt: string;
  updatedAt: string;
}

export type NewExpert = Omit<ExpertRecord, "revision" | "state" | "flagged" | "createdAt" | "updatedAt" | "derived"> & { derived?: DerivedKind | null };

export interface ExpertFilter {
  domain?: string;
  owner?: string;
  family?: string;
  /** Substring of the id. */
  q?: string;
  limit: number;
  offset: number;
}

export interface EvidenceRow {
  expertId: string;
  revision: number;
  suiteId: string;
  itemId: string;
  source: EvidenceSource;
  producer: string;
  domain: string;
  score: number;
  /** The full result record (JSON). */
  record: unknown;
}

export type TaskKind = "full" | "recheck";
export type TaskState = "queued" | "done" | "failed";

export interface EvalTaskRecord {
  expertId: string;
  revision: number;
  suiteId: string;
  kind: TaskKind;
  state: TaskState;
  error: string | null;
}

export type LeaderboardBody = Omit<Leaderboard, "domain" | "version" | "fittedAt" | "reason"> & {
  items: import("../api-types.js").ItemQuality[];
};

export interface NewComposition {
  policy: Composition["policy"];
  builtFrom: Record<string, number>;
  experts: string[];
  served: CompositionServed[];
  config: string;
  /** Domain → the experts serving it (the policy's decision). */
  routing?: Record<string, string[]>;
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  target?: string;
  limit: number;
  offset: number;
}

const now = (): string => new Date().toISOString();
const json = (value: unknown): string => JSON.stringify(value);
const parse = <T>(value: SqlValue): T => JSON.parse(String(value)) as T;
/** LIKE pattern for a literal substring (wildcards in user input match themselves). */
const contains = (text: string): string => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

function toExpert(row: Row, domains: string[]): ExpertRecord {
  return {
    id: String(row.id),
    owner: String(row.owner),
    family: String(row.family),
    base: row.base === null ? null : String(row.base),
    domains,
    licence: String(row.licence),
    artefact: {
      kind: row.artefact_kind as ArtefactKind,
      origin: row.artefact_origin as "upload" | "reference",
      path: row.artefact_path as string | null,
      sha256: row.artefact_sha256 as string | null,
      bytes: row.artefact_bytes as number | null,
      baseExpert: row.base_expert as string | null,
      url: row.endpoint_url as string | null,
      model: row.endpoint_model as string | null,
    },
    card: parse<ModelCard>(row.card),
    evaluation: row.evaluation as EvaluationMode,
    derived: (row.derived ?? null) as DerivedKind | null,
    revision: Number(row.revision),
    state: row.state as EvaluationState,
    flagged: Number(row.flagged) === 1,
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
  };
}

function toComposition(row: Row): Composition {
  return {
    version: Number(row.version),
    policy: parse(row.policy),
    builtFrom: parse(row.built_from),
    experts: parse(row.experts),
    served: parse(row.served),
    config: String(row.config),
    state: row.state as Composition["state"],
    createdAt: String(row.created_at),
    publishedAt: row.published_at as string | null,
    publishedBy: row.published_by as string | null,
    endpoint: row.endpoint === null ? null : parse(row.endpoint),
    ...(row.routing === null || row.routing === undefined ? {} : { routing: parse<Record<string, string[]>>(row.routing) }),
  };
}

export class HubStore {
  constructor(readonly db: SqlDb) {}

  get dialect(): SqlDb["dialect"] {
    return this.db.dialect;
  }

  /** Run `work` atomically: every write in it (and its audit entry) lands together or not at all. */
  transaction<T>(work: (store: HubStore) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => work(new HubStore(tx)));
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /** The next value of a named counter (1, 2, …); used for audit ids and versions. */
  async next(counter: string): Promise<number> {
    const rows = await this.db.query<{ value: number }>(
      `INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value`,
      [counter],
    );
    return Number(rows[0].value);
  }

  // --- contributors and keys ---

  async createContributor(contributor: Omit<ContributorRecord, "createdAt">): Promise<ContributorRecord> {
    const record = { ...contributor, createdAt: now() };
    await this.db.run(`INSERT INTO contributors (id, name, role, created_at) VALUES (?, ?, ?, ?)`, [record.id, record.name, record.role, record.createdAt]);
    return record;
  }

  async getContributor(id: string): Promise<ContributorRecord | undefined> {
    const [row] = await this.db.query(`SELECT id, name, role, created_at FROM contributors WHERE id = ?`, [id]);
    return row && { id: String(row.id), name: String(row.name), role: row.role as Role, createdAt: String(row.created_at) };
  }

  async listContributors(limit: number, offset: number): Promise<{ total: number; rows: (ContributorRecord & { experts: number })[] }> {
    const [count] = await this.db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM contributors`);
    const rows = await this.db.query(
      `SELECT c.id, c.name, c.role, c.created_at, (SELECT COUNT(*) FROM experts e WHERE e.owner = c.id) AS experts
       FROM contributors c ORDER BY c.id LIMIT ? OFFSET ?`,
      [limit, offset],
    );
    return {
      total: Number(count.n),
      rows: rows.map((r) => ({ id: String(r.id), name: String(r.name), role: r.role as Role, createdAt: String(r.created_at), experts: Number(r.experts) })),
    };
  }

  async addApiKey(key: Omit<ApiKeyRecord, "revoked">): Promise<void> {
    await this.db.run(`INSERT INTO api_keys (id, contributor_id, salt, hash, created_at) VALUES (?, ?, ?, ?, ?)`, [key.id, key.contributorId, key.salt, key.hash, now()]);
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    const [row] = await this.db.query(`SELECT id, contributor_id, salt, hash, revoked FROM api_keys WHERE id = ?`, [id]);
    return row && { id: String(row.id), contributorId: String(row.contributor_id), salt: String(row.salt), hash: String(row.hash), revoked: Number(row.revoked) === 1 };
  }

  async revokeApiKey(id: string): Promise<boolean> {
    return (await this.db.run(`UPDATE api_keys SET revoked = 1 WHERE id = ?`, [id])) > 0;
  }

  // --- experts ---

  async createExpert(expert: NewExpert): Promise<ExpertRecord> {
    const at = now();
    const a = expert.artefact;
    await this.db.run(
      `INSERT INTO experts (id, owner, family, base, licence, artefact_kind, artefact_origin, artefact_path, artefact_sha256,
        artefact_bytes, base_expert, endpoint_url, endpoint_model, card, evaluation, derived, revision, state, flagged, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 'queued', 0, ?, ?)`,
      [expert.id, expert.owner, expert.family, expert.base, expert.licence, a.kind, a.origin, a.path, a.sha256, a.bytes, a.baseExpert, a.url, a.model, json(expert.card), expert.evaluation, expert.derived ?? null, at, at],
    );
    await this.setDomains(expert.id, expert.domains);
    return (await this.getExpert(expert.id))!;
  }

  /** Replace an expert's card/artefact/domains; its revision goes up and it is queued again. */
  async updateExpert(expert: NewExpert): Promise<ExpertRecord> {
    const a = expert.artefact;
    await this.db.run(
      `UPDATE experts SET family = ?, base = ?, licence = ?, artefact_kind = ?, artefact_origin = ?, artefact_path = ?,
        artefact_sha256 = ?, artefact_bytes = ?, base_expert = ?, endpoint_url = ?, endpoint_model = ?, card = ?,
        evaluation = ?, derived = ?, revision = revision + 1, state = 'queued', flagged = 0, updated_at = ? WHERE id = ?`,
      [expert.family, expert.base, expert.licence, a.kind, a.origin, a.path, a.sha256, a.bytes, a.baseExpert, a.url, a.model, json(expert.card), expert.evaluation, expert.derived ?? null, now(), expert.id],
    );
    await this.db.run(`DELETE FROM expert_domains WHERE expert_id = ?`, [expert.id]);
    await this.setDomains(expert.id, expert.domains);
    return (await this.getExpert(expert.id))!;
  }

  private async setDomains(id: string, domains: readonly string[]): Promise<void> {
    const unique = [...new Set(domains)];
    if (!unique.length) return;
    // One statement, not one round trip per domain.
    await this.db.run(`INSERT INTO expert_domains (expert_id, domain) VALUES ${unique.map(() => "(?, ?)").join(", ")}`, unique.flatMap((domain) => [id, domain]));
  }

  async getExpert(id: string): Promise<ExpertRecord | undefined> {
    const [row] = await this.db.query(`SELECT * FROM experts WHERE id = ?`, [id]);
    if (!row) return undefined;
    const domains = await this.db.query<{ domain: string }>(`SELECT domain FROM expert_domains WHERE expert_id = ? ORDER BY domain`, [id]);
    return toExpert(row, domains.map((d) => d.domain));
  }

  async listExperts(filter: ExpertFilter): Promise<{ total: number; rows: ExpertRecord[] }> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (filter.domain !== undefined) {
      where.push(`id IN (SELECT expert_id FROM expert_domains WHERE domain = ?)`);
      params.push(filter.domain);
    }
    for (const key of ["owner", "family"] as const) {
      const value = filter[key];
      if (value === undefined) continue;
      where.push(`${key} = ?`);
      params.push(value);
    }
    if (filter.q !== undefined) {
      where.push(`id LIKE ? ESCAPE '\\'`);
      params.push(contains(filter.q));
    }
    const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
    const [count] = await this.db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM experts ${clause}`, params);
    const rows = await this.db.query(`SELECT * FROM experts ${clause} ORDER BY id LIMIT ? OFFSET ?`, [...params, filter.limit, filter.offset]);
    const domains = await this.domainsOf(rows.map((r) => String(r.id)));
    return { total: Number(count.n), rows: rows.map((r) => toExpert(r, domains.get(String(r.id)) ?? [])) };
  }

  private async domainsOf(ids: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (ids.length === 0) return out;
    const rows = await this.db.query<{ expert_id: string; domain: string }>(
      `SELECT expert_id, domain FROM expert_domains WHERE expert_id IN (${ids.map(() => "?").join(", ")}) ORDER BY domain`,
      ids,
    );
    for (const r of rows) out.set(r.expert_id, [...(out.get(r.expert_id) ?? []), r.domain]);
    return out;
  }

  async allExperts(): Promise<ExpertRecord[]> {
    return (await this.listExperts({ limit: 1_000_000, offset: 0 })).rows;
  }

  async setExpertState(id: string, revision: number, state: EvaluationState): Promise<void> {
    await this.db.run(`UPDATE experts SET state = ? WHERE id = ? AND revision = ?`, [state, id, revision]);
  }

  async setExpertFlag(id: string, revision: number, flagged: boolean): Promise<void> {
    await this.db.run(`UPDATE experts SET flagged = ? WHERE id = ? AND revision = ?`, [flagged ? 1 : 0, id, revision]);
  }

  async countExperts(): Promise<number> {
    return Number((await this.db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM experts`))[0].n);
  }

  // --- suites ---

  async createSuite(suite: Omit<Suite, "createdAt" | "items">, items: readonly { id: string; domain: string; task: unknown }[]): Promise<Suite> {
    const record: Suite = { ...suite, items: items.length, createdAt: now() };
    await this.db.run(
      `INSERT INTO suites (id, domains, items, sha256, provenance, licence, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [record.id, json(record.domains), record.items, record.sha256, record.provenance, record.licence, record.createdBy, record.createdAt],
    );
    let position = 0;
    for (const item of items) {
      await this.db.run(`INSERT INTO suite_items (suite_id, item_id, domain, position, task) VALUES (?, ?, ?, ?, ?)`, [suite.id, item.id, item.domain, position++, json(item.task)]);
    }
    return record;
  }

  async listSuites(): Promise<Suite[]> {
    const rows = await this.db.query(`SELECT * FROM suites ORDER BY id`);
    return rows.map((r) => ({
      id: String(r.id), domains: parse(r.domains), items: Number(r.items), sha256: String(r.sha256), provenance: String(r.provenance),
      licence: String(r.licence), createdBy: String(r.created_by), createdAt: String(r.created_at),
    }));
  }

  async suiteItems(suiteId: string): Promise<{ id: string; domain: string; task: unknown }[]> {
    const rows = await this.db.query(`SELECT item_id, domain, task FROM suite_items WHERE suite_id = ? ORDER BY position`, [suiteId]);
    return rows.map((r) => ({ id: String(r.item_id), domain: String(r.domain), task: parse(r.task) }));
  }

  // --- evidence ---

  /**
   * Insert results; a row whose key (expert, revision, suite, item, source) exists is skipped.
   * Returns rows added. Rows go in multi-row statements (one round trip per chunk, not per row:
   * 48 results took ~10 ms on PostgreSQL one by one), in one transaction so a failure adds none.
   */
  async addEvidence(rows: readonly EvidenceRow[]): Promise<number> {
    const at = now();
    const chunk = 200; // 10 parameters a row: far below SQLite's and PostgreSQL's limits
    return this.transaction(async (tx) => {
      let added = 0;
      for (let start = 0; start < rows.length; start += chunk) {
        const part = rows.slice(start, start + chunk);
        added += await tx.db.run(
          `INSERT INTO evidence (expert_id, revision, suite_id, item_id, source, producer, domain, score, record, created_at)
           VALUES ${part.map(() => "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ")}
           ON CONFLICT (expert_id, revision, suite_id, item_id, source) DO NOTHING`,
          part.flatMap((r) => [r.expertId, r.revision, r.suiteId, r.itemId, r.source, r.producer, r.domain, r.score, json(r.record), at]),
        );
      }
      return added;
    });
  }

  private static toEvidence(r: Row): EvidenceRow & { createdAt: string } {
    return {
      expertId: String(r.expert_id), revision: Number(r.revision), suiteId: String(r.suite_id), itemId: String(r.item_id),
      source: r.source as EvidenceSource, producer: String(r.producer), domain: String(r.domain), score: Number(r.score),
      record: parse(r.record), createdAt: String(r.created_at),
    };
  }

  async evidenceOf(expertId: string, revision: number): Promise<(EvidenceRow & { createdAt: string })[]> {
    const rows = await this.db.query(`SELECT * FROM evidence WHERE expert_id = ? AND revision = ? ORDER BY suite_id, item_id, source`, [expertId, revision]);
    return rows.map(HubStore.toEvidence);
  }

  /** Evidence in a domain for every expert's current revision. */
  async evidenceInDomain(domain: string): Promise<(EvidenceRow & { createdAt: string })[]> {
    const rows = await this.db.query(
      `SELECT v.* FROM evidence v JOIN experts e ON e.id = v.expert_id AND e.revision = v.revision
       WHERE v.domain = ? ORDER BY v.expert_id, v.suite_id, v.item_id, v.source`,
      [domain],
    );
    return rows.map(HubStore.toEvidence);
  }

  async countEvidence(): Promise<number> {
    return Number((await this.db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM evidence`))[0].n);
  }

  // --- evaluation tasks ---

  async putTask(task: Omit<EvalTaskRecord, "error">): Promise<void> {
    await this.db.run(
      `INSERT INTO eval_tasks (expert_id, revision, suite_id, kind, state, error, updated_at) VALUES (?, ?, ?, ?, ?, NULL, ?)
       ON CONFLICT (expert_id, revision, suite_id, kind) DO UPDATE SET state = excluded.state, error = NULL, updated_at = excluded.updated_at`,
      [task.expertId, task.revision, task.suiteId, task.kind, task.state, now()],
    );
  }

  async finishTask(task: Omit<EvalTaskRecord, "state" | "error">, state: TaskState, error: string | null = null): Promise<void> {
    await this.db.run(
      `UPDATE eval_tasks SET state = ?, error = ?, updated_at = ? WHERE expert_id = ? AND revision = ? AND suite_id = ? AND kind = ?`,
      [state, error, now(), task.expertId, task.revision, task.suiteId, task.kind],
    );
  }

  async tasksOf(expertId: string, revision: number): Promise<EvalTaskRecord[]> {
    const rows = await this.db.query(`SELECT * FROM eval_tasks WHERE expert_id = ? AND revision = ? ORDER BY suite_id, kind`, [expertId, revision]);
    return rows.map((r) => ({ expertId: String(r.expert_id), revision: Number(r.revision), suiteId: String(r.suite_id), kind: r.kind as TaskKind, state: r.state as TaskState, error: r.error as string | null }));
  }

  /** Experts (current revisions) with a task still queued: work a restarted hub must finish. */
  async expertsWithQueuedTasks(): Promise<string[]> {
    const rows = await this.db.query<{ expert_id: string }>(
      `SELECT DISTINCT t.expert_id FROM eval_tasks t JOIN experts e ON e.id = t.expert_id AND e.revision = t.revision
       WHERE t.state = 'queued' ORDER BY t.expert_id`,
    );
    return rows.map((r) => r.expert_id);
  }

  async queueCounts(): Promise<{ waiting: number; failed: number }> {
    const rows = await this.db.query<{ state: string; n: number }>(`SELECT state, COUNT(*) AS n FROM eval_tasks GROUP BY state`);
    const of = (s: string) => Number(rows.find((r) => r.state === s)?.n ?? 0);
    return { waiting: of("queued"), failed: of("failed") };
  }

  // --- submitted-evidence checks ---

  async putCheck(expertId: string, revision: number, check: SubmittedCheck): Promise<void> {
    await this.db.run(
      `INSERT INTO checks (expert_id, revision, suite_id, domain, sampled, submitted_mean, submitted_se, rerun_mean, rerun_se, disagrees, seed, checked_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (expert_id, revision, suite_id, domain) DO UPDATE SET sampled = excluded.sampled,
         submitted_mean = excluded.submitted_mean, submitted_se = excluded.submitted_se, rerun_mean = excluded.rerun_mean,
         rerun_se = excluded.rerun_se, disagrees = excluded.disagrees, seed = excluded.seed, checked_at = excluded.checked_at`,
      [expertId, revision, check.suite, check.domain, check.sampled, check.submittedMean, check.submittedStderr, check.rerunMean, check.rerunStderr, check.disagrees ? 1 : 0, check.seed, check.checkedAt],
    );
  }

  async checksOf(expertId: string, revision: number): Promise<SubmittedCheck[]> {
    const rows = await this.db.query(`SELECT * FROM checks WHERE expert_id = ? AND revision = ? ORDER BY suite_id, domain`, [expertId, revision]);
    return rows.map((r) => ({
      suite: String(r.suite_id), domain: String(r.domain), sampled: Number(r.sampled), submittedMean: Number(r.submitted_mean),
      submittedStderr: Number(r.submitted_se), rerunMean: Number(r.rerun_mean), rerunStderr: Number(r.rerun_se),
      disagrees: Number(r.disagrees) === 1, seed: Number(r.seed), checkedAt: String(r.checked_at),
    }));
  }

  // --- leaderboards ---

  async addLeaderboard(domain: string, reason: string, body: LeaderboardBody): Promise<Leaderboard> {
    const version = await this.next(`leaderboard:${domain}`);
    const fittedAt = now();
    await this.db.run(`INSERT INTO leaderboards (domain, version, fitted_at, reason, body) VALUES (?, ?, ?, ?, ?)`, [domain, version, fittedAt, reason, json(body)]);
    const { items: _items, ...rest } = body;
    return { domain, version, fittedAt, reason, ...rest };
  }

  /** The latest fit of a domain (or the given version), with its item reports. */
  async getLeaderboard(domain: string, version?: number): Promise<(Leaderboard & { items: LeaderboardBody["items"] }) | undefined> {
    const [row] = version === undefined
      ? await this.db.query(`SELECT * FROM leaderboards WHERE domain = ? ORDER BY version DESC LIMIT 1`, [domain])
      : await this.db.query(`SELECT * FROM leaderboards WHERE domain = ? AND version = ?`, [domain, version]);
    if (!row) return undefined;
    return { domain, version: Number(row.version), fittedAt: String(row.fitted_at), reason: String(row.reason), ...parse<LeaderboardBody>(row.body) };
  }

  /** The latest version of every domain's leaderboard. */
  async latestLeaderboards(): Promise<(Leaderboard & { items: LeaderboardBody["items"] })[]> {
    const rows = await this.db.query(
      `SELECT l.* FROM leaderboards l JOIN (SELECT domain, MAX(version) AS v FROM leaderboards GROUP BY domain) m
       ON m.domain = l.domain AND m.v = l.version ORDER BY l.domain`,
    );
    return rows.map((row) => ({ domain: String(row.domain), version: Number(row.version), fittedAt: String(row.fitted_at), reason: String(row.reason), ...parse<LeaderboardBody>(row.body) }));
  }

  // --- compositions ---

  async addComposition(composition: NewComposition): Promise<Composition> {
    const version = await this.next("composition");
    await this.db.run(
      `INSERT INTO compositions (version, policy, built_from, experts, served, config, routing, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'built', ?)`,
      [version, json(composition.policy), json(composition.builtFrom), json(composition.experts), json(composition.served), composition.config, composition.routing ? json(composition.routing) : null, now()],
    );
    return (await this.getComposition(version))!;
  }

  async getComposition(version: number): Promise<Composition | undefined> {
    const [row] = await this.db.query(`SELECT * FROM compositions WHERE version = ?`, [version]);
    return row && toComposition(row);
  }

  async listCompositions(): Promise<Composition[]> {
    return (await this.db.query(`SELECT * FROM compositions ORDER BY version DESC`)).map(toComposition);
  }

  /** The composition being served: the latest one published. */
  async currentComposition(): Promise<Composition | undefined> {
    const [row] = await this.db.query(`SELECT * FROM compositions WHERE state = 'published' ORDER BY published_at DESC, version DESC LIMIT 1`);
    return row && toComposition(row);
  }

  /**
   * Mark `version` published, the one serving before it as replaced: 'superseded' by a newer
   * version, 'rolled-back' when an earlier version is served again.
   */
  async markPublished(version: number, by: string, endpoint: Composition["endpoint"]): Promise<void> {
    await this.transaction(async (tx) => {
      await tx.db.run(`UPDATE compositions SET state = CASE WHEN version > ? THEN 'rolled-back' ELSE 'superseded' END WHERE state = 'published' AND version <> ?`, [version, version]);
      await tx.db.run(`UPDATE compositions SET state = 'published', published_at = ?, published_by = ?, endpoint = ? WHERE version = ?`, [now(), by, json(endpoint), version]);
    });
  }

  async setCompositionState(version: number, state: Composition["state"]): Promise<void> {
    await this.db.run(`UPDATE compositions SET state = ? WHERE version = ?`, [state, version]);
  }

  // --- settings ---

  async getSetting<T>(key: string): Promise<T | undefined> {
    const [row] = await this.db.query(`SELECT value FROM settings WHERE key = ?`, [key]);
    return row && parse<T>(row.value);
  }

  async putSetting(key: string, value: unknown): Promise<void> {
    await this.db.run(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [key, json(value)]);
  }

  // --- audit ---

  async audit(actor: string, action: string, target: string, detail: Record<string, unknown> = {}): Promise<AuditEntry> {
    const entry: AuditEntry = { id: await this.next("audit"), at: now(), actor, action, target, detail };
    await this.db.run(`INSERT INTO audit (id, at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)`, [entry.id, entry.at, actor, action, target, json(detail)]);
    return entry;
  }

  async listAudit(filter: AuditFilter): Promise<{ total: number; rows: AuditEntry[] }> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    for (const key of ["actor", "action", "target"] as const) {
      const value = filter[key];
      if (value === undefined) continue;
      where.push(`${key} = ?`);
      params.push(value);
    }
    const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
    const [count] = await this.db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM audit ${clause}`, params);
    const rows = await this.db.query(`SELECT * FROM audit ${clause} ORDER BY id DESC LIMIT ? OFFSET ?`, [...params, filter.limit, filter.offset]);
    return {
      total: Number(count.n),
      rows: rows.map((r) => ({ id: Number(r.id), at: String(r.at), actor: String(r.actor), action: String(r.action), target: String(r.target), detail: parse(r.detail) })),
    };
  }
}
