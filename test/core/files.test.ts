import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { temporarySibling, writeFileAtomic } from "../../src/core/atomic.js";
import { describeFileSystemFault, outputPathOf } from "../../src/core/files.js";

const fault = (code: string, file: string, syscall = "open") => Object.assign(new Error(`${code}: x`), { code, path: file, syscall });

describe("describeFileSystemFault", () => {
  it("puts a fault a user can fix in plain words, naming the output instead of its temporary sibling", () => {
    const out = path.join("models", "merged");
    expect(describeFileSystemFault(fault("EACCES", path.join("models", `.merged.${4242}.lx3k9a.tmp`), "mkdir")))
      .toBe(`${out}: permission denied (EACCES, mkdir)`);
    expect(describeFileSystemFault(fault("ENOSPC", "report.html"))).toBe("report.html: no space left on the device (ENOSPC, open)");
    expect(describeFileSystemFault(fault("EEXIST", "a-file", "mkdir"))).toBe("a-file: exists and is not a folder (EEXIST, mkdir)");
  });

  it("leaves anything else alone (a bug keeps its stack trace)", () => {
    expect(describeFileSystemFault(new TypeError("x is undefined"))).toBeUndefined();
    expect(describeFileSystemFault(Object.assign(new Error("socket"), { code: "ECONNRESET" }))).toBeUndefined();
    expect(describeFileSystemFault(undefined)).toBeUndefined();
  });
});

describe("outputs", () => {
  it("names the target of an atomic write's temporary sibling, and any other path as it is", () => {
    const target = path.join("out", "report.html");
    expect(outputPathOf(temporarySibling(target))).toBe(target);
    expect(outputPathOf(temporarySibling(target) + ".old")).toBe(target);
    expect(outputPathOf(target)).toBe(target);
  });

  it("writeFileAtomic creates the folder it writes into", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-files-"));
    try {
      const target = path.join(dir, "new", "deeper", "ranking.json");
      await writeFileAtomic(target, "{}\n");
      expect(await fs.readFile(target, "utf8")).toBe("{}\n");
      expect(await fs.readdir(path.dirname(target))).toEqual(["ranking.json"]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
