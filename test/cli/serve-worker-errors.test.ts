/**
 * Start-up failures a user can fix get one line and exit 1, never a stack trace: `cogen serve` on
 * a busy or invalid port, `cogen worker` when Redis cannot be reached (`--connect-timeout`); without
 * the flag the wait for Redis says at once what is wrong and retries visibly with a growing wait.
 */
import { promises as fs } from "node:fs";
import { createServer, type Server } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { BackendError } from "../../src/core/errors.js";
import { waitForRedis } from "../../src/eval/jobs/reachable.js";
import { capture } from "./capture.js";

const zooModel = fileURLToPath(new URL("../../zoo/a/base/model.gguf", import.meta.url));

let dir: string | undefined;
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  if (dir) await fs.rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A TCP listener on a free loopback port (or on `port`). */
async function listen(port = 0): Promise<number> {
  const server = createServer((socket) => socket.destroy());
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return (server.address() as { port: number }).port;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const port = await listen();
  await new Promise((resolve) => servers.pop()!.close(resolve));
  return port;
}

async function config(model = zooModel): Promise<string> {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-serve-"));
  const file = path.join(dir, "unified.yml");
  await fs.writeFile(file, `experts:\n  - { id: base, backend: llamacpp, path: ${JSON.stringify(model)}, context_size: 64, threads: 1 }\n`);
  return file;
}

const oneLine = (text: string) => text.trim().split("\n");

describe("cogen serve start-up errors", () => {
  it("a busy port is one clear line and exit 1", async () => {
    const busy = await listen();
    const { code, err } = await capture(["serve", "--config", await config(), "--port", String(busy)]);
    expect(code).toBe(1);
    expect(oneLine(err)).toEqual([`cogen serve: port ${busy} is already in use on 127.0.0.1 (another server, perhaps another cogen serve): stop it or choose another with --port`]);
  });

  it("a bind it cannot make is refused before any model loads", async () => {
    // The expert's file is missing: reaching the models would fail with that instead.
    const missing = await config(path.join(os.tmpdir(), "cogen-no-such-dir", "model.gguf"));
    const busy = await listen();
    const inUse = await capture(["serve", "--config", missing, "--port", String(busy)]);
    expect(inUse.code).toBe(1);
    expect(oneLine(inUse.err)).toEqual([`cogen serve: port ${busy} is already in use on 127.0.0.1 (another server, perhaps another cogen serve): stop it or choose another with --port`]);
    const open = await capture(["serve", "--config", missing, "--host", "0.0.0.0", "--port", "0", "--api-key-env", "COGEN_TEST_NO_SUCH_KEYS"]);
    expect(open.code).toBe(1);
    expect(oneLine(open.err)).toEqual(["cogen serve: binding 0.0.0.0 exposes the gateway beyond this machine: set API keys (COGEN_API_KEYS or --api-key-env)"]);
    // A free port and a loopback host get as far as the models, which name what is wrong.
    const free = await capture(["serve", "--config", missing, "--port", "0"]);
    expect(free.code).toBe(1);
    expect(free.err).toMatch(/cogen-no-such-dir/);
  });

  it("an invalid port is refused before any model loads", async () => {
    const file = await config();
    for (const port of ["70000", "-1", "http"]) {
      const { code, err } = await capture(["serve", "--config", file, `--port=${port}`]);
      // A wrong command line: exit 2, the message and the pointer to --help (cogen's one convention).
      expect(code).toBe(2);
      const lines = oneLine(err);
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^cogen serve: .*--port/);
      expect(lines[1]).toBe("Run 'cogen serve --help' for usage.");
      expect(err).not.toMatch(/ERR_SOCKET_BAD_PORT|\n\s+at /);
    }
  });
});

describe("cogen worker --jobs", () => {
  it("names an unknown job kind before trying to reach Redis", async () => {
    const port = await closedPort();
    const { code, err } = await capture(["worker", "--queue", `redis://127.0.0.1:${port}`, "--jobs", "eval,evolv"]);
    expect(code).toBe(2);
    expect(err).toMatch(/--jobs takes a comma-separated list of eval, targets, evolve; got 'eval,evolv'/);
    expect(err).not.toMatch(/cannot reach Redis/);
  });
});

describe("cogen worker and an unreachable Redis", () => {
  it("exits 1 with one line under --connect-timeout", async () => {
    const port = await closedPort();
    const { code, err } = await capture(["worker", "--queue", `redis://127.0.0.1:${port}`, "--connect-timeout", "0"]);
    expect(code).toBe(1);
    expect(oneLine(err)).toEqual([
      `cogen worker: redis://127.0.0.1:${port}: cannot reach Redis (ECONNREFUSED) after 0 s: is redis-server running there? Start it, or fix the --queue URL`,
    ]);
  });

  it("says at once that it cannot reach Redis and that it retries, before giving up under --connect-timeout", async () => {
    const port = await closedPort();
    const { code, err } = await capture(["worker", "--queue", `redis://127.0.0.1:${port}`, "--connect-timeout", "3"]);
    expect(code).toBe(1);
    const lines = oneLine(err);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toBe(`cogen worker: cannot reach Redis at 127.0.0.1:${port} (ECONNREFUSED); retrying in 1 s`);
    for (const line of lines.slice(1, -1)) expect(line).toMatch(new RegExp(`^cogen worker: cannot reach Redis at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); retrying in [\\d.]+ s$`));
    expect(lines.at(-1)).toMatch(new RegExp(`^cogen worker: redis://127\\.0\\.0\\.1:${port}: cannot reach Redis \\(ECONNREFUSED\\) after \\d+ s: is redis-server running there\\?`));
  });

  it("says why at once and retries with a growing wait until Redis answers", async () => {
    const port = await closedPort();
    const retries: [string, number][] = [];
    await waitForRedis("127.0.0.1", port, {
      initialDelayMs: 5,
      maxDelayMs: 20,
      onRetry: (problem, delayMs) => {
        retries.push([problem, delayMs]);
        // Redis comes up during the fourth wait.
        if (retries.length === 4) void listen(port);
      },
    });
    expect(retries).toEqual([["ECONNREFUSED", 5], ["ECONNREFUSED", 10], ["ECONNREFUSED", 20], ["ECONNREFUSED", 20]]);
  });

  it("gives up with a BackendError after its timeout", async () => {
    const port = await closedPort();
    const retries: number[] = [];
    await expect(waitForRedis("127.0.0.1", port, { timeoutMs: 30, initialDelayMs: 5, onRetry: (_p, ms) => retries.push(ms) })).rejects.toThrow(BackendError);
    expect(retries.length).toBeGreaterThan(0);
  });
});

describe("every command that hands work to workers, and an unreachable Redis", () => {
  it("eval, unify and distill targets exit 1 with one line under --connect-timeout, after checking their files", async () => {
    const models = await config();
    const tasks = path.join(dir!, "tasks.jsonl");
    await fs.writeFile(tasks, JSON.stringify({ id: "t0", domain: "d", text: "The court ruled for the tenant." }) + "\n");
    const corpus = path.join(dir!, "texts.txt");
    await fs.writeFile(corpus, "The court ruled for the tenant.\n");
    const port = await closedPort();
    const url = `redis://127.0.0.1:${port}`;
    const out = path.join(dir!, "out");
    const runs: [string, string[]][] = [
      ["eval", ["eval", "--models", models, "--tasks", tasks, "--out", out]],
      ["unify", ["unify", "--models", models, "--tasks", tasks, out]],
      ["distill", ["distill", "targets", "--sources", models, "--corpus", corpus, "--out", out]],
    ];
    for (const [verb, argv] of runs) {
      const { code, err } = await capture([...argv, "--queue", url, "--connect-timeout", "0"]);
      expect(code, verb).toBe(1);
      expect(oneLine(err), verb).toEqual([
        `cogen ${verb}: ${url}: cannot reach Redis (ECONNREFUSED) after 0 s: is redis-server running there? Start it, or fix the --queue URL`,
      ]);
    }
    await expect(fs.stat(out)).rejects.toThrow(/ENOENT/);
  });

  it("--connect-timeout is checked with the other flags: a number ≥ 0, and only with --queue", async () => {
    const bad = await capture(["adapt", "evolve", "OUT", "--config", "c.yml", "--objective", "o.jsonl", "--queue", "http://x", "--connect-timeout=-1"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--connect-timeout: expected a number ≥ 0, got '-1'/);
    expect(bad.err).toMatch(/--queue must be a redis:\/\/HOST:PORT URL, got 'http:\/\/x'/);
    const alone = await capture(["eval", "--models", "m.yml", "--tasks", "t.jsonl", "--out", "o", "--connect-timeout", "5"]);
    expect(alone.code).toBe(2);
    expect(alone.err).toMatch(/--connect-timeout needs --queue/);
  });
});
