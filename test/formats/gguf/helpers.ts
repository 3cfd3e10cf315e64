import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** A fresh temporary directory; call the returned cleanup when done. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-gguf-"));
  return { dir, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}

/** Little-endian byte builder for hand-made (often hostile) GGUF files. */
export class Bytes {
  private parts: number[] = [];
  u8(v: number): this { this.parts.push(v & 0xff); return this; }
  u32(v: number): this { for (let i = 0; i < 4; i++) this.parts.push((v >>> (8 * i)) & 0xff); return this; }
  u64(v: number | bigint): this {
    let b = BigInt.asUintN(64, BigInt(v));
    for (let i = 0; i < 8; i++) { this.parts.push(Number(b & 0xffn)); b >>= 8n; }
    return this;
  }
  raw(bytes: ArrayLike<number>): this { for (let i = 0; i < bytes.length; i++) this.parts.push(bytes[i]); return this; }
  str(s: string): this { const b = new TextEncoder().encode(s); return this.u64(b.length).raw(b); }
  pad(alignment: number): this { while (this.parts.length % alignment) this.parts.push(0); return this; }
  get length(): number { return this.parts.length; }
  build(): Uint8Array { return Uint8Array.from(this.parts); }
}
