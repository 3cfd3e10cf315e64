/**
 * Artefacts reach the hub by upload (streamed to a temporary file while hashed and counted,
 * refused past the size limit or on a hash mismatch, then stored content-addressed) or by
 * reference (a path that must resolve, symlinks followed, inside the configured artefact root).
 * A GGUF is validated with cogen's own reader and llama.cpp requirement checks before anything
 * loads it: llama.cpp aborts the process on some malformed files.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, promises as fs } from "node:fs";
import * as path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CogenError } from "../../core/errors.js";
import { checkLlamaCppRequirements } from "../../formats/gguf/llama-check.js";
import { openGguf } from "../../formats/gguf/reader.js";
import type { ArtefactKind } from "../api-types.js";
import { HubApiError, invalid } from "./errors.js";

export const SHA256_PATTERN = /^[0-9a-f]{64}$/;

export function hashMismatch(expected: string, actual: string): HubApiError {
  return new HubApiError(400, "hash_mismatch", `artefact sha256 is ${actual}, not the ${expected} given`);
}

export async function sha256File(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), bytes };
}

/** An HF folder's hash: sha256 over its files' relative paths and hashes, in sorted order. */
export async function sha256Folder(dir: string): Promise<{ sha256: string; bytes: number }> {
  const files: string[] = [];
  const walk = async (at: string): Promise<void> => {
    for (const entry of await fs.readdir(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) files.push(full);
    }
  };
  await walk(dir);
  files.sort();
  const hash = createHash("sha256");
  let bytes = 0;
  for (const file of files) {
    const one = await sha256File(file);
    hash.update(`${path.relative(dir, file).split(path.sep).join("/")}\u0000${one.sha256}\n`);
    bytes += one.bytes;
  }
  return { sha256: hash.digest("hex"), bytes };
}

/** Resolve `reference` inside `root`; refuse anything that escapes it (.., absolute paths, symlinks out). */
export async function confinedPath(root: string | undefined, reference: string, field: string): Promise<string> {
  if (root === undefined) throw invalid([`${field}: registration by reference is off (the hub has no artefact_root)`]);
  if (reference.includes("\u0000") || path.isAbsolute(reference)) throw invalid([`${field}: must be a path relative to the artefact root`]);
  const realRoot = await fs.realpath(root);
  let real: string;
  try {
    real = await fs.realpath(path.resolve(realRoot, reference));
  } catch {
    throw invalid([`${field}: '${reference}' does not exist under the artefact root`]);
  }
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) throw invalid([`${field}: '${reference}' resolves outside the artefact root`]);
  return real;
}

/** Refuse a file that is not a GGUF llama.cpp can load (kind gguf) or not a readable GGUF (a LoRA adapter). */
export async function validateGguf(file: string, kind: ArtefactKind, name: string): Promise<void> {
  let gguf;
  try {
    gguf = await openGguf(file);
  } catch (error) {
    if (!CogenError.isInstance(error)) throw error;
    throw invalid([`${name}: not a valid GGUF: ${error.message.replace(file, "").replace(/^: /, "")}`]);
  }
  try {
    const problems = kind === "gguf" ? checkLlamaCppRequirements(gguf) : [];
    if (problems.length) throw invalid(problems.map((p) => `${name}: llama.cpp cannot load it: ${p}`));
  } finally {
    await gguf.close();
  }
}

/**
 * Stream an upload to `<dir>/<sha256>.gguf`. Refused with 413 past `maxBytes` (nothing kept),
 * with 400 when its hash is not `expected`, and with 400 when it is not a valid GGUF.
 */
export async function receiveUpload(body: Readable, dir: string, maxBytes: number, expected: string, kind: ArtefactKind): Promise<{ path: string; sha256: string; bytes: number }> {
  await fs.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.upload-${randomBytes(8).toString("hex")}.tmp`);
  const hash = createHash("sha256");
  let bytes = 0;
  try {
    await pipeline(
      body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          bytes += chunk.length;
          if (bytes > maxBytes) throw new HubApiError(413, "too_large", `upload is larger than the hub's limit of ${maxBytes} bytes`);
          hash.update(chunk);
          yield chunk;
        }
      },
      createWriteStream(tmp),
    );
    const sha256 = hash.digest("hex");
    if (sha256 !== expected) throw hashMismatch(expected, sha256);
    await validateGguf(tmp, kind, "upload");
    const target = path.join(dir, `${sha256}.gguf`);
    await fs.rename(tmp, target);
    return { path: target, sha256, bytes };
  } finally {
    await fs.rm(tmp, { force: true });
  }
}
