/**
 * safetensors I/O against plain file copies of the same bytes, side by side in one run.
 *
 *   npx tsx bench/safetensors-io.ts [--mib 1024] [--runs 3]
 *
 * Writes a ~1 GiB model (eight F16 tensors) with writeSafetensorsSharded, reads every tensor
 * back with openSafetensors().readRaw, and times fs.copyFile and a stream copy of the written
 * file. Reports medians and speed ratios (ratio = reference time / our time, so 1.0 is parity
 * and ≥ 0.7 is the target). The page cache is warm for every measurement: the files were just
 * written and fit in memory, and caches are not dropped (that needs root and disturbs other
 * processes); `sync` runs before each measurement so no operation pays for an earlier one's
 * dirty pages. Writes still go through the page cache like the copies. Temporary files are
 * removed at the end.
 */
import { createReadStream, createWriteStream, promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { pipeline } from "node:stream/promises";
import { f16ToF32 } from "../src/core/half.js";
import { Rng } from "../src/core/rng.js";
import { openSafetensors, writeSafetensorsSharded, type TensorPlanEntry } from "../src/formats/safetensors/index.js";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const totalMiB = flag("mib", 1024);
const runs = flag("runs", 3);
const tensorCount = 8;
const tensorBytes = Math.floor((totalMiB * 1024 * 1024) / tensorCount / 2) * 2;

/**
 * Flush dirty pages before each measurement so that no operation pays for the previous one's
 * writeback (the kernel throttles writers once too much is dirty). Clean pages stay cached.
 */
function settle(): void {
  execFileSync("sync");
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  settle();
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-bench-st-"));
  try {
    // One buffer of pseudo-random F16-ish bytes, reused for every tensor (held once).
    const data = new Uint8Array(tensorBytes);
    const words = new Uint32Array(data.buffer, 0, Math.floor(tensorBytes / 4));
    const rng = new Rng(1);
    for (let i = 0; i < words.length; i++) words[i] = rng.nextU32() & 0x3bff3bff; // finite halves
    const plan: TensorPlanEntry[] = Array.from({ length: tensorCount }, (_, i) => ({
      name: `model.layers.${i}.mlp.weight`,
      dtype: "F16",
      shape: [tensorBytes / 2 / 1024, 1024],
    }));
    const modelDir = path.join(dir, "model");
    const file = path.join(modelDir, "model.safetensors");
    const copy = path.join(dir, "copy.bin");
    const size = () => fs.stat(file).then((s) => s.size);

    const t: Record<string, number[]> = { write: [], read: [], readF32: [], copyFile: [], streamCopy: [], plainRead: [] };
    let bytes = 0;
    for (let r = 0; r < runs; r++) {
      // A fresh folder each run, like the copies' fresh targets (renaming over an existing file
      // makes ext4 start writeback at once, which a first write does not pay).
      await fs.rm(modelDir, { recursive: true, force: true });
      t.write.push(await time(() => writeSafetensorsSharded(modelDir, plan, async () => data)));
      bytes = await size();
      t.copyFile.push(await time(() => fs.copyFile(file, copy)));
      await fs.rm(copy);
      t.streamCopy.push(await time(() => pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), createWriteStream(copy))));
      await fs.rm(copy);
      t.read.push(
        await time(async () => {
          const st = await openSafetensors(file);
          for (const info of st.list()) await st.readRaw(info.name);
          await st.close();
        }),
      );
      t.plainRead.push(
        await time(async () => {
          // The same bytes read with plain positioned reads into one tensor-sized buffer per call.
          const handle = await fs.open(file, "r");
          const buffer = new Uint8Array(tensorBytes);
          for (let pos = 0; pos < bytes; pos += tensorBytes) await handle.read(buffer, 0, Math.min(tensorBytes, bytes - pos), pos);
          await handle.close();
        }),
      );
      if (r === 0) {
        t.readF32.push(
          await time(async () => {
            const st = await openSafetensors(file);
            for (const info of st.list()) await st.readF32(info.name);
            await st.close();
          }),
        );
      }
    }

    const gbps = (s: number): string => `${(bytes / s / 1e9).toFixed(2)} GB/s`;
    const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)]));
    console.log(`safetensors I/O: ${(bytes / 2 ** 20).toFixed(0)} MiB in ${tensorCount} F16 tensors, median of ${runs} runs`);
    console.log("page cache: warm for reads (files just written, never dropped); sync before each measurement");
    console.log(`machine: ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)}, node ${process.version}, tmp ${os.tmpdir()}`);
    const rows: [string, number][] = [
      ["write (writeSafetensorsSharded)", m.write],
      ["read  (readRaw every tensor)", m.read],
      ["ref: fs.copyFile", m.copyFile],
      ["ref: stream copy (pipeline)", m.streamCopy],
      ["ref: plain positioned reads", m.plainRead],
      ["info: readF32 (F16 → F32 decode), 1 run", m.readF32],
    ];
    for (const [label, s] of rows) console.log(`  ${label.padEnd(42)} ${s.toFixed(3)} s  ${gbps(s)}`);
    const ratio = (ref: number, ours: number): string => (ref / ours).toFixed(2);
    console.log("ratios (reference time / our time; ≥ 0.70 is the target):");
    console.log(`  write vs copyFile     ${ratio(m.copyFile, m.write)}`);
    console.log(`  write vs stream copy  ${ratio(m.streamCopy, m.write)}`);
    console.log(`  read  vs copyFile     ${ratio(m.copyFile, m.read)}`);
    console.log(`  read  vs stream copy  ${ratio(m.streamCopy, m.read)}`);
    console.log(`  read  vs plain reads  ${ratio(m.plainRead, m.read)}`);
    const check = f16ToF32(new Uint16Array(data.buffer, 0, 4));
    if (!check.every(Number.isFinite)) throw new Error("bench data is not finite");
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

await main();
