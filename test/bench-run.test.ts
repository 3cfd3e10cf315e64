/** bench/run.ts finds every benchmark, and its --quick sizes use flags the benchmarks take. */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { benchmarkNames, QUICK } from "../bench/run.js";

describe("npm run bench", () => {
  it("runs every bench/*.ts except itself and the child processes benchmarks start", () => {
    const names = benchmarkNames();
    expect(names).toContain("irt");
    expect(names).toContain("merge-ties");
    expect(names).not.toContain("run");
    expect(names.filter((n) => n.endsWith("-child"))).toEqual([]);
  });

  it("gives --quick sizes only to benchmarks that exist, with flags each one reads", () => {
    const names = benchmarkNames();
    for (const [name, args] of Object.entries(QUICK)) {
      expect(names, name).toContain(name);
      const source = readFileSync(path.join("bench", `${name}.ts`), "utf8");
      for (const flag of args.filter((a) => a.startsWith("--"))) {
        // Read as a parseArgs option (`name: { type`), through a helper (`("name"`), or literally ("--name").
        const key = flag.slice(2);
        expect(source, `${name} ${flag}`).toMatch(new RegExp(`\\b${key}: \\{ type|\\("${key}"|"${flag}"`));
      }
    }
  });
});
