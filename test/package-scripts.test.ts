/** The npm scripts name files that exist (`npm run bench` once named a bench/run.ts that did not). */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

describe("package.json scripts", () => {
  it("run files that are in the repository", () => {
    const scripts = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")).scripts as Record<string, string>;
    const files = Object.values(scripts).flatMap((command) => command.split(/\s+/).filter((word) => /^[\w./-]+\.(ts|js|json)$/.test(word)));
    expect(files).toContain("bench/run.ts");
    for (const file of files) expect(existsSync(path.join(REPO, file)), file).toBe(true);
  });
});
