/**
 * The multi-user store: PostgreSQL through pg (the only module that imports it). Queries arrive
 * with `?` placeholders and are numbered `$1…` here. The pool replaces connections that break,
 * so after the server restarts the next query reconnects; a query that finds the server down
 * fails with StoreUnavailableError, which callers may retry.
 */
import pg from "pg";
import { ConfigError } from "../../core/errors.js";
import { StoreUnavailableError, type Row, type SqlDb, type SqlValue } from "./db.js";

/** int8 (counts, byte sizes, ids) as a JS number: the hub's values stay far below 2^53. */
const INT8_OID = 20;
const types = {
  getTypeParser: (oid: number, format?: string) =>
    oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as "text"),
};

/** Error codes of a server that is down, restarting or unreachable. */
const UNAVAILABLE = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004"]);

function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function translate(error: unknown): never {
  const code = (error as { code?: string }).code;
  const message = (error as Error).message ?? String(error);
  if ((code !== undefined && UNAVAILABLE.has(code)) || /Connection terminated|connection closed|Client has encountered a connection error/i.test(message)) {
    throw new StoreUnavailableError(message);
  }
  throw error;
}

type Queryable = Pick<pg.Pool, "query"> | pg.PoolClient;

class PostgresDb implements SqlDb {
  readonly dialect = "postgres" as const;
  constructor(private readonly pool: pg.Pool, private readonly client?: pg.PoolClient) {}

  private get target(): Queryable {
    return this.client ?? this.pool;
  }

  async query<T extends Row = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    try {
      return (await this.target.query({ text: numbered(sql), values: params as SqlValue[], types })).rows as T[];
    } catch (error) {
      return translate(error);
    }
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    try {
      return (await this.target.query({ text: numbered(sql), values: params as SqlValue[], types })).rowCount ?? 0;
    } catch (error) {
      return translate(error);
    }
  }

  async transaction<T>(work: (tx: SqlDb) => Promise<T>): Promise<T> {
    if (this.client) return work(this);
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      return translate(error);
    }
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const result = await work(new PostgresDb(this.pool, client));
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch((rollbackError: Error) => (broken = rollbackError));
      return translate(error);
    } finally {
      client.release(broken);
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/** Connect to `postgres://user[:password]@host:port/db`. */
export async function openPostgresDb(url: string): Promise<SqlDb> {
  if (!/^postgres(ql)?:\/\//.test(url)) throw new ConfigError([`store: expected a postgres:// URL, got '${url}'`]);
  const pool = new pg.Pool({ connectionString: url, max: 8, connectionTimeoutMillis: 5000, idleTimeoutMillis: 10_000 });
  // An idle connection that the server drops (restart) must not crash the process; the pool
  // discards it and opens a new one on the next query.
  pool.on("error", () => {});
  const db = new PostgresDb(pool);
  await db.query("SELECT 1");
  return db;
}
