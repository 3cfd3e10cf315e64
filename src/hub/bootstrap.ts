/**
 * A new hub's first maintainer: created when the store has none, its key written once to
 * `<dataDir>/admin.key` (mode 0600) — never printed, never stored in plain text elsewhere.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { createContributor } from "./api/server.js";
import type { HubStore } from "./store/store.js";

export async function ensureMaintainer(store: HubStore, dataDir: string): Promise<{ created: boolean; keyFile: string }> {
  const keyFile = path.join(dataDir, "admin.key");
  if (await store.getContributor("admin")) return { created: false, keyFile };
  const key = await createContributor(store, { id: "admin", name: "Hub maintainer", role: "maintainer" });
  await fs.mkdir(dataDir, { recursive: true });
  await fs.writeFile(keyFile, key + "\n", { mode: 0o600 });
  return { created: true, keyFile };
}
