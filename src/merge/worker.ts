/** Worker thread: runs merge methods on tensors posted by the pool (see pool.ts). */
import { parentPort } from "node:worker_threads";
import { runMethod, type MethodJob } from "./run-method.js";

parentPort?.on("message", (msg: { id: number; job: MethodJob }) => {
  try {
    const out = runMethod(msg.job);
    parentPort!.postMessage({ id: msg.id, out }, [out.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: (e as Error).message, name: (e as Error).name });
  }
});
