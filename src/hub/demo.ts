/**
 * `cogen hub --demo`: a hub on embedded SQLite with the zoo's experts registered as
 * contributions from several contributors (by reference, under the zoo folder as the artefact
 * root), a suite of the zoo's held-out items, every expert evaluated by the loop, the rankings
 * fitted and a composition published.
 */
import { promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ConfigError } from "../core/errors.js";
import { packageRoot } from "../core/package-root.js";
import type { Progress } from "../core/progress.js";
import { readModelsFile } from "../formats/models-file.js";
import { formatTaskLine, readTasksFile, type TaskItem } from "../formats/tasks.js";
import { readZooManifest } from "../zoo/build/manifest.js";
import { createContributor, startHub, type StartedHub } from "./api/server.js";
import { ensureMaintainer } from "./bootstrap.js";
import type { LoopEvent } from "./loop.js";

export interface HubDemoOptions {
  /** Where the database and files go (default: a new temporary folder). */
  dir?: string;
  /** The zoo folder (default: the package's zoo/). */
  zooDir?: string;
  host?: string;
  port?: number;
  /** Held-out items per domain and item kind in the demo's suite (default 2). */
  perDomain?: number;
  /** Only these zoo experts (default: all). */
  experts?: string[];
  /** Serve the published composition on the hub's /v1 (default true). */
  serve?: boolean;
  progress?: Progress;
  onEvent?: (event: LoopEvent) => void;
}

export interface HubDemo {
  hub: StartedHub;
  dir: string;
  /** Contributor id → API key (also in <dir>/keys.json, mode 0600). */
  keys: Record<string, string>;
  experts: string[];
}

/** Which demo contributor owns a zoo expert: institutions by domain group, the base models' lab. */
const CONTRIBUTORS: { id: string; name: string; owns: (id: string, tags: string[]) => boolean }[] = [
  { id: "lab-foundation", name: "Foundation lab (base models)", owns: (_id, tags) => tags.includes("base") },
  { id: "health-law-institute", name: "Health & law institute", owns: (id) => /medicine|law|biology|chemistry/.test(id) },
  { id: "finance-tech-coop", name: "Finance & technology co-op", owns: () => true },
];

function limitPerDomain(items: readonly TaskItem[], perDomain: number): TaskItem[] {
  const seen = new Map<string, number>();
  return items.filter((item) => {
    const n = seen.get(item.domain) ?? 0;
    seen.set(item.domain, n + 1);
    return n < perDomain;
  });
}

export async function runHubDemo(options: HubDemoOptions = {}): Promise<HubDemo> {
  const zooDir = path.resolve(options.zooDir ?? path.join(packageRoot(), "zoo"));
  const manifest = await readZooManifest(zooDir);
  const dir = path.resolve(options.dir ?? (await fs.mkdtemp(path.join(tmpdir(), "cogen-hub-demo-"))));
  await fs.mkdir(dir, { recursive: true });
  const perDomain = options.perDomain ?? 2;
  const specs = (await readModelsFile(path.join(zooDir, manifest.modelsFile))).filter((e) => !options.experts || options.experts.includes(e.id));
  if (specs.length === 0) throw new ConfigError([`no zoo experts match ${JSON.stringify(options.experts)}`]);
  const hub = await startHub({ store: path.join(dir, "hub.db"), dataDir: path.join(dir, "data"), artefactRoot: zooDir, host: options.host, port: options.port ?? 0, seed: 1, serve: options.serve ?? true, onEvent: options.onEvent });
  try {
    await ensureMaintainer(hub.store, path.join(dir, "data"));
    const keys: Record<string, string> = {};
    const admin = await createContributor(hub.store, { id: "demo-maintainer", name: "Demo maintainer", role: "maintainer" });
    keys["demo-maintainer"] = admin;
    for (const c of CONTRIBUTORS) keys[c.id] = await createContributor(hub.store, { id: c.id, name: c.name, role: "contributor" }, "demo-maintainer");
    await fs.writeFile(path.join(dir, "keys.json"), JSON.stringify(keys, null, 2) + "\n", { mode: 0o600 });

    const call = async (method: "POST" | "PUT", url: string, key: string, body: unknown) => {
      const response = await hub.app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, payload: body as object });
      if (response.statusCode >= 300) throw new ConfigError([`${method} ${url}: ${response.body}`], "hub demo");
      return JSON.parse(response.body) as unknown;
    };
    // The suite: held-out items of every kind the zoo evaluates, a few per domain.
    const items: TaskItem[] = [];
    for (const kind of ["bitsPerByte", "continuation"] as const) {
      const entry = manifest.items[kind];
      if (entry) items.push(...limitPerDomain(await readTasksFile(path.join(zooDir, entry.file)), perDomain));
    }
    await call("POST", "/api/suites", admin, {
      id: "zoo-heldout",
      provenance: `cogen zoo (${path.relative(packageRoot(), zooDir) || "zoo"}/manifest.json): held-out bits-per-byte and continuation items, ${perDomain} per domain and kind`,
      licence: "same as the zoo's corpora",
      tasks: items.map(formatTaskLine).join("\n") + "\n",
    });
    options.progress?.start("evaluating experts", specs.length, "experts");
    let done = 0;
    // Each registration enqueues the expert's evaluation in the hub's loop.
    for (const spec of specs) {
      const owner = CONTRIBUTORS.find((c) => c.owns(spec.id, spec.tags))!.id;
      const family = spec.tags.find((t) => t.startsWith("family-")) ?? "zoo";
      await call("POST", "/api/experts", keys[owner], {
        id: spec.id,
        family,
        base: spec.tags.includes("base") ? null : `${family.replace("family-", "")}-base`,
        domains: spec.domains.length ? spec.domains : ["general"],
        licence: "apache-2.0",
        card: { description: `${spec.id}: a tiny ${family} model from cogen's zoo`, training: "trained by `cogen zoo build` on the zoo's corpora", intendedUse: "demonstrating the hub" },
        artefact: { kind: "gguf", path: path.relative(zooDir, spec.path!) },
      });
    }
    // Wait for the loop, ticking as experts finish.
    while (hub.loop.waiting + hub.loop.active > 0) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const finished = specs.length - hub.loop.waiting - hub.loop.active;
      if (finished > done) {
        options.progress?.tick(finished - done);
        done = finished;
      }
    }
    await hub.loop.idle();
    options.progress?.done();
    return { hub, dir, keys, experts: specs.map((s) => s.id) };
  } catch (error) {
    await hub.close();
    throw error;
  }
}
