/**
 * A throwaway PostgreSQL 15 server for tests: initdb in a temp dir, the server on a free
 * loopback port, stopped by its PID. initdb and postgres refuse to run as root, so as root
 * they run as the `postgres` user through setpriv (which execs, keeping the PID ours).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { freePort } from "../free-port.js";
import { tmpdir } from "node:os";
import * as path from "node:path";

const BIN = "/usr/lib/postgresql/15/bin";
export const hasPostgres = existsSync(path.join(BIN, "initdb")) && existsSync(path.join(BIN, "postgres"));
export const NO_POSTGRES_REASON = `PostgreSQL 15 binaries are absent (${BIN}); install Debian's postgresql-15 to run the PostgreSQL half`;

/** Unprivileged user ids to run as when we are root. */
function asUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout.trim());
  return { uid: id("-u"), gid: id("-g") };
}

function command(user: { uid: number; gid: number } | undefined, binary: string, args: string[]): [string, string[]] {
  const full = path.join(BIN, binary);
  return user ? ["setpriv", [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", full, ...args]] : [full, args];
}

export interface PostgresHandle {
  url: string;
  /** Stop the server (fast shutdown) and wait for it to exit; the data dir stays. */
  stop(): Promise<void>;
  /** Start it again on the same port and data dir. */
  start(): Promise<void>;
  /** Stop and delete everything. */
  destroy(): Promise<void>;
}

export async function startPostgres(): Promise<PostgresHandle> {
  const user = asUser();
  const root = mkdtempSync(path.join(tmpdir(), "cogen-pg-"));
  const data = path.join(root, "data");
  if (user) chownSync(root, user.uid, user.gid);
  const [initCmd, initArgs] = command(user, "initdb", ["-D", data, "-A", "trust", "-U", "cogen", "--no-sync", "-E", "UTF8"]);
  const init = spawnSync(initCmd, initArgs, { encoding: "utf8" });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  const port = await freePort();
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const [cmd, args] = command(user, "postgres", ["-D", data, "-p", String(port), "-k", root, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]);
    const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let output = "";
      const timer = setTimeout(() => reject(new Error(`postgres did not start: ${output}`)), 30_000);
      const onData = (chunk: Buffer) => {
        output += chunk;
        if (output.includes("ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.on("data", onData);
      proc.stderr!.on("data", onData);
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`postgres exited with ${code}: ${output}`));
      });
    });
  };
  const stop = (): Promise<void> => new Promise((resolve) => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once("exit", () => resolve());
    proc.kill("SIGINT"); // fast shutdown: disconnect clients, then exit
  });
  await start();
  return {
    url: `postgres://cogen@127.0.0.1:${port}/postgres`,
    stop,
    start,
    destroy: async () => {
      await stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
