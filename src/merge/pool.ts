/**
 * A small pool of worker threads running merge methods. Inputs are transferred, not copied.
 * Works from compiled .js and from .ts under tsx (the worker is then started with tsx's loader).
 */
import type { Worker } from "node:worker_threads";
import { startModuleWorker } from "../core/module-worker.js";
import { MethodError } from "./methods/types.js";
import { runMethod, type MethodJob } from "./run-method.js";
import { mergeStoredChunks, type ChunkJob, type ChunkResult } from "./chunked.js";

/** A chunk job's result, and its inputs' arrays for reuse (a worker hands them back). */
export interface ChunksDone {
  result: ChunkResult;
  raws: Uint8Array[];
}

export interface MethodRunner {
  run(job: MethodJob): Promise<Float32Array>;
  runChunks(job: ChunkJob): Promise<ChunksDone>;
  close(): Promise<void>;
}

/** Runs jobs on the calling thread. */
export const inlineRunner: MethodRunner = {
  run: async (job) => runMethod(job),
  runChunks: async (job) => ({ result: mergeStoredChunks(job), raws: job.raws }),
  close: async () => undefined,
};

type AnyJob = { kind: "method"; job: MethodJob } | { kind: "chunks"; job: ChunkJob };

export function workerPool(threads: number): MethodRunner {
  if (threads <= 1) return inlineRunner;
  const workers: { worker: Worker; busy: boolean }[] = [];
  type Resolve = (x: never) => void;
  const queue: { job: AnyJob; resolve: Resolve; reject: (e: Error) => void }[] = [];
  const pending = new Map<number, { resolve: Resolve; reject: (e: Error) => void; slot: (typeof workers)[number] }>();
  let nextId = 0;

  const pump = () => {
    for (const slot of workers) {
      if (slot.busy || queue.length === 0) continue;
      const item = queue.shift()!;
      const id = nextId++;
      slot.busy = true;
      pending.set(id, { resolve: item.resolve, reject: item.reject, slot });
      const j = item.job;
      const arrays = j.kind === "chunks" ? [...j.job.raws, ...(j.job.out ? [j.job.out] : [])] : [...j.job.tensors, ...(j.job.base ? [j.job.base] : [])];
      slot.worker.postMessage({ id, ...j }, [...new Set(arrays.map((t) => t.buffer as ArrayBuffer))]);
    }
  };

  for (let i = 0; i < threads; i++) {
    const worker = startModuleWorker(import.meta.url, "./worker");
    const slot = { worker, busy: false };
    worker.on("message", (msg: { id: number; out?: unknown; error?: string; name?: string }) => {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      slot.busy = false;
      if (msg.out) p.resolve(msg.out as never);
      else p.reject(msg.name === "MethodError" ? new MethodError(msg.error ?? "") : new Error(msg.error));
      pump();
    });
    const fail = (e: Error) => {
      for (const [id, p] of pending) if (p.slot === slot) {
        pending.delete(id);
        p.reject(e);
      }
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`merge worker exited (code ${code}) before finishing its tensor`)));
    workers.push(slot);
  }
  return {
    run(job) {
      return new Promise<Float32Array>((resolve, reject) => {
        queue.push({ job: { kind: "method", job }, resolve: resolve as Resolve, reject });
        pump();
      });
    },
    runChunks(job) {
      return new Promise<ChunksDone>((resolve, reject) => {
        queue.push({ job: { kind: "chunks", job }, resolve: resolve as Resolve, reject });
        pump();
      });
    },
    async close() {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    },
  };
}
