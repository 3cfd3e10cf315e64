/**
 * Reading the JSON files cogen consumes (config.json, tokenizer_config.json, manifests), one way:
 * an absent optional file is `undefined`; a file that exists but cannot be read, or is not JSON,
 * is an InputFileError naming it, never "no file". A leading byte-order mark is ignored.
 */
import { InputFileError } from "./errors.js";
import { readOptionalText } from "./files.js";

/** Parse JSON text from `file`; a syntax error is an InputFileError naming the file. */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw new InputFileError(file, `not valid JSON: ${(error as Error).message}`);
  }
}

/** The parsed file, or `undefined` when it does not exist. */
export async function readOptionalJsonFile(file: string): Promise<unknown> {
  const text = await readOptionalText(file);
  return text === undefined ? undefined : parseJsonText(text, file);
}

/** The parsed file, which must be a JSON object, or `undefined` when it does not exist. */
export async function readOptionalJsonObject(file: string): Promise<Record<string, unknown> | undefined> {
  const value = await readOptionalJsonFile(file);
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new InputFileError(file, "expected a JSON object");
  return value as Record<string, unknown>;
}

/** The parsed file, which must exist; `missing` says why it is needed. */
export async function readJsonFile(file: string, missing = "missing"): Promise<unknown> {
  const value = await readOptionalJsonFile(file);
  if (value === undefined) throw new InputFileError(file, missing);
  return value;
}

/** The parsed file, which must exist and be a JSON object; `missing` says why it is needed. */
export async function readJsonObject(file: string, missing = "missing"): Promise<Record<string, unknown>> {
  const value = await readOptionalJsonObject(file);
  if (value === undefined) throw new InputFileError(file, missing);
  return value;
}
