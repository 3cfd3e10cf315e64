import { promises as fs } from "node:fs";
import * as path from "node:path";
import { exists } from "./files.js";

export { exists };

/**
 * Outputs appear complete or not at all: write to a temporary sibling, then rename. A rename
 * within one directory is atomic on POSIX file systems.
 */
export function temporarySibling(target: string): string {
  const dir = path.dirname(target);
  const base = path.basename(target);
  return path.join(dir, `.${base}.${process.pid}.${Date.now().toString(36)}.tmp`);
}

/** Write a whole file atomically, creating its folder when needed (as writeDirAtomic does). */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  const tmp = temporarySibling(target);
  await fs.mkdir(path.dirname(path.resolve(target)), { recursive: true });
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, target);
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw error;
  }
}

/**
 * Build a directory atomically: `fill` writes into a temporary directory which is renamed to
 * `target` only when it succeeds. An existing `target` is replaced only after success.
 */
export async function writeDirAtomic<T>(target: string, fill: (tmpDir: string) => Promise<T>): Promise<T> {
  const tmp = temporarySibling(target);
  await fs.mkdir(path.dirname(path.resolve(target)), { recursive: true });
  await fs.mkdir(tmp);
  try {
    const result = await fill(tmp);
    const old = await exists(target) ? temporarySibling(target) + ".old" : undefined;
    if (old) await fs.rename(target, old);
    await fs.rename(tmp, target);
    if (old) await fs.rm(old, { recursive: true, force: true });
    return result;
  } catch (error) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw error;
  }
}
