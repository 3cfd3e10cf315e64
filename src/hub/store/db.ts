/**
 * The one SQL interface both database drivers implement (sqlite.ts, postgres.ts). Queries are
 * written once, with `?` placeholders and portable SQL; values are always bound, never spliced.
 */
import { CogenError } from "../../core/errors.js";

export type SqlValue = string | number | null;
export type Row = Record<string, SqlValue>;

export interface SqlDb {
  readonly dialect: "sqlite" | "postgres";
  /** Rows of a SELECT (or of a statement with RETURNING). */
  query<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** A statement without rows; resolves to the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /** Run `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: SqlDb) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The database cannot be reached (down, restarting); the operation may be retried. */
export class StoreUnavailableError extends CogenError {
  override readonly name = "StoreUnavailableError";
  constructor(readonly problem: string) {
    super(`the hub's database is unavailable: ${problem}`);
  }
}
