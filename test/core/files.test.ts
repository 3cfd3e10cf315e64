import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { describeFileSystemFault } from "../../src/core/files.js";

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
