/** The CLI's wait for a queue's Redis: a line per failed attempt, or an error after `timeoutSeconds`. */
import { redisConnection } from "../eval/jobs/bullmq.js";
import { waitForRedis } from "../eval/jobs/reachable.js";

export async function reachQueue(verb: string, url: string, timeoutSeconds?: number): Promise<void> {
  const { host, port } = redisConnection(url) as { host: string; port: number };
  let retried = false;
  await waitForRedis(host, port, {
    timeoutMs: timeoutSeconds === undefined ? undefined : timeoutSeconds * 1000,
    onRetry: (problem, delayMs) => {
      retried = true;
      console.error(`cogen ${verb}: cannot reach Redis at ${host}:${port} (${problem}); retrying in ${Number((delayMs / 1000).toFixed(1))} s`);
    },
  });
  if (retried) console.error(`cogen ${verb}: reached Redis at ${host}:${port}`);
}
