/**
 * Child process of bench/merge-full.ts, so each measurement has its own peak RSS.
 *   read DIR...            read every tensor of every model (decoded to float32), nothing else
 *   raw DIR...             read every tensor's stored bytes, nothing else
 *   merge CONFIG OUT_DIR   cogen merge (IN_MEMORY=1: whole float32 tensors instead of chunks)
 * Prints {seconds, cpuSeconds, bytes, maxRssMiB} as JSON (CPU time of this process: every thread, user and system).
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { openHfWeights } from "../src/formats/safetensors/index.js";
import { runMerge } from "../src/merge/engine.js";

const [mode, ...args] = process.argv.slice(2);
const started = performance.now();
const cpuStart = process.cpuUsage();
let bytes = 0;
if (mode === "read" || mode === "raw") {
  for (const dir of args) {
    const src = await openHfWeights(dir);
    for (const t of src.list()) {
      const x = mode === "raw" ? await src.readRaw(t.name) : await src.readF32(t.name);
      bytes += t.byteLength;
      if (x.length === 0) throw new Error("empty");
    }
    await src.close();
  }
} else {
  const [config, out] = args;
  const threads = Number(process.env.THREADS ?? 1);
  const report = await runMerge({ config: await fs.readFile(config, "utf8"), baseDir: path.dirname(config), outDir: out, threads, inMemory: process.env.IN_MEMORY === "1" });
  bytes = report.inputBytesRead;
}
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuStart);
console.log(JSON.stringify({ seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, bytes, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
