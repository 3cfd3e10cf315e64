import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import * as path from "node:path";

/** The cogen package's root folder (where package.json is), from src/ or from the built dist/. */
export function packageRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("cogen's package.json was not found above " + import.meta.dirname);
    dir = parent;
  }
  return dir;
}

/** The cogen package's version, from its package.json. */
export async function packageVersion(): Promise<string> {
  const json = JSON.parse(await readFile(path.join(packageRoot(), "package.json"), "utf8")) as { version?: unknown };
  return typeof json.version === "string" ? json.version : "unknown";
}
