/**
 * Child process of bench/moe-build.ts, so each measurement has its own peak RSS.
 *   raw DIR...                  read every tensor's stored bytes of every model once, nothing else
 *   copy OUT BASE EXPERT...     read the bytes a mixture takes (the base's non-FFN tensors, each
 *                               expert's FFN) and write them to one file: the I/O floor
 *   moe CONFIG OUT_DIR [FORMAT] [THREADS]  cogen moe (hf or gguf; THREADS for the hidden gates, default 1)
 * Prints {seconds, cpuSeconds, bytes, maxRssMiB, gateSeconds, gateCpuSeconds} as JSON (CPU time of
 * every thread of the process: the main thread's and the I/O threads').
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { openHfWeights } from "../src/formats/safetensors/index.js";
import { buildMoe } from "../src/fuse/moe/build.js";

const [mode, ...args] = process.argv.slice(2);
const started = performance.now();
const cpuStarted = process.cpuUsage();
let bytes = 0;
let gateSeconds = 0;
let gateCpuSeconds = 0;
if (mode === "raw") {
  for (const dir of args) {
    const src = await openHfWeights(dir);
    for (const t of src.list()) {
      const x = await src.readRaw(t.name);
      bytes += t.byteLength;
      if (x.length === 0) throw new Error("empty");
    }
    await src.close();
  }
} else if (mode === "copy") {
  const [out, base, ...experts] = args;
  const handle = await fs.open(out, "w");
  for (const [i, dir] of [base, ...experts].entries()) {
    const src = await openHfWeights(dir);
    for (const t of src.list()) {
      if ((i === 0) === t.name.includes(".mlp.")) continue;
      const x = await src.readRaw(t.name);
      await handle.write(x);
      bytes += t.byteLength;
    }
    await src.close();
  }
  await handle.close();
  await fs.rm(out);
} else {
  const [config, out, format, threads] = args;
  const report = await buildMoe({ config: await fs.readFile(config, "utf8"), baseDir: path.dirname(config), outDir: out, outFormat: format === "gguf" ? "gguf" : "hf", threads: Number(threads ?? 1) });
  bytes = report.inputBytesRead;
  gateSeconds = report.gateSeconds;
  gateCpuSeconds = report.gateCpuSeconds;
}
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuStarted);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
console.log(JSON.stringify({ seconds, cpuSeconds, bytes, gateSeconds, gateCpuSeconds, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
