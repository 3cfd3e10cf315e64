/** Worker thread: runs merge methods on tensors posted by the pool (see pool.ts). */
import { parentPort } from "node:worker_threads";
import { mergeStoredChunks, type ChunkJob } from "./chunked.js";
import { runMethod, type MethodJob } from "./run-method.js";

type Message = { id: number } & ({ kind: "method"; job: MethodJob } | { kind: "chunks"; job: ChunkJob });

parentPort?.on("message", (msg: Message) => {
  try {
    if (msg.kind === "chunks") {
      const result = mergeStoredChunks(msg.job);
      // The inputs' buffers go back with the result, for the engine to reuse.
      const raws = msg.job.raws;
      const buffers = new Set([...raws, ...("out" in result ? [result.out] : [])].map((a) => a.buffer as ArrayBuffer));
      parentPort!.postMessage({ id: msg.id, out: { result, raws } }, [...buffers]);
    } else {
      const out = runMethod(msg.job);
      parentPort!.postMessage({ id: msg.id, out }, [out.buffer as ArrayBuffer]);
    }
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: (e as Error).message, name: (e as Error).name });
  }
});
