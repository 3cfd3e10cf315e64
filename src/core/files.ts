/** File-system conditions named once, so a catch can tell "absent" from a real fault. */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { InputFileError } from "./errors.js";

/** The one wording for an input path that does not exist, in every command and reader. */
export const NO_SUCH_FILE = "no such file or folder";

/**
 * The InputFileError for a failed read of `file`: "no such file or folder" when it is absent
 * (`hint` may say what to give instead), "is a folder" for a folder, else "cannot read (CODE)".
 */
export function readFailure(file: string, error: unknown, hint?: string): InputFileError {
  if (isFileMissing(error)) return new InputFileError(file, hint ? `${NO_SUCH_FILE} (${hint})` : NO_SUCH_FILE);
  if ((error as NodeJS.ErrnoException).code === "EISDIR") return new InputFileError(file, "is a folder; give a file");
  return new InputFileError(file, `cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
}

/** A text file's contents (UTF-8); a failed read is `readFailure`'s InputFileError naming it. */
export async function readTextFile(file: string, hint?: string): Promise<string> {
  try {
    return await fs.readFile(file, "utf8");
  } catch (error) {
    throw readFailure(file, error, hint);
  }
}

/** True for the errors that mean "there is no such file" (not for permissions or I/O faults). */
export function isFileMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/**
 * Copy `from` to `to` when `from` exists; false when it does not. Any other failure (unreadable
 * source, unwritable destination) is an InputFileError naming the source.
 */
export async function copyFileIfPresent(from: string, to: string): Promise<boolean> {
  try {
    await fs.copyFile(from, to);
    return true;
  } catch (error) {
    if (isFileMissing(error) && !(await exists(from))) return false;
    throw new InputFileError(from, `cannot be copied to ${to}: ${(error as Error).message}`);
  }
}

/** Whether `p` exists; a fault other than "missing" (permissions, I/O) throws. */
export async function exists(p: string): Promise<boolean> {
  try {
    await fs.stat(p);
    return true;
  } catch (error) {
    if (isFileMissing(error)) return false;
    throw error;
  }
}

/** Fail with the one missing-file wording unless `p` exists (for readers that word it otherwise). */
export async function requireInput(p: string, hint?: string): Promise<void> {
  await fs.stat(p).catch((error: unknown) => {
    throw readFailure(p, error, hint);
  });
}

/**
 * Whether `outer` is `inner` or a folder above it, after resolving symbolic links (a path that
 * does not exist yet is taken as written): replacing `outer` would delete `inner`.
 */
export async function pathHolds(outer: string, inner: string): Promise<boolean> {
  const real = (p: string) => fs.realpath(p).catch(() => path.resolve(p));
  const rel = path.relative(await real(outer), await real(inner));
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** Plain words for the file-system faults a user can fix (permissions, space, a file in the way). */
const FAULT_WORDS: Record<string, string> = {
  EACCES: "permission denied", EPERM: "operation not permitted", EROFS: "read-only file system",
  ENOSPC: "no space left on the device", EDQUOT: "disk quota exceeded", EISDIR: "is a folder",
  ENOTDIR: "a part of the path is a file, not a folder", EEXIST: "already exists", ENOTEMPTY: "is a folder that is not empty",
  EMFILE: "too many open files", EBUSY: "is busy",
};

/**
 * One line for a file-system fault that reached the top of a command ("PATH: permission denied
 * (EACCES, open)"), naming the output rather than its temporary sibling; undefined for anything
 * else, which stays a bug with its stack trace.
 */
export function describeFileSystemFault(error: unknown): string | undefined {
  const e = error as NodeJS.ErrnoException | undefined;
  if (typeof e?.code !== "string" || typeof e.path !== "string" || !(e.code in FAULT_WORDS)) return undefined;
  const words = e.code === "EEXIST" && e.syscall === "mkdir" ? "exists and is not a folder" : FAULT_WORDS[e.code];
  return `${outputPathOf(e.path)}: ${words} (${e.code}${e.syscall ? `, ${e.syscall}` : ""})`;
}

/** The output a path names: the target itself for an atomic write's temporary sibling (core/atomic.ts). */
export function outputPathOf(p: string): string {
  const temporary = /^\.(.+)\.\d+\.[0-9a-z]+\.tmp(\.old)?$/.exec(path.basename(p));
  return temporary ? path.join(path.dirname(p), temporary[1]) : p;
}

/** The file's text, or `undefined` when it does not exist; any other failure is an InputFileError. */
export async function readOptionalText(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, "utf8");
  } catch (error) {
    if (isFileMissing(error)) return undefined;
    throw new InputFileError(file, `cannot be read: ${(error as Error).message}`);
  }
}
