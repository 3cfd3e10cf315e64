/** `cogen hub`: hub.yml, and `cogen hub contribute` against a running hub (SQLite). */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors.js";
import { createContributor, startHub, type StartedHub } from "../../src/hub/api/server.js";
import { ensureMaintainer } from "../../src/hub/bootstrap.js";
import { parseHubConfig } from "../../src/hub/config.js";
import { capture } from "../cli/capture.js";

const ZOO_GGUF = path.resolve(import.meta.dirname, "../../zoo/a/base/model.gguf");

describe("hub.yml", () => {
  it("resolves relative paths against the file's folder and fills the defaults", () => {
    const config = parseHubConfig("store: ./db/hub.db\nartefact_root: ../models\nmax_upload: 500MiB\nport: 9000\n", "/srv/hub/hub.yml");
    expect(config.store).toBe(path.resolve("/srv/hub/db/hub.db"));
    expect(config.artefactRoot).toBe(path.resolve("/srv/models"));
    expect(config.dataDir).toBe(path.resolve("/srv/hub/hub-data"));
    expect(config.maxUploadBytes).toBe(500 * 1024 ** 2);
    expect(config).toMatchObject({ host: "127.0.0.1", port: 9000, publicReads: true, seed: 1, recheckSample: 16 });
    expect(config.queueUrl).toBeUndefined();
    expect(parseHubConfig("store: postgres://hub@127.0.0.1:5432/hub\n", "/srv/hub.yml").store).toBe("postgres://hub@127.0.0.1:5432/hub");
  });

  it("reports every problem at once", () => {
    const text = "stor: x.db\nport: 70000\nqueue: http://redis\nmax_upload: lots\npublic_reads: yes please\nrecheck_sample: 0\n";
    let error: unknown;
    try {
      parseHubConfig(text, "hub.yml");
    } catch (e) {
      error = e;
    }
    expect(ConfigError.isInstance(error)).toBe(true);
    const problems = (error as ConfigError).problems.join("\n");
    expect(problems).toContain("stor");
    expect(problems).toContain("store");
    expect(problems).toContain("port: an integer from 0 to 65535");
    expect(problems).toContain("queue: a redis:// URL");
    expect(problems).toContain("max_upload: 'lots' is not a size");
    expect(problems).toContain("public_reads: true or false");
    expect(problems).toContain("recheck_sample");
    expect((error as ConfigError).problems.length).toBe(6);
  });
});

describe("cogen hub contribute", () => {
  let dir: string;
  let hub: StartedHub;
  let alice: string;
  let bob: string;
  const saved = process.env.COGEN_HUB_KEY;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "cogen-hub-cli-"));
    hub = await startHub({ store: path.join(dir, "hub.db"), dataDir: path.join(dir, "data"), port: 0, maxUploadBytes: 4 * 1024 * 1024 });
    const first = await ensureMaintainer(hub.store, path.join(dir, "data"));
    expect(first.created).toBe(true);
    expect((await ensureMaintainer(hub.store, path.join(dir, "data"))).created).toBe(false);
    alice = await createContributor(hub.store, { id: "alice", name: "Alice", role: "contributor" }, "admin");
    bob = await createContributor(hub.store, { id: "bob", name: "Bob", role: "contributor" }, "admin");
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.COGEN_HUB_KEY;
    else process.env.COGEN_HUB_KEY = saved;
    await hub?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const contribute = (key: string, ...flags: string[]) => {
    process.env.COGEN_HUB_KEY = key;
    return capture(["hub", "contribute", "--hub", hub.url, "--family", "family-a", "--licence", "apache-2.0", ...flags]);
  };

  it("uploads a GGUF (hash checked), registers it under the key's contributor, and updates it as a new revision", async () => {
    const first = await contribute(alice, "--id", "alice-med", "--domains", "medicine, law", "--description", "first", "--gguf", ZOO_GGUF, "--self-evaluated", "--json");
    expect(first.err).not.toContain("cogen hub:");
    expect(first.code).toBe(0);
    const card = JSON.parse(first.out.slice(first.out.indexOf("{")));
    expect(card).toMatchObject({ id: "alice-med", owner: "alice", domains: ["law", "medicine"], revision: 1, evaluation: "submitted" });
    expect(card.artefact).toMatchObject({ kind: "gguf", origin: "upload", sha256: createHash("sha256").update(readFileSync(ZOO_GGUF)).digest("hex") });
    const again = await contribute(alice, "--id", "alice-med", "--domains", "medicine", "--description", "second", "--gguf", ZOO_GGUF, "--self-evaluated", "--update");
    expect(again.code).toBe(0);
    expect(again.out).toContain("alice-med revision 2 registered by alice");
    const stored = await hub.store.getExpert("alice-med");
    expect(stored?.card.description).toBe("second");
    const audit = await hub.store.listAudit({ actor: "alice", limit: 50, offset: 0 });
    expect(audit.rows.map((r) => r.action)).toEqual(expect.arrayContaining(["artefact.upload", "expert.register", "expert.update"]));
  });

  it("refuses another contributor's expert, and registering an existing id without --update, changing nothing", async () => {
    const before = JSON.stringify(await hub.store.getExpert("alice-med"));
    const hijack = await contribute(bob, "--id", "alice-med", "--domains", "law", "--description", "mine now", "--gguf", ZOO_GGUF, "--update");
    expect(hijack.code).toBe(1);
    expect(hijack.err).toContain("403 forbidden");
    expect(hijack.err).toContain("belongs to 'alice'");
    const duplicate = await contribute(alice, "--id", "alice-med", "--domains", "law", "--description", "again", "--gguf", ZOO_GGUF);
    expect(duplicate.code).toBe(1);
    expect(duplicate.err).toContain("409");
    expect(JSON.stringify(await hub.store.getExpert("alice-med"))).toBe(before);
  });

  it("names every flag problem at once, and never takes the key from the command line", async () => {
    delete process.env.COGEN_HUB_KEY;
    const result = await capture(["hub", "contribute", "--id", "x", "--gguf", "a.gguf", "--endpoint", "http://127.0.0.1:1/v1", "--evidence", "r.jsonl"]);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^cogen hub contribute: /);
    for (const expected of ["--hub is required", "--family is required", "--domains is required", "--licence is required", "--description is required", "exactly one of --gguf, --lora, --path or --endpoint", "--evidence and --suite go together", "COGEN_HUB_KEY"]) {
      expect(result.err).toContain(expected);
    }
    expect((await capture(["hub", "contribute", "--key", "secret"])).err).toContain("unknown option '--key'");
  });

  it("says which key was refused, and which evidence line is malformed before registering anything more", async () => {
    const wrong = await contribute(alice.slice(0, -4) + "AAAA", "--id", "x1", "--domains", "law", "--description", "d", "--endpoint", "http://127.0.0.1:9/v1");
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain("401");
    expect(await hub.store.getExpert("x1")).toBeUndefined();
    const evidence = path.join(dir, "results.jsonl");
    writeFileSync(evidence, '{"item": "q1", "score": 1}\n{"item": "q2"}\n');
    const bad = await contribute(alice, "--id", "x2", "--domains", "law", "--description", "d", "--endpoint", "http://127.0.0.1:9/v1", "--self-evaluated", "--evidence", evidence, "--suite", "s1");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(`${evidence}:2`);
    expect(await hub.store.getExpert("x2")).toBeUndefined();
  });

  it("says so when nothing listens at the hub's URL", async () => {
    process.env.COGEN_HUB_KEY = alice;
    const nothing = await capture(["hub", "contribute", "--hub", "http://127.0.0.1:9", "--id", "x3", "--family", "f", "--domains", "law", "--licence", "l", "--description", "d", "--endpoint", "http://127.0.0.1:9/v1"]);
    expect(nothing.code).toBe(1);
    expect(nothing.err).toContain("cannot reach the hub");
  });
});

describe("cogen hub --config (a process)", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "cogen-hub-serve-"));
    writeFileSync(path.join(dir, "hub.yml"), "store: ./hub.db\ndata_dir: ./data\nport: 0\n");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Start the CLI, wait for its JSON line, and hand back the summary and a stop that resolves to the exit code. */
  const start = async () => {
    const child = spawn(process.execPath, ["--import", "tsx", path.resolve("src/cli/main.ts"), "hub", "--config", path.join(dir, "hub.yml"), "--json", "--quiet"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stderr.on("data", (chunk) => (err += chunk));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const summary = await new Promise<Record<string, unknown>>((resolve, reject) => {
      child.stdout.on("data", (chunk) => {
        out += chunk;
        const end = out.indexOf("\n}\n");
        if (end >= 0) resolve(JSON.parse(out.slice(out.indexOf("{"), end + 2)));
      });
      void exited.then((code) => reject(new Error(`exited ${code} before listening: ${err}`)));
    });
    return { summary, stop: () => (child.kill("SIGTERM"), exited) };
  };

  it("creates the first maintainer once, serves the API, the page and /v1, and stops cleanly on SIGTERM", async () => {
    const first = await start();
    const keyFile = path.join(dir, "data", "admin.key");
    expect(first.summary).toMatchObject({ store: "sqlite", maintainerKeyFile: keyFile, gateway: `${first.summary.url}/v1`, composition: null });
    expect(statSync(keyFile).mode & 0o077).toBe(0);
    const key = readFileSync(keyFile, "utf8").trim();
    const created = await fetch(`${first.summary.url}/api/contributors`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ id: "carol", name: "Carol", role: "contributor" }) });
    expect(created.status).toBe(201);
    expect((await fetch(`${first.summary.url}/hub/`)).status).toBe(200);
    expect((await fetch(`${first.summary.url}/v1/models`)).status).toBe(200);
    expect(await first.stop()).toBe(0);
    const second = await start();
    expect(second.summary.maintainerKeyFile).toBeNull();
    expect(await second.stop()).toBe(0);
  }, 120_000);
});
