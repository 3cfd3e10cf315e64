import { createRequire } from "node:module";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

/**
 * The trainer runs TensorFlow.js on its WebAssembly backend: one thread with SIMD in Node,
 * deterministic (the same inputs give the same bits), and several times faster than the pure
 * JavaScript CPU backend. tfjs-node (native TensorFlow) is not used: it cannot be installed
 * without network access to its prebuilt binaries.
 */
let ready: Promise<void> | undefined;

/** Select the wasm backend once per process (idempotent; concurrent callers share the set-up). */
export function initTrainingBackend(): Promise<void> {
  ready ??= (async () => {
    const require = createRequire(import.meta.url);
    const wasmFile = require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm");
    // Emscripten in Node reads the binaries from the file system: a plain directory path works.
    setWasmPaths(path.dirname(wasmFile) + path.sep);
    if (!(await tf.setBackend("wasm"))) {
      throw new Error(`tfjs: the wasm backend failed to start (binaries in ${pathToFileURL(path.dirname(wasmFile)).href})`);
    }
    await tf.ready();
  })();
  return ready;
}

export { tf };
