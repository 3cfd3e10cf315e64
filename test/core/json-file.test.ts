import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputFileError } from "../../src/core/errors.js";
import { copyFileIfPresent, exists } from "../../src/core/files.js";
import { readJsonFile, readJsonObject, readOptionalJsonFile, readOptionalJsonObject } from "../../src/core/json-file.js";

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-json-file-"));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function failure(promise: Promise<unknown>): Promise<InputFileError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(InputFileError);
  return error as InputFileError;
}

describe("optional JSON files", () => {
  it("an absent file (or one under a missing folder) is undefined", async () => {
    expect(await readOptionalJsonFile(path.join(root, "absent.json"))).toBeUndefined();
    expect(await readOptionalJsonObject(path.join(root, "no-dir", "config.json"))).toBeUndefined();
  });

  it("parses, ignoring a byte-order mark", async () => {
    const file = path.join(root, "bom.json");
    await fs.writeFile(file, "\uFEFF{\"a\": 1}");
    expect(await readOptionalJsonObject(file)).toEqual({ a: 1 });
  });

  it("truncated JSON is an InputFileError naming the file", async () => {
    const file = path.join(root, "truncated.json");
    await fs.writeFile(file, "{\"num_hidden_layers\": 2, \"vocab");
    const error = await failure(readOptionalJsonFile(file));
    expect(error.file).toBe(file);
    expect(error.message).toContain("not valid JSON");
  });

  it("a file that exists but cannot be read is an error, not absent", async () => {
    const dir = path.join(root, "a-folder.json");
    await fs.mkdir(dir);
    const error = await failure(readOptionalJsonFile(dir));
    expect(error.message).toMatch(/a-folder\.json: cannot be read/);
  });

  it("an object is required where asked, and a required file must exist", async () => {
    const file = path.join(root, "list.json");
    await fs.writeFile(file, "[1, 2]");
    expect((await failure(readOptionalJsonObject(file))).message).toContain("expected a JSON object");
    expect((await failure(readJsonFile(path.join(root, "nope.json"), "needed for X"))).message).toContain("nope.json: no such file or folder (needed for X)");
    expect((await failure(readJsonObject(path.join(root, "nope.json")))).message).toMatch(/nope\.json: no such file or folder$/);
  });
});

describe("copyFileIfPresent and exists", () => {
  it("skips an absent source, copies a present one, and fails on any other fault", async () => {
    const src = path.join(root, "src.txt");
    await fs.writeFile(src, "x");
    expect(await copyFileIfPresent(path.join(root, "absent.txt"), path.join(root, "dst0.txt"))).toBe(false);
    expect(await copyFileIfPresent(src, path.join(root, "dst1.txt"))).toBe(true);
    expect(await fs.readFile(path.join(root, "dst1.txt"), "utf8")).toBe("x");
    // The source exists but the destination folder does not: a real failure, not "absent".
    await expect(copyFileIfPresent(src, path.join(root, "missing-dir", "dst.txt"))).rejects.toThrow(/src\.txt: cannot be copied to .*missing-dir/);
    // A folder where a file is expected.
    const folder = path.join(root, "folder-src");
    await fs.mkdir(folder);
    await expect(copyFileIfPresent(folder, path.join(root, "dst2.txt"))).rejects.toBeInstanceOf(InputFileError);
  });

  it("exists: false for absent paths, including under a file", async () => {
    const file = path.join(root, "plain.txt");
    await fs.writeFile(file, "");
    expect(await exists(file)).toBe(true);
    expect(await exists(path.join(root, "nothing"))).toBe(false);
    expect(await exists(path.join(file, "child"))).toBe(false);
  });
});
