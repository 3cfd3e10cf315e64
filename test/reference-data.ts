/**
 * The real reference data sets (public evaluation evidence, see shared/data/reference/README.md).
 * They are not part of the repository: in development they sit beside it
 * (`../shared/data/reference`, found from the repository upwards) or wherever
 * $COGEN_REFERENCE_DATA points; on a clean clone (CI) they are absent, and the tests that need
 * them skip with the reason in their title. test/fixtures/ holds small committed excerpts
 * where the licence allows, and test/fixtures/reference/ whole files (the MIT tokenizer.json files
 * of compat/tokenizers) under the same relative paths.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function findReferenceDir(): string | undefined {
  if (process.env.COGEN_REFERENCE_DATA) return path.resolve(process.env.COGEN_REFERENCE_DATA);
  for (let dir = path.dirname(REPO); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "shared", "data", "reference");
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

export const REFERENCE_DIR = findReferenceDir();

export interface ReferenceFile {
  /** Where the file is (or would be). */
  path: string;
  available: boolean;
  /** "" when available; otherwise " [skipped: … not found …]", to append to a test's title. */
  skipNote: string;
}

/** A file of the reference data, e.g. referenceFile("chembench", "binary_matrix.csv"). */
export function referenceFile(...parts: string[]): ReferenceFile {
  const relative = path.join(...parts);
  // A committed copy (test/fixtures/reference/, same relative path) serves where the licence allows
  // it, so a clean clone still runs those tests.
  const committed = path.join(REPO, "test", "fixtures", "reference", relative);
  const beside = REFERENCE_DIR ? path.join(REFERENCE_DIR, relative) : undefined;
  const file = beside && existsSync(beside) ? beside : existsSync(committed) ? committed : (beside ?? path.join("shared", "data", "reference", relative));
  const available = existsSync(file);
  // Said once on stderr too, so a run on a clean clone shows what it did not test.
  if (!available) console.warn(`reference data ${relative} not found beside the repository (set COGEN_REFERENCE_DATA): what needs it is skipped`);
  return {
    path: file,
    available,
    skipNote: available ? "" : ` [skipped: reference data ${relative} not found beside the repository; set COGEN_REFERENCE_DATA]`,
  };
}

/** A committed fixture file (test/fixtures/...). */
export function fixtureFile(...parts: string[]): string {
  return path.join(REPO, "test", "fixtures", ...parts);
}
