/** Open the hub's store: SQLite (a file path, the embedded default) or PostgreSQL (a postgres:// URL), migrated. */
import { migrate } from "./migrations.js";
import { openPostgresDb } from "./postgres.js";
import { openSqliteDb } from "./sqlite.js";
import { HubStore } from "./store.js";

export async function openHubStore(location: string): Promise<HubStore> {
  const db = /^postgres(ql)?:\/\//.test(location) ? await openPostgresDb(location) : await openSqliteDb(location);
  try {
    await migrate(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  return new HubStore(db);
}
