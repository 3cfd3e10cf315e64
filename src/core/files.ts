/** File-system conditions named once, so a catch can tell "absent" from a real fault. */
import { promises as fs } from "node:fs";
import { InputFileError } from "./errors.js";

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

/** The file's text, or `undefined` when it does not exist; any other failure is an InputFileError. */
export async function readOptionalText(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, "utf8");
  } catch (error) {
    if (isFileMissing(error)) return undefined;
    throw new InputFileError(file, `cannot be read: ${(error as Error).message}`);
  }
}
