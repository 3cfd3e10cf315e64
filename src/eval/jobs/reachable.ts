/**
 * Whether the Redis server of a queue URL can be reached, checked before BullMQ starts (BullMQ
 * itself waits for Redis without a word). A TCP connection is enough to tell "nothing listens
 * there" from "Redis is up"; authentication and TLS are BullMQ's to negotiate afterwards.
 */
import { connect } from "node:net";
import { BackendError } from "../../core/errors.js";

export interface WaitForRedisOptions {
  /** Give up after this many milliseconds (default: never; keep retrying). */
  timeoutMs?: number;
  /** First wait between attempts (default 1000 ms); each later wait doubles, up to `maxDelayMs`. */
  initialDelayMs?: number;
  /** Longest wait between attempts (default 30 000 ms). */
  maxDelayMs?: number;
  /** Each failed attempt: why, and how long until the next one (none when giving up). */
  onRetry?: (problem: string, delayMs: number) => void;
  /** One TCP attempt's limit (default 5000 ms). */
  attemptTimeoutMs?: number;
}

/** Resolves once host:port accepts a connection; with `timeoutMs`, a BackendError after that long. */
export async function waitForRedis(host: string, port: number, options: WaitForRedisOptions = {}): Promise<void> {
  const started = Date.now();
  let delay = options.initialDelayMs ?? 1000;
  for (;;) {
    const problem = await tryConnect(host, port, options.attemptTimeoutMs ?? 5000);
    if (problem === undefined) return;
    const left = options.timeoutMs === undefined ? Infinity : options.timeoutMs - (Date.now() - started);
    if (left <= 0) {
      throw new BackendError(`redis://${host}:${port}`, `cannot reach Redis (${problem}) after ${Math.round((Date.now() - started) / 1000)} s: ` +
        `is redis-server running there? Start it, or fix the --queue URL`);
    }
    const wait = Math.min(delay, left);
    options.onRetry?.(problem, wait);
    await new Promise((resolve) => setTimeout(resolve, wait));
    delay = Math.min(delay * 2, options.maxDelayMs ?? 30_000);
  }
}

/** undefined when host:port accepts a TCP connection, else the reason (ECONNREFUSED, a timeout). */
function tryConnect(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const finish = (problem: string | undefined) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(timeoutMs, () => finish(`no answer within ${timeoutMs} ms`));
    socket.once("connect", () => finish(undefined));
    socket.once("error", (error: NodeJS.ErrnoException) => finish(error.code ?? error.message));
  });
}
