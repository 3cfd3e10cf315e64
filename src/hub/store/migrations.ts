/**
 * The hub's schema: one list of versioned migrations in plain SQL that SQLite and PostgreSQL
 * both accept (TEXT, INTEGER, BIGINT, DOUBLE PRECISION; JSON kept as TEXT; timestamps as
 * ISO-8601 TEXT; ids from the `counters` table rather than dialect-specific auto-increment).
 * A migration is applied once, in order, inside a transaction, and recorded in
 * schema_migrations. Never edit a published migration: append a new one.
 */
import type { SqlDb } from "./db.js";

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "registry",
    statements: [
      `CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)`,
      `CREATE TABLE contributors (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, created_at TEXT NOT NULL)`,
      `CREATE TABLE api_keys (
        id TEXT PRIMARY KEY, contributor_id TEXT NOT NULL REFERENCES contributors(id),
        salt TEXT NOT NULL, hash TEXT NOT NULL, created_at TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)`,
      `CREATE TABLE experts (
        id TEXT PRIMARY KEY, owner TEXT NOT NULL REFERENCES contributors(id), family TEXT NOT NULL, base TEXT,
        licence TEXT NOT NULL, artefact_kind TEXT NOT NULL, artefact_origin TEXT NOT NULL, artefact_path TEXT,
        artefact_sha256 TEXT, artefact_bytes BIGINT, base_expert TEXT, endpoint_url TEXT, endpoint_model TEXT,
        card TEXT NOT NULL, evaluation TEXT NOT NULL, revision INTEGER NOT NULL, state TEXT NOT NULL, flagged INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL)`,
      `CREATE INDEX experts_owner ON experts (owner)`,
      `CREATE TABLE expert_domains (
        expert_id TEXT NOT NULL REFERENCES experts(id), domain TEXT NOT NULL, PRIMARY KEY (expert_id, domain))`,
      `CREATE INDEX expert_domains_domain ON expert_domains (domain)`,
      `CREATE TABLE suites (
        id TEXT PRIMARY KEY, domains TEXT NOT NULL, items INTEGER NOT NULL, sha256 TEXT NOT NULL,
        provenance TEXT NOT NULL, licence TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL)`,
      `CREATE TABLE suite_items (
        suite_id TEXT NOT NULL REFERENCES suites(id), item_id TEXT NOT NULL, domain TEXT NOT NULL,
        position INTEGER NOT NULL, task TEXT NOT NULL, PRIMARY KEY (suite_id, item_id))`,
      `CREATE TABLE evidence (
        expert_id TEXT NOT NULL, revision INTEGER NOT NULL, suite_id TEXT NOT NULL, item_id TEXT NOT NULL,
        source TEXT NOT NULL, producer TEXT NOT NULL, domain TEXT NOT NULL, score DOUBLE PRECISION NOT NULL,
        record TEXT NOT NULL, created_at TEXT NOT NULL,
        PRIMARY KEY (expert_id, revision, suite_id, item_id, source))`,
      `CREATE INDEX evidence_domain ON evidence (domain)`,
      `CREATE TABLE eval_tasks (
        expert_id TEXT NOT NULL, revision INTEGER NOT NULL, suite_id TEXT NOT NULL, kind TEXT NOT NULL,
        state TEXT NOT NULL, error TEXT, updated_at TEXT NOT NULL,
        PRIMARY KEY (expert_id, revision, suite_id, kind))`,
      `CREATE TABLE checks (
        expert_id TEXT NOT NULL, revision INTEGER NOT NULL, suite_id TEXT NOT NULL, domain TEXT NOT NULL,
        sampled INTEGER NOT NULL, submitted_mean DOUBLE PRECISION NOT NULL, submitted_se DOUBLE PRECISION NOT NULL,
        rerun_mean DOUBLE PRECISION NOT NULL, rerun_se DOUBLE PRECISION NOT NULL, disagrees INTEGER NOT NULL,
        seed BIGINT NOT NULL, checked_at TEXT NOT NULL, PRIMARY KEY (expert_id, revision, suite_id, domain))`,
      `CREATE TABLE leaderboards (
        domain TEXT NOT NULL, version INTEGER NOT NULL, fitted_at TEXT NOT NULL, reason TEXT NOT NULL,
        body TEXT NOT NULL, PRIMARY KEY (domain, version))`,
      `CREATE TABLE compositions (
        version INTEGER PRIMARY KEY, policy TEXT NOT NULL, built_from TEXT NOT NULL, experts TEXT NOT NULL,
        served TEXT NOT NULL, config TEXT NOT NULL, state TEXT NOT NULL, created_at TEXT NOT NULL,
        published_at TEXT, published_by TEXT, endpoint TEXT)`,
      `CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
      `CREATE TABLE audit (
        id BIGINT PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        target TEXT NOT NULL, detail TEXT NOT NULL)`,
      `CREATE INDEX audit_actor ON audit (actor)`,
    ],
  },
  {
    version: 2,
    name: "derived experts",
    // A model built from other experts (a MoE, a distilled pivot): what prefer-derived policies look for.
    statements: [`ALTER TABLE experts ADD COLUMN derived TEXT`],
  },
  {
    version: 3,
    name: "composition routing",
    // Domain → the experts serving it, as the policy decided (expert cards say where each is routed).
    statements: [`ALTER TABLE compositions ADD COLUMN routing TEXT`],
  },
];

/** Apply every migration not yet applied; returns the versions applied now. */
export async function migrate(db: SqlDb, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  await db.run(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const applied = new Set((await db.query<{ version: number }>(`SELECT version FROM schema_migrations`)).map((r) => r.version));
  const done: number[] = [];
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(migration.version)) continue;
    await db.transaction(async (tx) => {
      // Another hub process may have applied it since we looked: the primary key decides.
      const claimed = await tx.run(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?) ON CONFLICT (version) DO NOTHING`, [migration.version, migration.name, new Date().toISOString()]);
      if (claimed === 0) return;
      for (const statement of migration.statements) await tx.run(statement);
      done.push(migration.version);
    });
  }
  return done;
}
