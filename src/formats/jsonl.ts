import { InputFileError } from "../core/errors.js";

/**
 * JSON Lines of objects, the one way cogen reads them: blank lines skipped, a leading byte-order
 * mark ignored, and every line that is not JSON, or not a JSON object, an InputFileError naming
 * the file and line. `what` completes "expected a JSON object …" (e.g. "with model, item and score").
 */
export function forEachJsonlObject(
  text: string,
  file: string,
  what: string,
  visit: (record: Record<string, unknown>, line: number) => void,
): void {
  const lines = text.split("\n");
  if (lines[0]?.charCodeAt(0) === 0xfeff) lines[0] = lines[0].slice(1);
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n].trim();
    if (raw === "") continue;
    const line = n + 1;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new InputFileError(file, `not valid JSON: ${(error as Error).message}`, line);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new InputFileError(file, `expected a JSON object ${what}`, line);
    }
    visit(value as Record<string, unknown>, line);
  }
}
