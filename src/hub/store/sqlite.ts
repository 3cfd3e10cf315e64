/**
 * The embedded store: SQLite through better-sqlite3 (the only module that imports it). The
 * driver is synchronous, so transactions hold a lock that other callers wait on: an `await`
 * inside a transaction never lets another request's statements in.
 */
import Database from "better-sqlite3";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { Row, SqlDb, SqlValue } from "./db.js";

class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async lock(): Promise<() => void> {
    let release!: () => void;
    const previous = this.tail;
    this.tail = new Promise((resolve) => (release = resolve));
    await previous;
    return release;
  }
}

class SqliteDb implements SqlDb {
  readonly dialect = "sqlite" as const;
  constructor(
    private readonly db: Database.Database,
    private readonly mutex: Mutex,
    private readonly inTransaction: boolean,
    private readonly statements = new Map<string, Database.Statement>(),
  ) {}

  private prepare(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private async locked<T>(work: () => T): Promise<T> {
    if (this.inTransaction) return work();
    const release = await this.mutex.lock();
    try {
      return work();
    } finally {
      release();
    }
  }

  query<T extends Row = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.locked(() => this.prepare(sql).all(...params) as T[]);
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.locked(() => this.prepare(sql).run(...params).changes);
  }

  async transaction<T>(work: (tx: SqlDb) => Promise<T>): Promise<T> {
    if (this.inTransaction) return work(this);
    const release = await this.mutex.lock();
    const tx = new SqliteDb(this.db, this.mutex, true, this.statements);
    try {
      this.db.exec("BEGIN IMMEDIATE");
      try {
        const result = await work(tx);
        this.db.exec("COMMIT");
        return result;
      } catch (error) {
        this.db.exec("ROLLBACK");
        throw error;
      }
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    const release = await this.mutex.lock();
    try {
      this.db.close();
    } finally {
      release();
    }
  }
}

/** Open (creating if needed) a SQLite database file; ":memory:" for a throwaway one. */
export async function openSqliteDb(file: string): Promise<SqlDb> {
  if (file !== ":memory:") await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  return new SqliteDb(db, new Mutex(), false);
}
