/** The two store backends every hub test suite runs against: SQLite in a temp dir, and PostgreSQL when installed. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import pg from "pg";
import { hasPostgres, startPostgres, type PostgresHandle } from "./postgres.js";

export interface Backend {
  name: "sqlite" | "postgres";
  available: boolean;
  /** A fresh, empty database location (file path or URL) for one test. */
  fresh(): Promise<string>;
  /** Stop and start the database server (postgres only). */
  restart?(): Promise<void>;
  stopServer?(): Promise<void>;
  startServer?(): Promise<void>;
  teardown(): Promise<void>;
}

export function sqliteBackend(): Backend {
  const dirs: string[] = [];
  return {
    name: "sqlite",
    available: true,
    async fresh() {
      const dir = mkdtempSync(path.join(tmpdir(), "cogen-hub-sqlite-"));
      dirs.push(dir);
      return path.join(dir, "hub.db");
    },
    async teardown() {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function postgresBackend(): Backend {
  let server: PostgresHandle | undefined;
  let n = 0;
  const backend: Backend = {
    name: "postgres",
    available: hasPostgres,
    async fresh() {
      server ??= await startPostgres();
      const name = `hub_${process.pid}_${++n}`;
      const admin = new pg.Client({ connectionString: server.url });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      return server.url.replace(/\/postgres$/, `/${name}`);
    },
    async stopServer() {
      await server!.stop();
    },
    async startServer() {
      await server!.start();
    },
    async teardown() {
      await server?.destroy();
    },
  };
  return backend;
}
