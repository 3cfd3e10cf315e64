import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** A fresh temporary folder; remove it with `cleanup`. */
export async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), "cogen-st-"));
}

export async function cleanup(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}

/**
 * A safetensors file from raw parts: the 8-byte length (defaults to the header's byte length),
 * the header bytes, then `data`. Lets tests build files no writer would produce.
 */
export function rawSafetensors(header: string | Uint8Array, data: Uint8Array | number = 0, length?: bigint): Uint8Array {
  const headerBytes = typeof header === "string" ? new TextEncoder().encode(header) : header;
  const dataBytes = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + headerBytes.length + dataBytes.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  out.set(dataBytes, 8 + headerBytes.length);
  return out;
}
