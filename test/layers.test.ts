/**
 * The layer rule (docs/ARCHITECTURE.md, Layout): a folder of src/ imports only from its own level
 * or below, and edge packages only from the one module that adapts them. Every import in src/
 * (static, dynamic, re-export) is checked; a failure names the file and the import.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const SRC = path.resolve(import.meta.dirname, "../src");

/** Lowest first; folders on one line share a level and may import each other. */
const LEVELS: readonly (readonly string[])[] = [
  ["core"],
  ["formats"],
  ["rank", "merge", "models"],
  ["zoo"],
  ["eval"],
  ["fuse", "adapt"],
  ["serve"],
  ["unify"],
  ["demo", "hub"],
  ["cli"],
];
/** Packages that only one module may import (the edge adapter). */
const EDGES: Record<string, string> = {
  bullmq: "eval/jobs/bullmq.ts",
  "better-sqlite3": "hub/store/sqlite.ts",
  pg: "hub/store/postgres.ts",
};
/** src/index.ts re-exports every layer: it sits above them all. */
const ROOT_FILES = new Set(["index.ts"]);

function levelOf(folder: string): number | undefined {
  const i = LEVELS.findIndex((level) => level.includes(folder));
  return i < 0 ? undefined : i;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(full)));
    else if (/\.(ts|mts|cts)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(full);
  }
  return out;
}

/** Every violation of the rule in one file's text (`file` relative to src/, with /). */
function layerViolations(file: string, text: string): string[] {
  const problems: string[] = [];
  const folder = file.split("/")[0];
  const own = levelOf(folder);
  if (!ROOT_FILES.has(file) && (own === undefined || !file.includes("/"))) {
    return [`src/${file}: folder '${folder}' has no place in the layer rule (add it to test/layers.test.ts and docs/ARCHITECTURE.md)`];
  }
  for (const { fileName: spec } of ts.preProcessFile(text, true, true).importedFiles) {
    if (spec.startsWith(".")) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      if (target.startsWith("..")) {
        problems.push(`src/${file}: import '${spec}' leaves src/`);
        continue;
      }
      if (ROOT_FILES.has(file)) continue;
      const targetFolder = target.split("/")[0];
      const theirs = levelOf(targetFolder);
      if (ROOT_FILES.has(target.replace(/\.js$/, ".ts"))) problems.push(`src/${file}: import '${spec}' reaches the library root`);
      else if (theirs === undefined) problems.push(`src/${file}: import '${spec}' reaches '${targetFolder}', which has no place in the layer rule`);
      else if (theirs > own!) problems.push(`src/${file}: import '${spec}' points up (${folder} may not import ${targetFolder})`);
    } else {
      const pkg = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
      const edge = EDGES[pkg];
      if (edge !== undefined && edge !== file) problems.push(`src/${file}: import '${spec}' (only src/${edge} may import ${pkg})`);
    }
  }
  return problems;
}

describe("layers", () => {
  it("every import in src/ points down or sideways, and edge packages stay in their adapter", async () => {
    const problems: string[] = [];
    for (const full of await sourceFiles(SRC)) {
      const file = path.relative(SRC, full).split(path.sep).join("/");
      problems.push(...layerViolations(file, await fs.readFile(full, "utf8")));
    }
    expect(problems).toEqual([]);
  });

  it("names the file and the import of an upward import, a dynamic one, an unknown folder and an edge package", () => {
    expect(layerViolations("formats/x.ts", `import { findMethod } from "../merge/methods/registry.js";`))
      .toEqual(["src/formats/x.ts: import '../merge/methods/registry.js' points up (formats may not import merge)"]);
    expect(layerViolations("zoo/build/y.ts", `const m = await import("../../eval/runner.js");`))
      .toEqual(["src/zoo/build/y.ts: import '../../eval/runner.js' points up (zoo may not import eval)"]);
    expect(layerViolations("eval/z.ts", `export * from "../jobs/queue.js";`)).toEqual([
      "src/eval/z.ts: import '../jobs/queue.js' reaches 'jobs', which has no place in the layer rule",
    ]);
    expect(layerViolations("serve/q.ts", `import { Queue } from "bullmq";`)).toEqual(["src/serve/q.ts: import 'bullmq' (only src/eval/jobs/bullmq.ts may import bullmq)"]);
    expect(layerViolations("jobs/a.ts", "")).toHaveLength(1);
    expect(layerViolations("fuse/router/r.ts", `import type { X } from "../../index.js";`)).toEqual(["src/fuse/router/r.ts: import '../../index.js' reaches the library root"]);
  });

  it("allows its own level, the levels below, and the library root importing everything", () => {
    expect(layerViolations("merge/a.ts", `import "../models/pool.js"; import "../rank/ranking.js"; import "../core/errors.js"; import "./b.js";`)).toEqual([]);
    expect(layerViolations("cli/main.ts", `import "../demo/zoo.js"; import "yaml";`)).toEqual([]);
    expect(layerViolations("index.ts", `export * from "./cli/main.js";`)).toEqual([]);
    expect(layerViolations("eval/jobs/bullmq.ts", `import { Queue } from "bullmq";`)).toEqual([]);
  });
});
